//! The JSON shapes of the REST API. The OpenAPI document is generated from these types,
//! and every answer is serialised from them, so the two cannot drift apart.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use zeroize::Zeroizing;

/// `POST /api/v1/session`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub user: String,
    #[schema(value_type = String, format = Password)]
    pub password: Zeroizing<String>,
}

/// A new session; `csrf` goes into `X-CSRF-Token` on every change.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    pub user: String,
    pub admin: bool,
    pub csrf: String,
}

/// `GET /api/v1/me`.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: String,
    pub admin: bool,
    /// Present when the caller came with a session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// The validity choices `max-validity` allows (`Nd` and dates up to the same limit too).
    pub allowed_validity: Vec<String>,
    /// False while `admin-only-create` is on for a regular user.
    pub can_create: bool,
}

/// A token's metadata (SPEC §6); never the secret.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct TokenObject {
    pub id: String,
    pub user: String,
    pub name: String,
    pub created: String,
    pub created_by: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub last_ip: Option<String>,
    /// `active`, `expired` or `rotated`.
    pub state: String,
    /// Comma-separated: `read`, `write`, `login`, `manage`.
    pub scopes: String,
    pub paths: Vec<String>,
    pub networks: Vec<String>,
    pub last_ips: Vec<String>,
    pub rotated_to: Option<String>,
    pub revoke_at: Option<String>,
}

/// A token just made: its metadata and the token itself, shown this once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenObject,
    #[schema(value_type = String)]
    pub token: Zeroizing<String>,
}

/// One page of tokens; `next` is the cursor of the following page.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenPage {
    pub tokens: Vec<TokenObject>,
    pub next: Option<String>,
}

/// `GET /api/v1/tokens` parameters: the owner, the fleet filters, the order and the page.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokensQuery {
    /// Another user's tokens (admins).
    pub user: Option<String>,
    /// Every user's tokens (admins).
    #[serde(default)]
    pub all: bool,
    /// Substring of the name.
    pub name: Option<String>,
    pub created_before: Option<String>,
    pub created_after: Option<String>,
    pub last_used_before: Option<String>,
    pub last_used_after: Option<String>,
    pub expires_before: Option<String>,
    /// Expiring within this duration from now, e.g. `30d`.
    pub expiring: Option<String>,
    /// `read`, `write` or `login`.
    pub scope: Option<String>,
    #[serde(default)]
    pub never_used: bool,
    /// `created`, `expires`, `last-used`, `user`, `name` or `id`.
    pub sort: Option<String>,
    #[serde(default)]
    pub reverse: bool,
    /// Page size, 1 to 1000 (100).
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

/// `POST /api/v1/tokens`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub name: Option<String>,
    /// `never`, `6m`, `1y`, `2y`, `Nd` or `YYYY-MM-DD` (the longest allowed).
    pub expires: Option<String>,
    /// Owner (admins, for another user).
    pub user: Option<String>,
    /// `read`, `write`, `login`, `manage` (read, write and login).
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub networks: Vec<String>,
}

/// `PATCH /api/v1/tokens/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    pub name: String,
}

/// `POST /api/v1/tokens/{id}/rotate`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// How long the old token keeps working (`0`, `15m`, `1h`).
    pub grace: Option<String>,
    pub expires: Option<String>,
}

/// `DELETE /api/v1/users/{user}/tokens`.
#[derive(Serialize, ToSchema)]
pub struct DeletedAll {
    pub count: usize,
    pub ids: Vec<String>,
}

/// The system-wide settings (SPEC §5).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct SettingsObject {
    pub max_validity: String,
    pub allowed_networks: Vec<String>,
    pub password_auth: String,
    pub admin_only_create: String,
    pub regular_users_use_tokens: String,
    pub lockout_threshold: u64,
    pub lockout_window: String,
    pub lockout_duration: String,
    pub max_tokens_per_user: u64,
    pub prune_after: String,
    pub user_tokens_read_only: String,
}

/// A setting's new value: text as `apitoken settings set` takes it, a number, a flag, or
/// a list (for `allowed-networks`).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SettingValue {
    Text(String),
    Number(u64),
    Flag(bool),
    List(Vec<String>),
}

/// `PUT /api/v1/settings/{key}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingBody {
    pub value: SettingValue,
}

/// One user's failure count and lock.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct FailureObject {
    pub user: String,
    pub failures: u32,
    /// RFC 3339, `reset` (until an admin resets it), or null.
    pub locked_until: Option<String>,
}

/// `GET /api/v1/audit` parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub user: Option<String>,
    /// A duration back from now, e.g. `7d`.
    pub since: Option<String>,
    /// Page size, 1 to 1000 (100).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// One page of audit events, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Each has `time`, `event`, `seq` (its position in the trail) and the keys of SPEC §10.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitoken_wire::admin::{self as wire, Secret};
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    /// The JSON of `reply` as the REST API answers it: read as `T`, written again.
    fn as_rest<T: Serialize + DeserializeOwned>(reply: &impl Serialize) -> Value {
        let rest: T = serde_json::from_value(serde_json::to_value(reply).unwrap()).unwrap();
        serde_json::to_value(rest).unwrap()
    }

    fn info() -> wire::TokenInfo {
        let some = |s: &str| Some(s.to_string());
        wire::TokenInfo {
            id: "abcd1234".into(),
            user: "alice".into(),
            name: "laptop".into(),
            created: "2026-01-02T03:04:05Z".into(),
            created_by: "root".into(),
            expires: some("2027-01-02T03:04:05Z"),
            last_used: some("2026-02-02T03:04:05Z"),
            last_ip: some("192.0.2.1"),
            state: "rotated".into(),
            scopes: "read,write".into(),
            paths: vec!["/api/".into()],
            networks: vec!["10.0.0.0/8".into()],
            last_ips: vec!["192.0.2.1".into(), "192.0.2.2".into()],
            rotated_to: some("efgh5678"),
            revoke_at: some("2026-03-02T03:04:05Z"),
        }
    }

    /// The REST shapes are declared apart from the admin replies they are read from
    /// (docs/decisions.md); a field added to a reply must reach the REST answer too.
    #[test]
    fn rest_shapes_read_from_admin_replies_keep_every_field() {
        let reply = serde_json::to_value(info()).unwrap();
        assert_eq!(as_rest::<TokenObject>(&info()), reply);
        let page = wire::TokenPage {
            tokens: vec![info()],
            next: Some("cursor".into()),
        };
        assert_eq!(
            as_rest::<TokenPage>(&page),
            serde_json::to_value(&page).unwrap()
        );
        let created = wire::Created {
            info: info(),
            token: Secret(Zeroizing::new("atk_abcd1234_secret".into())),
        };
        assert_eq!(
            as_rest::<CreatedToken>(&created),
            serde_json::to_value(&created).unwrap()
        );
        let failure = wire::FailureInfo {
            user: "alice".into(),
            failures: 3,
            locked_until: Some("reset".into()),
        };
        assert_eq!(
            as_rest::<FailureObject>(&failure),
            serde_json::to_value(&failure).unwrap()
        );
    }
}
