//! The REST API of SPEC §11. Handlers parse, authenticate, hand the request to the same
//! `admin::dispatch` that serves `admin.sock` (which authorizes, commits, audits and
//! invalidates), and serialise the typed answer.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::sync::Arc;

use super::auth::{self, Caller};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::ops::run;
use super::session;
use super::types::*;
use super::Web;
use crate::http::PeerAddr;
use apitoken_wire::admin::{ListFilter, Request};

impl FromRequestParts<Arc<Web>> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Caller, ApiError> {
        let peer = parts
            .extensions
            .get::<PeerAddr>()
            .copied()
            .unwrap_or(PeerAddr::Unix);
        auth::caller(web, peer, &parts.method, &parts.headers, None).await
    }
}

/// 422 for a parameter outside its range.
pub fn out_of_bounds(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "out_of_bounds", message)
}

#[utoipa::path(post, path = "/api/v1/session", request_body = LoginBody, tag = "session",
    responses((status = 201, body = SessionInfo, description = "logged in; sets the apitokend_session cookie"),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn login(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let s = session::login(&web, peer, &headers, &body.user, body.password.as_bytes()).await?;
    let mut resp = (
        StatusCode::CREATED,
        Json(SessionInfo {
            user: s.user,
            admin: s.admin,
            csrf: s.csrf,
        }),
    )
        .into_response();
    session::set_cookie(resp.headers_mut(), s.set_cookie);
    Ok(resp)
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "logged out; the cookie is cleared"),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn logout(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    _caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    session::logout(&web, &headers).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    session::set_cookie(
        resp.headers_mut(),
        session::cookie(&web, peer, &headers, None),
    );
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, body = Me), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)))]
pub async fn me(State(web): State<Arc<Web>>, caller: Caller) -> Json<Me> {
    Json(super::ops::me(&web, &caller))
}

#[utoipa::path(get, path = "/api/v1/tokens", params(TokensQuery), tag = "tokens",
    responses((status = 200, body = TokenPage), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn list_tokens(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TokensQuery>,
) -> Result<Json<TokenPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(out_of_bounds("limit must be 1 to 1000"));
    }
    let filter = ListFilter {
        name: q.name,
        created_before: q.created_before,
        created_after: q.created_after,
        last_used_before: q.last_used_before,
        last_used_after: q.last_used_after,
        expires_before: q.expires_before,
        expiring: q.expiring,
        scope: q.scope,
        never_used: q.never_used,
        sort: q.sort,
        reverse: q.reverse,
        limit: Some(limit),
        after: q.after,
    };
    let req = Request::ListPage {
        user: q.user,
        all: q.all,
        filter,
    };
    Ok(Json(run(&web, &caller, req).await?))
}

#[utoipa::path(post, path = "/api/v1/tokens", request_body = CreateBody, tag = "tokens",
    responses((status = 201, body = CreatedToken, description = "the token is in `token`, shown this once"),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody), (status = 415, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn create_token(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let created = super::ops::create(&web, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), tag = "tokens",
    responses((status = 200, body = TokenObject), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn show_token(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenObject>, ApiError> {
    Ok(Json(run(&web, &caller, Request::Show { id }).await?))
}

#[utoipa::path(patch, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), request_body = RenameBody,
    tag = "tokens", responses((status = 200, body = TokenObject), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody)))]
pub async fn rename_token(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Json<TokenObject>, ApiError> {
    let req = Request::Rename {
        id,
        name: body.name,
    };
    Ok(Json(run(&web, &caller, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), tag = "tokens",
    responses((status = 204, description = "deleted"), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn delete_token(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    super::ops::delete(&web, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/tokens/{id}/rotate", params(("id" = String, Path)), request_body = RotateBody,
    tag = "tokens", responses((status = 201, body = CreatedToken), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn rotate_token(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RotateBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let req = Request::Rotate {
        id,
        grace: body.grace,
        expires: body.expires,
    };
    Ok((StatusCode::CREATED, Json(run(&web, &caller, req).await?)))
}

#[derive(serde::Deserialize)]
struct DeleteAllReply {
    count: usize,
    deleted: Vec<String>,
}

#[utoipa::path(delete, path = "/api/v1/users/{user}/tokens", params(("user" = String, Path)), tag = "tokens",
    responses((status = 200, body = DeletedAll), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn delete_all(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> Result<Json<DeletedAll>, ApiError> {
    let r: DeleteAllReply = run(&web, &caller, Request::DeleteAll { user }).await?;
    Ok(Json(DeletedAll {
        count: r.count,
        ids: r.deleted,
    }))
}

#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    responses((status = 200, body = SettingsObject), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)))]
pub async fn settings(
    State(web): State<Arc<Web>>,
    caller: Caller,
) -> Result<Json<SettingsObject>, ApiError> {
    Ok(Json(run(&web, &caller, Request::Settings).await?))
}

#[utoipa::path(put, path = "/api/v1/settings/{key}", params(("key" = String, Path)), request_body = SettingBody,
    tag = "settings", responses((status = 200, body = SettingsObject), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody), (status = 415, body = super::error::ErrorBody)))]
pub async fn set_setting(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<SettingBody>,
) -> Result<Json<SettingsObject>, ApiError> {
    Ok(Json(
        super::ops::set_setting(&web, &caller, key, body.value).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/failures", tag = "failures",
    responses((status = 200, body = Vec<FailureObject>), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)))]
pub async fn failures(
    State(web): State<Arc<Web>>,
    caller: Caller,
) -> Result<Json<Vec<FailureObject>>, ApiError> {
    Ok(Json(
        run(&web, &caller, Request::Failures { user: None }).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/failures/{user}", params(("user" = String, Path)), tag = "failures",
    responses((status = 204, description = "reset"), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn reset_failures(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let _: serde_json::Value = run(&web, &caller, Request::FailuresReset { user }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), tag = "audit",
    responses((status = 200, body = AuditPage), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn audit(
    State(web): State<Arc<Web>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(super::ops::audit(&web, &caller, q).await?))
}
