//! The self-service page (SPEC §11): server-rendered HTML that works without JavaScript.
//! Every form posts with the session's CSRF token and goes through the same
//! authentication and operations as the REST API; a change answers with a redirect
//! (post/redirect/get), except a creation, whose page shows the new token once.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::sync::Arc;

use super::auth::{self, Caller};
use super::error::ApiError;
use super::extract::{ApiForm, ApiPath, ApiQuery};
use super::ops::run;
use super::session;
use super::types::{CreateBody, CreatedToken};
use super::view::{self, PageQuery, PageView};
use super::Web;
use crate::http::PeerAddr;
use apitoken_wire::admin::Request;

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/", get(page))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/tokens", post(create))
        .route("/tokens/{id}/revoke", post(revoke))
        .route("/tokens/{id}/rotate", post(rotate))
        .route("/users/delete-all", post(delete_all))
        .route("/settings", post(set_setting))
        .route("/failures/reset", post(reset_failures))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
}

fn html(status: StatusCode, view: &PageView) -> Response {
    match view.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            eprintln!("apitokend: web: cannot render the page: {e}");
            ApiError::internal().into_response()
        }
    }
}

fn login_page(prefix: String, error: Option<ApiError>) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let view = PageView {
        prefix,
        error: error.map(|e| e.message),
        ..PageView::default()
    };
    html(status, &view)
}

