//! upsight's local web app: server-rendered screens over the [`upsight_engine::Engine`], on
//! 127.0.0.1 only. The handlers hold no sync or push logic: they read the store, call the
//! engine, and render.
//!
//! Code map:
//! - [`security`]: the gate in front of every route (Host, the launch secret, Origin, CSRF
//!   token, bounded bodies; [`SameOrigin`] for reads that reach Salesforce) and the security
//!   headers (CSP without inline script).
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
pub mod explain;
pub mod format;
pub mod layout;
pub mod links;
pub mod routes;
pub mod security;
pub mod state;
pub mod sync_job;

pub use error::{ApiError, AppError};
pub use security::{Guard, SameOrigin};
pub use state::{AppState, WebConfig};

use axum::extract::DefaultBodyLimit;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use upsight_engine::pusher::Pusher;
use upsight_engine::Engine;

/// The whole app behind its security gate. Every body is bounded: 64 KiB unless a route
/// declares its own limit (the edit, for a long text area).
pub fn app(state: AppState, guard: Arc<Guard>) -> Router {
    routes::router()
        .layer(DefaultBodyLimit::max(security::FORM_BODY_LIMIT))
        .with_state(state)
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(guard, security::gate))
}

/// How [`serve`] ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Connections still open when the drain time ran out, dropped unanswered.
    pub dropped_connections: usize,
}

/// Serves the app on `listener` (which must be bound to 127.0.0.1, on `guard`'s port)
/// until `shutdown` resolves. Then it stops accepting, lets the requests in flight finish
/// for at most `config.drain_timeout`, and drops the connections still open: a stalled or
/// slow client can delay the stop by that much, never more.
///
/// A client must send its request head within `config.header_timeout` and its body within
/// `config.body_timeout`, so none can pin a connection.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    mut config: WebConfig,
    pusher: Option<Arc<Pusher>>,
    guard: Guard,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Stopped> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("upsight serves on 127.0.0.1 only, not {addr}"),
        ));
    }
    if guard.port() != addr.port() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the gate is for port {}, the listener is on {addr}",
                guard.port()
            ),
        ));
    }
    config.port = addr.port();
    let guard = Arc::new(guard.with_body_timeout(config.body_timeout));
    let state = AppState::new(engine, guard.csrf_token().to_owned(), &config, pusher);
    let app = app(state, guard);

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(app.clone());
                let connection = http.serve_connection(TokioIo::new(stream), service);
                let mut stop = stop_rx.clone();
                connections.spawn(async move {
                    let mut connection = pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => return,
                        _ = stop.wait_for(|stop| *stop) => {}
                    }
                    // Finish the request in flight, if any; idle connections close now.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let dropped_connections = if drained.is_ok() {
        0
    } else {
        connections.len()
    };
    // Dropping the set aborts the connections still open.
    connections.shutdown().await;
    Ok(Stopped {
        dropped_connections,
    })
}
