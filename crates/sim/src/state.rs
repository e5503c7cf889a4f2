//! The simulator's state: the org instance (records, schema, clock), the session, the
//! cursors, the injected faults and the counters, shared by every handler.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::api_usage::ApiUsage;
use crate::dataset::{self, DatasetSpec};
use crate::faults::{Faults, Stats};
use crate::org::Instance;
use crate::paging::Cursors;
use crate::schema::Schema;
use crate::wire::MAX_PAGE_SIZE;

/// How to start a simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// 0 picks any free port.
    pub port: u16,
    pub dataset: DatasetSpec,
    /// Records per query page, children included; clamped to 1..=2000.
    pub page_size: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            dataset: DatasetSpec::default(),
            page_size: MAX_PAGE_SIZE,
        }
    }
}

/// What a client needs to log in to a running simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimInfo {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// `<org id>!<secret>`, the format `sf org login access-token` accepts.
    pub token: String,
    pub username: String,
    pub org_id: String,
    pub accounts: usize,
    pub opportunities: usize,
}

/// The current session token. Expiring it mints a new one at once, as if the user had logged
/// in again elsewhere; the old one then gets 401 INVALID_SESSION_ID.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) token: String,
    pub(crate) rng: dataset::Rng,
}

impl Session {
    fn mint(&mut self, org_id: &str) -> String {
        const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let secret: String = (0..96)
            .map(|_| *self.rng.pick(ALPHA) as char)
            .collect::<String>();
        self.token = format!("{org_id}!AQ{}.{}", &secret[..8], &secret[8..]);
        self.token.clone()
    }
}

pub(crate) struct Inner {
    pub(crate) instance: Mutex<Instance>,
    pub(crate) initial: DatasetSpec,
    pub(crate) session: Mutex<Session>,
    pub(crate) page_size: AtomicUsize,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) stats: Mutex<Stats>,
    pub(crate) cursors: Mutex<Cursors>,
    pub(crate) api_usage: Mutex<ApiUsage>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// The routes, as `server::router` builds them: the Composite and Composite Graph
    /// resources run each subrequest through them, so it meets the same gate as a direct
    /// request. A function, set when the router is built, so that the resources do not
    /// depend on the module that routes to them.
    pub(crate) routes: std::sync::OnceLock<fn(SimState) -> axum::Router>,
}

/// The shared state of one simulated org. Cheap to clone.
#[derive(Clone)]
pub struct SimState(pub(crate) Arc<Inner>);

/// Locks a mutex, surviving a panic in another request: the simulator's data stays usable,
/// which matters more here than poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn token_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl SimState {
    /// A new org with `config`'s dataset and a fresh session token.
    pub fn new(config: &SimConfig) -> SimState {
        let instance = dataset::generate(Schema::default_org(), &config.dataset);
        let mut session = Session {
            token: String::new(),
            rng: dataset::Rng::new(token_seed()),
        };
        session.mint(&org_id(&instance));
        SimState(Arc::new(Inner {
            instance: Mutex::new(instance),
            initial: config.dataset,
            session: Mutex::new(session),
            page_size: AtomicUsize::new(config.page_size.clamp(1, MAX_PAGE_SIZE)),
            faults: Mutex::new(Faults::default()),
            stats: Mutex::new(Stats::default()),
            cursors: Mutex::new(Cursors::default()),
            api_usage: Mutex::new(ApiUsage::default()),
            shutdown: watch::Sender::new(false),
            routes: std::sync::OnceLock::new(),
        }))
    }

    /// Login details for a simulator reachable at `url`.
    pub fn info(&self, url: &str) -> SimInfo {
        let instance = self.instance();
        SimInfo {
            url: url.trim_end_matches('/').to_string(),
            token: self.token(),
            username: api_username(&instance),
            org_id: org_id(&instance),
            accounts: instance.org.count("Account"),
            opportunities: instance.org.count("Opportunity"),
        }
    }

    /// The org, locked. Keep the guard short: every request needs it.
    pub fn instance(&self) -> MutexGuard<'_, Instance> {
        lock(&self.0.instance)
    }

    /// Replaces the org with a freshly generated one (default schema, so removed fields come
    /// back) and forgets open query cursors. The session, faults and counters are kept.
    pub fn reset(&self, spec: Option<DatasetSpec>) {
        let spec = spec.unwrap_or(self.0.initial);
        let mut fresh = dataset::generate(Schema::default_org(), &spec);
        let mut instance = self.instance();
        // A pinned clock stays pinned: tests pin it before they reset.
        let pinned = instance.clock().pinned();
        fresh.clock_mut().pin(pinned);
        *instance = fresh;
        drop(instance);
        lock(&self.0.cursors).clear();
    }

    /// The current session token.
    pub fn token(&self) -> String {
        lock(&self.0.session).token.clone()
    }

    /// Invalidates the current token and returns a new valid one.
    pub fn expire_session(&self) -> String {
        let org = org_id(&self.instance());
        lock(&self.0.session).mint(&org)
    }

    pub fn page_size(&self) -> usize {
        self.0.page_size.load(Ordering::Relaxed)
    }

    /// Sets the page size (records per page, children included); clamped to 1..=2000.
    pub fn set_page_size(&self, n: usize) -> usize {
        let n = n.clamp(1, MAX_PAGE_SIZE);
        self.0.page_size.store(n, Ordering::Relaxed);
        n
    }

    /// The org's API calls in the window and its allocation.
    pub fn api_usage(&self) -> ApiUsage {
        *lock(&self.0.api_usage)
    }

    /// Puts the org at `usage` (tests set 80% or 95% of the allocation this way).
    pub fn set_api_usage(&self, usage: ApiUsage) {
        *lock(&self.0.api_usage) = usage;
    }

    pub(crate) fn count_api_call(&self) -> ApiUsage {
        lock(&self.0.api_usage).count_call()
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.0.faults)
    }

    pub(crate) fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.0.stats)
    }

    /// The router the simulator serves (see `Inner::routes`), for a resource that runs
    /// subrequests.
    pub(crate) fn router(&self) -> axum::Router {
        let routes = self
            .0
            .routes
            .get()
            .expect("a request reached a handler, so the router was built");
        routes(self.clone())
    }

    /// Releases hanging requests; called when the server stops.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    pub(crate) async fn hang(&self) {
        let mut rx = self.0.shutdown.subscribe();
        // An error means the sender is gone, i.e. the state is being torn down: stop waiting.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        let session = lock(&self.0.session);
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
            && token.trim() == session.token
    }
}

pub(crate) fn org_id(instance: &Instance) -> String {
    instance
        .org
        .all("Organization")
        .next()
        .map(|r| r.id().to_string())
        .unwrap_or_default()
}

pub(crate) fn api_username(instance: &Instance) -> String {
    instance
        .org
        .find("User", &instance.api_user_id)
        .and_then(|u| u.get("Username"))
        .and_then(Value::as_str)
        .unwrap_or(dataset::API_USERNAME)
        .to_string()
}