fn redirect(prefix: &str, query: &str) -> Response {
    let location = format!("{prefix}/{query}");
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// The page of `tab` showing `outcome`: an error on top of the current state, or the
/// token just made, shown once.
async fn tab_page(
    web: &Arc<Web>,
    caller: &Caller,
    prefix: String,
    tab: &str,
    outcome: Result<CreatedToken, ApiError>,
) -> Response {
    let q = PageQuery {
        tab: Some(tab.to_string()),
        ..PageQuery::default()
    };
    let mut v = match view::build(web, caller, prefix, q).await {
        Ok(v) => v,
        // An error to show says more than the page's own.
        Err(e) => return outcome.err().unwrap_or(e).into_response(),
    };
    match outcome {
        Ok(c) => {
            v.created = Some(view::created(c));
            html(StatusCode::CREATED, &v)
        }
        Err(e) => {
            v.error = Some(e.message);
            html(e.status, &v)
        }
    }
}

async fn page(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Response {
    let prefix = session::prefix(&web, peer, &headers);
    let caller = match auth::session_only(&web, peer, &Method::GET, &headers, None).await {
        Ok(c) => c,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return login_page(prefix, None),
        Err(e) => return login_page(prefix, Some(e)),
    };
    match view::build(&web, &caller, prefix.clone(), q).await {
        Ok(v) => html(StatusCode::OK, &v),
        Err(e) => tab_page(&web, &caller, prefix, "mine", Err(e)).await,
    }
}

#[derive(serde::Deserialize)]
struct LoginForm {
    user: String,
    password: zeroize::Zeroizing<String>,
}

async fn login(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiForm(f): ApiForm<LoginForm>,
) -> Response {
    let prefix = session::prefix(&web, peer, &headers);
    match session::login(&web, peer, &headers, &f.user, f.password.as_bytes()).await {
        Ok(s) => {
            let mut resp = redirect(&prefix, "");
            session::set_cookie(resp.headers_mut(), s.set_cookie);
            resp
        }
        Err(e) => login_page(prefix, Some(e)),
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
    #[serde(default)]
    tab: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// What a form's change did.
enum Done {
    /// Back to the tab with this message code (post/redirect/get).
    Redirect(&'static str),
    /// The creation's page, with the new token shown once.
    Created(Box<CreatedToken>),
    /// Signed out: back to the login form, the cookie cleared.
    SignedOut,
}

/// Every form post: the session and the form's CSRF field are checked, `act` runs on the
/// caller, and its outcome becomes the answer; an error is shown on `tab`, the tab the
/// form asked for (as far as the caller may see it).
async fn form_post(
    web: &Arc<Web>,
    peer: PeerAddr,
    headers: &HeaderMap,
    (csrf, tab): (&str, Option<&str>),
    act: impl AsyncFnOnce(&Caller) -> Result<Done, ApiError>,
) -> Response {
    let prefix = session::prefix(web, peer, headers);
    let caller = match auth::session_only(web, peer, &Method::POST, headers, Some(csrf)).await {
        Ok(c) => c,
        Err(e) => return login_page(prefix, Some(e)),
    };
    let tab = view::tab_for(&caller, tab);
    match act(&caller).await {
        Ok(Done::Redirect(done)) => redirect(&prefix, &format!("?tab={tab}&done={done}")),
        Ok(Done::Created(c)) => tab_page(web, &caller, prefix, tab, Ok(*c)).await,
        Ok(Done::SignedOut) => {
            let mut resp = redirect(&prefix, "");
            session::set_cookie(
                resp.headers_mut(),
                session::cookie(web, peer, headers, None),
            );
            resp
        }
        Err(e) => tab_page(web, &caller, prefix, tab, Err(e)).await,
    }
}

async fn logout(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiForm(f): ApiForm<CsrfForm>,
) -> Response {
    form_post(&web, peer, &headers, (&f.csrf, None), async |_| {
        session::logout(&web, &headers).await?;
        Ok(Done::SignedOut)
    })
    .await
}

#[derive(serde::Deserialize)]
struct CreateForm {
    csrf: String,
    #[serde(default)]
    tab: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    expires: Option<String>,
    scope_read: Option<String>,
    scope_write: Option<String>,
    scope_login: Option<String>,
    scope_manage: Option<String>,
    #[serde(default)]
    paths: String,
    #[serde(default)]
    networks: String,
}

impl CreateForm {
    fn body(self) -> CreateBody {
        let scopes: Vec<String> = [
            (&self.scope_read, "read"),
            (&self.scope_write, "write"),
            (&self.scope_login, "login"),
            (&self.scope_manage, "manage"),
        ]
        .iter()
        .filter(|(on, _)| on.is_some())
        .map(|(_, s)| s.to_string())
        .collect();
        CreateBody {
            name: self.name.filter(|n| !n.is_empty()),
            expires: self.expires.filter(|e| !e.is_empty()),
            user: self.user.filter(|u| !u.is_empty()),
            scopes: Some(scopes),
            paths: lines(&self.paths),
            networks: lines(&self.networks),
        }
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

async fn create(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiForm(f): ApiForm<CreateForm>,
) -> Response {
    let (csrf, tab) = (f.csrf.clone(), f.tab.clone());
    form_post(&web, peer, &headers, (&csrf, tab.as_deref()), async |c| {
        let made = super::ops::create(&web, c, f.body()).await?;
        Ok(Done::Created(Box::new(made)))
    })
    .await
}

async fn revoke(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiForm(f): ApiForm<CsrfForm>,
) -> Response {
    form_post(
        &web,
        peer,
        &headers,
        (&f.csrf, f.tab.as_deref()),
        async |c| {
            super::ops::delete(&web, c, id).await?;
            Ok(Done::Redirect("revoked"))
        },
    )
    .await
}

async fn rotate(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiForm(f): ApiForm<CsrfForm>,
) -> Response {
    let req = Request::Rotate {
        id,
        grace: None,
        expires: None,
    };
    form_post(
        &web,
        peer,
        &headers,
        (&f.csrf, f.tab.as_deref()),
        async |c| Ok(Done::Created(Box::new(run(&web, c, req).await?))),
    )
    .await
}

/// A change that answers nothing worth showing: back to `tab` with `done`.
async fn change(
    web: &Arc<Web>,
    peer: PeerAddr,
    headers: &HeaderMap,
    (csrf, tab, done): (&str, &str, &'static str),
    req: Request,
) -> Response {
    form_post(web, peer, headers, (csrf, Some(tab)), async |c| {
        run::<serde_json::Value>(web, c, req).await?;
        Ok(Done::Redirect(done))
    })
    .await
}

async fn delete_all(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiForm(f): ApiForm<CsrfForm>,
) -> Response {
    let user = f.user.unwrap_or_default();
    let req = Request::DeleteAll { user };
    change(&web, peer, &headers, (&f.csrf, "manager", "deleted"), req).await
}

async fn set_setting(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiForm(f): ApiForm<CsrfForm>,
) -> Response {
    let key = f.key.unwrap_or_default();
    let value = match f.value.unwrap_or_default() {
        v if key == "allowed-networks" => lines(&v.replace(',', "\n")).join(","),
        v => v,
    };
    let req = Request::SettingsSet { key, value };
    change(&web, peer, &headers, (&f.csrf, "settings", "saved"), req).await
}

async fn reset_failures(
    State(web): State<Arc<Web>>,
    Extension(peer): Extension<PeerAddr>,
    headers: HeaderMap,
    ApiForm(f): ApiForm<CsrfForm>,
) -> Response {
    let req = Request::FailuresReset {
        user: f.user.unwrap_or_default(),
    };
    change(&web, peer, &headers, (&f.csrf, "failures", "reset"), req).await
}

fn asset(ctype: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("static/app.css"))
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("static/app.js"),
    )
}
