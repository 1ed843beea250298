//! The OpenAPI 3.1 document, generated from the handlers and their types.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api;
use super::error::{ErrorBody, ErrorDetail};
use super::types::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "apitokend web API", description = "Personal API tokens: the REST API of the web face (SPEC §11). \
        Authenticate with the session cookie (plus X-CSRF-Token on changes), a token with the manage scope \
        (Bearer or Basic), or Basic with the account password while password-auth is on."),
    paths(api::login, api::logout, api::me, api::list_tokens, api::create_token, api::show_token,
        api::rename_token, api::delete_token, api::rotate_token, api::delete_all, api::settings,
        api::set_setting, api::failures, api::reset_failures, api::audit),
    components(schemas(ErrorBody, ErrorDetail, LoginBody, SessionInfo, Me, TokenObject, CreatedToken,
        TokenPage, CreateBody, RenameBody, RotateBody, DeletedAll, SettingsObject, SettingValue,
        SettingBody, FailureObject, AuditPage)),
    modifiers(&Security),
    security(("session" = []), ("basic" = []), ("bearer" = []))
)]
pub struct Doc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::auth::COOKIE))),
        );
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/v1/openapi.json` (public: it describes, it reveals nothing).
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(Doc::openapi())
}
