//! One module per screen, each exposing `router()`; this merges them.

pub mod account;
pub mod accounts;
pub mod changes;
pub mod settings;
pub mod status;

use crate::state::AppState;
use axum::Router;

/// Every route of the app (without the assets and the security gate, which `crate::app`
/// adds).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(accounts::router())
        .merge(account::router())
        .merge(changes::router())
        .merge(settings::router())
        .merge(status::router())
        .fallback(|| async {
            crate::AppError::NotFound("There is no page at this address.".into())
        })
}
