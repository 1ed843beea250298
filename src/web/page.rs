//! The self-service page.

use axum::Router;
use std::sync::Arc;

use super::Web;

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
}
