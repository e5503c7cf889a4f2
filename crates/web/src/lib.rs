//! upsight's local web app: server-rendered screens over the [`upsight_engine::Engine`], on
//! 127.0.0.1 only. The handlers hold no sync or push logic: they read the store, call the
//! engine, and render.
//!
//! Code map:
//! - [`security`]: the gate in front of every route (Host, Origin, CSRF token) and the
//!   security headers (CSP without inline script).
//! - [`state`]: [`AppState`], shared by every handler; [`sync_job`]: the sync the sidebar
//!   shows progress for.
//! - [`error`]: [`AppError`], the one error type, as an HTML page or as JSON.
//! - [`layout`]: the page shell and sidebar; [`format`]: values as a CSM reads them;
//!   [`links`]: which URLs may become links; [`assets`]: the embedded CSS, JS and logo.
//! - [`routes`]: one module per screen, each exposing `router()`.
//!
//! Templates are maud, which escapes everything it splices in; there is no `PreEscaped` on
//! data anywhere in this crate.
#![forbid(unsafe_code)]

pub mod assets;
pub mod error;
pub mod format;
pub mod layout;
pub mod links;
pub mod routes;
pub mod security;
pub mod state;
pub mod sync_job;

pub use error::{ApiError, AppError};
pub use security::Guard;
pub use state::{AppState, WebConfig};

use axum::Router;
use std::future::Future;
use std::sync::Arc;
use upsight_engine::pusher::Pusher;
use upsight_engine::Engine;

/// The whole app behind its security gate.
pub fn app(state: AppState, guard: Arc<Guard>) -> Router {
    routes::router()
        .with_state(state)
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(guard, security::gate))
}

/// Serves the app on `listener` (which must be bound to 127.0.0.1) until `shutdown`
/// resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    mut config: WebConfig,
    pusher: Option<Arc<Pusher>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("upsight serves on 127.0.0.1 only, not {addr}"),
        ));
    }
    config.port = addr.port();
    let guard = Arc::new(Guard::new(config.port)?);
    let state = AppState::new(engine, guard.csrf_token().to_owned(), &config, pusher);
    axum::serve(listener, app(state, guard))
        .with_graceful_shutdown(shutdown)
        .await
}
