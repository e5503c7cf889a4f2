//! The simulator's HTTP server: the Salesforce REST subset `sf` uses, behind one gate that
//! counts requests, refuses over-long URIs and request heads, fires injected faults, checks
//! the session, and counts each API call against the org's budget, answering it with
//! `Sforce-Limit-Info` (see [`crate::api_usage`]).
//!
//! Run it on its own thread with [`spawn`] (tests, `upsight sim`), or on an existing runtime
//! with [`router`]/[`serve`] (`upsight demo`). The admin API under `/__sim/` is described in
//! [`crate::admin`].
//!
//! Everything a client can provoke is answered with a 2xx, 3xx or 4xx: `sf` retries GETs on
//! 5xx for about 15 seconds, so a 5xx only ever comes from an injected fault.
//!
//! This module routes and runs; the parts live beside it: the state (`state`), the gate
//! (`gate`), the wire's shapes and limits (`wire`), the login handshake (`login`), the
//! Query resources (`query`), the sObject resources (`sobjects`), and the Composite and
//! Composite Graph resources ([`crate::composite`], [`crate::graph`]).

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::gate::gate;
use crate::login::{resources, userinfo, versions};
use crate::query::{query, query_all, query_more, tooling_query};
use crate::sobjects::{
    composite_update, describe_object, global_describe, record_delete, record_get, record_patch,
};
use crate::wire::{not_found, sf_error};

pub use crate::state::{SimConfig, SimInfo, SimState};
pub use crate::wire::{
    decode_query, java_double, to_salesforce_json, LATEST_API_VERSION, MAX_BODY_BYTES,
    MAX_COLLECTION_RECORDS, MAX_PAGE_SIZE, MAX_REQUEST_HEAD_BYTES, MAX_URI_BYTES,
};

/// The whole application: the REST subset, the admin API, and the gate in front.
pub fn router(state: SimState) -> Router {
    let _ = state.0.routes.set(router);
    let data = Router::new()
        .route("/services/oauth2/userinfo", get(userinfo))
        .route("/services/data", get(versions))
        .route("/services/data/", get(versions))
        .route("/services/data/{version}", get(resources))
        .route("/services/data/{version}/", get(resources))
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/", get(query))
        .route("/services/data/{version}/queryAll", get(query_all))
        .route("/services/data/{version}/query/{locator}", get(query_more))
        .route(
            "/services/data/{version}/queryAll/{locator}",
            get(query_more),
        )
        .route("/services/data/{version}/tooling/query", get(tooling_query))
        .route("/services/data/{version}/sobjects", get(global_describe))
        .route(
            "/services/data/{version}/sobjects/{sobject}/describe",
            get(describe_object),
        )
        // The documented form of the resource ends in a slash
        // (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm:
        // "/services/data/vXX.X/sobjects/sObject/describe/").
        .route(
            "/services/data/{version}/sobjects/{sobject}/describe/",
            get(describe_object),
        )
        .route(
            "/services/data/{version}/sobjects/{sobject}/{id}",
            get(record_get).patch(record_patch).delete(record_delete),
        )
        .route(
            "/services/data/{version}/composite",
            axum::routing::post(crate::composite::composite),
        )
        .route(
            "/services/data/{version}/composite/",
            axum::routing::post(crate::composite::composite),
        )
        .route(
            "/services/data/{version}/composite/graph",
            axum::routing::post(crate::graph::graph),
        )
        .route(
            "/services/data/{version}/composite/sobjects",
            axum::routing::patch(composite_update),
        );
    let app = Router::new()
        .merge(data)
        .nest("/__sim", crate::admin::router())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state);
    // Layers on a router run after its routing, so the path is normalized in an outer router
    // whose only job is to hand every request to the real one.
    Router::new()
        .fallback_service(app)
        .layer(middleware::from_fn(collapse_slashes))
}

/// `sf` joins its instance URL, which ends in `/`, with paths that start with `/`, so it
/// requests `//services/data`. Salesforce accepts that; collapse repeated slashes so the
/// routes match.
async fn collapse_slashes(mut req: Request, next: Next) -> Response {
    if req.uri().path().contains("//") {
        let mut path = String::with_capacity(req.uri().path().len());
        for c in req.uri().path().chars() {
            if !(c == '/' && path.ends_with('/')) {
                path.push(c);
            }
        }
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

async fn fallback() -> Response {
    not_found()
}

async fn method_not_allowed(method: Method) -> Response {
    sf_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE,HEAD"),
    )
}

// ---------------------------------------------------------------------------------------
// Running

/// Serves `state` on `listener` until `shutdown` resolves; then releases hanging requests
/// and finishes the ones in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SimState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            state.begin_shutdown();
        })
        .await
}

/// A simulator running on its own thread and runtime; dropping it stops the server.
pub struct SimHandle {
    info: SimInfo,
    state: SimState,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimHandle {
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    /// The simulator's state, for direct manipulation in tests (the admin API does the same
    /// over HTTP).
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.info.url
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(t) = self.thread.take() {
            // The thread exits within its forced-stop deadline; a panic in it has already
            // been reported on stderr, and there is nothing more to do about it in a drop.
            let _ = t.join();
        }
    }
}

/// How long a stopping server waits for requests in flight before dropping them.
const STOP_DEADLINE: Duration = Duration::from_secs(2);

/// Starts a simulator on 127.0.0.1 (`config.port`, or any free port for 0) on a dedicated
/// thread with its own tokio runtime. It is listening when this returns.
pub fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let state = SimState::new(&config);
    let info = state.info(&format!("http://127.0.0.1:{port}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("upsight-sim")
        .enable_all()
        .build()?;
    let (stop, stop_rx) = watch::channel(false);
    let serve_state = state.clone();
    let thread = std::thread::Builder::new()
        .name("upsight-sim".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("upsight-sim: cannot use the listener: {e}");
                        return;
                    }
                };
                let mut graceful_rx = stop_rx.clone();
                let mut forced_rx = stop_rx;
                let server = serve(listener, serve_state, async move {
                    let _ = graceful_rx.wait_for(|s| *s).await;
                });
                let forced = async move {
                    let _ = forced_rx.wait_for(|s| *s).await;
                    tokio::time::sleep(STOP_DEADLINE).await;
                };
                tokio::select! {
                    r = server => if let Err(e) = r { eprintln!("upsight-sim: server error: {e}") },
                    _ = forced => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        })?;
    Ok(SimHandle {
        info,
        state,
        stop,
        thread: Some(thread),
    })
}
