//! The web face (SPEC §11) on `web.sock`: the REST API under `/api/v1` with its OpenAPI
//! document, and the self-service page at `/`. Requests are parsed and authenticated
//! here; authorization, changes and their audit events are `admin::dispatch`'s, the same
//! code `admin.sock` runs, with `via=web`.

mod api;
mod auth;
mod error;
mod extract;
mod openapi;
mod ops;
mod page;
mod session;
mod types;
mod view;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::Router;
use std::convert::Infallible;
use std::sync::Arc;
use tower::ServiceExt;

use crate::engine::Engine;
use crate::http::PeerAddr;
use error::ApiError;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares.
pub struct Web {
    pub engine: Arc<Engine>,
    throttle: session::Throttle,
}

/// The page's Content-Security-Policy: nothing but the daemon's own script and style.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The web face's routes.
pub fn router(engine: Arc<Engine>) -> Router {
    let web = Arc::new(Web {
        engine,
        throttle: session::Throttle::default(),
    });
    let api = Router::new()
        .route("/session", post(api::login).delete(api::logout))
        .route("/me", get(api::me))
        .route("/tokens", get(api::list_tokens).post(api::create_token))
        .route(
            "/tokens/{id}",
            get(api::show_token)
                .patch(api::rename_token)
                .delete(api::delete_token),
        )
        .route("/tokens/{id}/rotate", post(api::rotate_token))
        .route("/users/{user}/tokens", delete(api::delete_all))
        .route("/settings", get(api::settings))
        .route("/settings/{key}", put(api::set_setting))
        .route("/failures", get(api::failures))
        .route("/failures/{user}", delete(api::reset_failures))
        .route("/audit", get(api::audit))
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .nest("/api/v1", api)
        .merge(page::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(web)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such resource; see /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here; see /api/v1/openapi.json",
    )
}

async fn secure_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Serves one request of a web connection from `peer`.
pub async fn handle<B>(
    router: Router,
    peer: PeerAddr,
    mut req: Request<B>,
) -> Result<Response, Infallible>
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    req.extensions_mut().insert(peer);
    let req = req.map(axum::body::Body::new);
    match router.oneshot(req).await {
        Ok(r) => Ok(r),
        Err(never) => match never {},
    }
}
