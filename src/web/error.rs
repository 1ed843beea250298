//! The web face's errors: `{"error":{"code","message"}}` with the statuses of SPEC §11, for
//! every failure, axum's own rejections included. The one place a failure becomes a status.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::Failure;
use apitoken_wire::admin::ErrorKind;

/// A refused request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `WWW-Authenticate` value for a 401 that invites Basic credentials.
    pub challenge: Option<String>,
    /// `Retry-After` seconds for a 429.
    pub retry_after: Option<i64>,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable `code` for programs and a `message` for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `malformed`, `unauthorized`, `permission_denied`, `scope`, `ip_denied`, `locked`,
    /// `csrf`, `not_found`, `method_not_allowed`, `limit`, `too_large`,
    /// `unsupported_media_type`, `out_of_bounds`, `throttled`, `database_unavailable`
    /// (503: a fleet's database does not answer) or `internal`.
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
            retry_after: None,
        }
    }
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }
    pub fn denied(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "permission_denied", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the daemon could not complete the request; see its log",
        )
    }
    /// 503 `database_unavailable` when `e` is a failure to reach the database, else 500.
    pub fn store(e: &crate::store::StoreError) -> ApiError {
        if e.is_unavailable() {
            return Failure(
                ErrorKind::DatabaseUnavailable,
                format!("nothing was done: {e}"),
            )
            .into();
        }
        eprintln!("apitokend: web: store failure: {e}");
        ApiError::internal()
    }

    /// 401; with `realm`, it invites HTTP Basic credentials.
    pub fn unauthorized(message: impl Into<String>, realm: Option<&str>) -> ApiError {
        ApiError {
            challenge: realm.map(|r| format!("Basic realm=\"{r}\"")),
            ..ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        }
    }
}

impl From<Failure> for ApiError {
    fn from(Failure(kind, message): Failure) -> ApiError {
        let (status, code) = match kind {
            ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "malformed"),
            ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Limit => (StatusCode::CONFLICT, "limit"),
            ErrorKind::OutOfBounds => (StatusCode::UNPROCESSABLE_ENTITY, "out_of_bounds"),
            ErrorKind::DatabaseUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
            }
            // Already logged where it happened; the message names no secret.
            ErrorKind::Internal => return ApiError::internal(),
        };
        ApiError::new(status, code, message)
    }
}

/// Parser messages quote offending string values (`invalid type: string "…"`); such a
/// value may be a secret sent in the wrong field, so quoted text never goes back out.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        if c == '"' {
            inside = !inside;
            out.push_str(if inside { "\"…" } else { "\"" });
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// The body-reading rejections shared by JSON and form bodies.
fn body_rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "too_large",
            "the request body is over 64 KiB, the limit",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(status, "unsupported_media_type", text),
        s if s.is_server_error() => ApiError::internal(),
        _ => ApiError::malformed(text),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        let text = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "send the body as JSON with Content-Type: application/json".to_string()
            }
            other => format!("malformed JSON body: {}", redact(&other.body_text())),
        };
        body_rejection(r.status(), text)
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> ApiError {
        body_rejection(
            r.status(),
            format!("malformed form: {}", redact(&r.body_text())),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError::malformed(format!("malformed path: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::malformed(format!("malformed query: {}", redact(&r.body_text())))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                // Messages may quote what the client sent: never a token back out.
                message: crate::token::redact_tokens(&self.message),
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s.max(0) as u64));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_quoted_values_keeps_field_names() {
        let t = redact("invalid type: string \"atk_secret\", expected u32 at `limit`");
        assert!(!t.contains("atk_secret") && t.contains("`limit`"), "{t}");
    }
}
