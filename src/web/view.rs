//! What the page shows: the data of each tab, fetched through the same operations as the
//! REST API, shaped for the template. The new token of a creation is the only secret a
//! page ever holds, and only the page that answers the creation.

use askama::Template;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::auth::Caller;
use super::error::ApiError;
use super::ops::run;
use super::types::{CreatedToken, FailureObject, TokenObject, TokenPage};
use super::Web;
use apitoken_wire::admin::{ListFilter, Request};

/// A token as a table row.
pub struct TokenRow {
    pub id: String,
    pub user: String,
    pub name: String,
    pub created: String,
    pub expires: String,
    pub expires_soon: bool,
    pub last_used: String,
    pub last_ip: String,
    pub state: String,
    pub scopes: String,
}

/// The token just made, shown once.
pub struct CreatedView {
    pub id: String,
    pub user: String,
    pub name: String,
    pub expires: String,
    pub token: zeroize::Zeroizing<String>,
}

/// One setting's row; `choices` empty for free text.
pub struct SettingRow {
    pub key: String,
    pub value: String,
    pub choices: Vec<String>,
}

/// The whole page.
#[derive(Template, Default)]
#[template(path = "page.html")]
pub struct PageView {
    pub prefix: String,
    pub user: Option<String>,
    pub admin: bool,
    pub csrf: String,
    pub tab: String,
    pub error: Option<String>,
    pub message: Option<String>,
    pub created: Option<CreatedView>,
    pub confirm: Option<TokenRow>,
    pub can_create: bool,
    pub validity: Vec<(String, String)>,
    pub tokens: Vec<TokenRow>,
    pub filter_user: String,
    pub filter_name: String,
    pub filter_expiring: String,
    pub settings: Vec<SettingRow>,
    pub audit: Vec<(String, String, String)>,
    pub failures: Vec<FailureObject>,
}

/// The page's query: which tab, and its filters.
#[derive(serde::Deserialize, Default)]
pub struct PageQuery {
    pub tab: Option<String>,
    pub confirm: Option<String>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub expiring: Option<String>,
    /// A fixed message code after a change (`revoked`, `saved`, ...).
    pub done: Option<String>,
}

const SOON: i64 = 7 * 24 * 3600;

fn row(t: TokenObject, now: i64) -> TokenRow {
    let expires_at = t.expires.as_deref().and_then(|e| {
        time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
    });
    TokenRow {
        expires_soon: t.state == "active"
            && expires_at.is_some_and(|e| e.unix_timestamp() - now < SOON),
        expires: t.expires.unwrap_or_else(|| "never".into()),
        last_used: t.last_used.unwrap_or_else(|| "never".into()),
        last_ip: t.last_ip.unwrap_or_default(),
        id: t.id,
        user: t.user,
        name: t.name,
        created: t.created,
        state: t.state,
        scopes: t.scopes,
    }
}

/// The tab a caller may see: the admin tabs fall back to their own tokens.
pub fn tab_for(caller: &Caller, asked: Option<&str>) -> &'static str {
    match asked {
        Some("manager") if caller.peer.admin => "manager",
        Some("failures") if caller.peer.admin => "failures",
        Some("settings") => "settings",
        Some("audit") => "audit",
        _ => "mine",
    }
}

fn done_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "revoked" => "The token was revoked.",
        "deleted" => "Every token of the user was deleted.",
        "saved" => "The setting was saved.",
        "reset" => "The failure count was reset.",
        _ => return None,
    };
    Some(text.to_string())
}

/// The page of `tab` for the caller.
pub async fn build(
    web: &Arc<Web>,
    caller: &Caller,
    prefix: String,
    q: PageQuery,
) -> Result<PageView, ApiError> {
    let tab = tab_for(caller, q.tab.as_deref());
    let me = super::ops::me(web, caller);
    let mut v = PageView {
        prefix,
        user: Some(me.user),
        admin: me.admin,
        csrf: caller.csrf.clone().unwrap_or_default(),
        tab: tab.to_string(),
        message: done_text(q.done.as_deref()),
        can_create: me.can_create,
        validity: me
            .allowed_validity
            .iter()
            .rev()
            .map(|v| (v.clone(), validity_label(v)))
            .collect(),
        filter_user: q.user.clone().unwrap_or_default(),
        filter_name: q.name.clone().unwrap_or_default(),
        filter_expiring: q.expiring.clone().unwrap_or_default(),
        ..PageView::default()
    };
    let now = web.engine.clock().now();
    if let Some(id) = q.confirm.clone() {
        let t: TokenObject = run(web, caller, Request::Show { id }).await?;
        v.confirm = Some(row(t, now));
    }
    match tab {
        "mine" | "manager" => v.tokens = tokens(web, caller, tab, &q, now).await?,
        "settings" => v.settings = settings(web, caller).await?,
        "audit" => v.audit = audit(web, caller).await?,
        _ => v.failures = run(web, caller, Request::Failures { user: None }).await?,
    }
    Ok(v)
}

fn validity_label(v: &str) -> String {
    match v {
        "6m" => "6 months",
        "1y" => "1 year",
        "2y" => "2 years",
        _ => "never expires",
    }
    .to_string()
}

async fn tokens(
    web: &Arc<Web>,
    caller: &Caller,
    tab: &str,
    q: &PageQuery,
    now: i64,
) -> Result<Vec<TokenRow>, ApiError> {
    let manager = tab == "manager";
    let user = q.user.clone().filter(|u| manager && !u.is_empty());
    let filter = ListFilter {
        name: q.name.clone().filter(|n| manager && !n.is_empty()),
        expiring: q.expiring.clone().filter(|e| manager && !e.is_empty()),
        limit: Some(1000),
        ..ListFilter::default()
    };
    let req = Request::ListPage {
        all: manager && user.is_none(),
        user,
        filter,
    };
    let page: TokenPage = run(web, caller, req).await?;
    Ok(page.tokens.into_iter().map(|t| row(t, now)).collect())
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

async fn settings(web: &Arc<Web>, caller: &Caller) -> Result<Vec<SettingRow>, ApiError> {
    let map: BTreeMap<String, serde_json::Value> = run(web, caller, Request::Settings).await?;
    Ok(crate::settings::KEYS
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (*k, v)))
        .map(|(k, v)| {
            let value = text(v);
            let choices: Vec<String> = crate::settings::descriptor(k)
                .map_or(&[][..], |d| d.choices)
                .iter()
                .map(|c| c.to_string())
                .collect();
            SettingRow {
                key: k.to_string(),
                value,
                choices,
            }
        })
        .collect())
}

async fn audit(web: &Arc<Web>, caller: &Caller) -> Result<Vec<(String, String, String)>, ApiError> {
    let req = Request::Audit {
        user: None,
        since: None,
        limit: Some(200),
        before: None,
    };
    let events: Vec<BTreeMap<String, serde_json::Value>> = run(web, caller, req).await?;
    Ok(events
        .into_iter()
        .map(|e| {
            let details = e
                .iter()
                .filter(|(k, _)| !["time", "event", "seq"].contains(&k.as_str()))
                .map(|(k, v)| format!("{k}={}", text(v)))
                .collect::<Vec<_>>()
                .join(" ");
            let get = |k: &str| e.get(k).map(text).unwrap_or_default();
            (get("time"), get("event"), details)
        })
        .collect())
}

/// The creation's page: the token, once.
pub fn created(c: CreatedToken) -> CreatedView {
    CreatedView {
        id: c.info.id,
        user: c.info.user,
        name: c.info.name,
        expires: c.info.expires.unwrap_or_else(|| "never".into()),
        token: c.token,
    }
}
