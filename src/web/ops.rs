//! Requests shared by the REST API and the page, translated into `admin.sock` requests.

use serde::de::DeserializeOwned;
use std::sync::Arc;

use super::auth::Caller;
use super::error::ApiError;
use super::types::*;
use super::Web;
use apitoken_wire::admin::Request;

/// Runs one operation for the caller on a blocking thread (the store is synchronous).
pub async fn run<T: DeserializeOwned>(
    web: &Web,
    caller: &Caller,
    req: Request,
) -> Result<T, ApiError> {
    let (engine, peer) = (web.engine.clone(), caller.peer.clone());
    let raw = tokio::task::spawn_blocking(move || crate::admin::dispatch(&engine, &peer, req))
        .await
        .map_err(|_| ApiError::internal())??;
    // Through a wiped buffer: a created token's reply holds the secret.
    let bytes =
        zeroize::Zeroizing::new(serde_json::to_vec(&raw).map_err(|_| ApiError::internal())?);
    serde_json::from_slice(&bytes).map_err(|e| {
        eprintln!("apitokend: web: unexpected reply shape: {e}");
        ApiError::internal()
    })
}

/// The validity choices the settings allow, in the order the page offers them.
pub fn allowed_validity(web: &Web) -> Vec<String> {
    let choices = web.engine.validity_choices();
    choices.into_iter().map(String::from).collect()
}

/// Who the caller is and what they may do.
pub fn me(web: &Web, caller: &Caller) -> Me {
    Me {
        user: caller.peer.user.clone(),
        admin: caller.peer.admin,
        csrf: caller.csrf.clone(),
        allowed_validity: allowed_validity(web),
        can_create: crate::admin::actor(&caller.peer).may_create(&web.engine),
    }
}

pub async fn create(
    web: &Arc<Web>,
    caller: &Caller,
    body: CreateBody,
) -> Result<CreatedToken, ApiError> {
    let req = Request::Create {
        name: body.name,
        expires: body.expires,
        user: body.user,
        scopes: body.scopes.map(|s| s.join(",")),
        paths: body.paths,
        networks: body.networks,
    };
    run(web, caller, req).await
}

#[derive(serde::Deserialize)]
struct Deleted {
    deleted: Vec<String>,
}

pub async fn delete(web: &Arc<Web>, caller: &Caller, id: String) -> Result<(), ApiError> {
    let d: Deleted = run(
        web,
        caller,
        Request::Delete {
            ids: vec![id.clone()],
        },
    )
    .await?;
    if d.deleted.is_empty() {
        return Err(ApiError::not_found(format!("no token with id {id}")));
    }
    Ok(())
}

pub async fn set_setting(
    web: &Arc<Web>,
    caller: &Caller,
    key: String,
    value: SettingValue,
) -> Result<SettingsObject, ApiError> {
    let value = match value {
        SettingValue::Text(t) => t,
        SettingValue::Number(n) => n.to_string(),
        SettingValue::Flag(true) => "on".into(),
        SettingValue::Flag(false) => "off".into(),
        SettingValue::List(l) => l.join(","),
    };
    let _: serde_json::Value = run(web, caller, Request::SettingsSet { key, value }).await?;
    run(web, caller, Request::Settings).await
}

/// One page of the audit trail, newest first; `after` is the previous page's `next`, the
/// `seq` of its last event, so a page costs `limit` rows however deep it is.
pub async fn audit(web: &Arc<Web>, caller: &Caller, q: AuditQuery) -> Result<AuditPage, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_bounds",
            "limit must be 1 to 1000",
        ));
    }
    let before = match q.after.as_deref() {
        None => None,
        Some(c) => Some(c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::malformed("after takes the next value of the previous page")
        })?),
    };
    let req = Request::Audit {
        user: q.user,
        since: q.since,
        limit: Some(limit + 1),
        before,
    };
    let mut events: Vec<serde_json::Value> = run(web, caller, req).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next = if more {
        events
            .last()
            .and_then(|e| e["seq"].as_i64())
            .map(|s| s.to_string())
    } else {
        None
    };
    Ok(AuditPage { events, next })
}
