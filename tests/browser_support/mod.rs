//! The harness of the browser tests: Debian's chromium driven through chromedriver (started
//! on a free port, killed on drop) with the fantoccini WebDriver client, the real `upsight`
//! binary (`serve` or `demo`) on port 0, the simulator's admin API (testkit's client), and
//! screenshots under `target/screenshots/`.
//!
//! Browser tests share one lock: each one starts a browser, and the machines have 2 cores.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use upsight_testkit::SimAdmin;

/// One browser test at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the flows wait for something to appear (a push is debounced ~2 s, and each
/// `sf` call costs 1.5 s or more on a busy 2-core machine).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A child process killed (and reaped) on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM first, so `upsight serve` takes its clean path; then make sure.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver and one headless chromium session.
pub struct Browser {
    pub client: Client,
    _driver: Killed,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromium outlives chromedriver's death; its profile argument is unique to this
        // browser, so it names exactly the processes to end before the profile is removed.
        upsight_testkit::kill_processes_with_arg(&format!(
            "--user-data-dir={}",
            self._profile.path().display()
        ));
    }
}

impl Browser {
    /// Starts chromedriver and a fresh headless chromium. `rebind_host` is resolved to
    /// 127.0.0.1 by the browser, as a DNS-rebinding attacker's name would be.
    pub async fn start(rebind_host: &str) -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (scripts/install-chromium installs it)");
        let driver = Killed(driver);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--window-size=1440,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--host-resolver-rules=MAP {rebind_host} 127.0.0.1"),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("start a chromium session");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.wait_for(selector).await
    }

    /// Waits for an element to exist.
    pub async fn wait_for(&self, selector: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(selector)).await {
                return el;
            }
            if Instant::now() >= deadline {
                // What the user would have seen: a CI failure is read from this alone.
                let url = self.client.current_url().await.unwrap();
                let shown = self.text("body").await;
                panic!("no element {selector} on {url}; the page says {shown:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn count(&self, selector: &str) -> usize {
        self.client
            .find_all(Locator::Css(selector))
            .await
            .map_or(0, |v| v.len())
    }

    /// The text of the first match, or "" when there is none.
    pub async fn text(&self, selector: &str) -> String {
        match self.client.find(Locator::Css(selector)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the text of `selector` contains `needle`.
    pub async fn wait_text(&self, selector: &str, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text(selector).await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{selector} never said {needle:?}; it says {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Runs `script` in the page and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap()
    }

    /// Sets a select's value as a user picking an option does (`change` fires).
    pub async fn pick(&self, selector: &str, value: &str) {
        self.css(selector)
            .await
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Replaces a text field's content by typing, as a user does.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let el = self.css(selector).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Saves a screenshot of the page as `target/screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) {
        // Let fonts, times and polled fragments settle.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

pub fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| upsight_testkit::workspace_root().join("target"));
    target.join("screenshots")
}

/// A running `upsight serve` or `upsight demo`.
pub struct App {
    /// The address without the launch secret (`http://127.0.0.1:PORT`).
    pub url: String,
    pub port: u16,
    /// The launch secret `upsight` printed in its link.
    pub token: String,
    pub stderr_path: PathBuf,
    _process: Killed,
    _dir: tempfile::TempDir,
}

impl App {
    /// `upsight serve --port 0 --no-open` on a temp database, with exactly `env` added.
    pub fn serve(env: &[(String, std::ffi::OsString)]) -> App {
        App::serve_prepared(env, |_| {})
    }

    /// [`App::serve`] on a database `prepare` fills first (as an earlier run left it).
    pub fn serve_prepared(
        env: &[(String, std::ffi::OsString)],
        prepare: impl FnOnce(&std::path::Path),
    ) -> App {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("upsight.db");
        prepare(&db);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_upsight"));
        cmd.args(["serve", "--port", "0", "--no-open", "--db"])
            .arg(&db)
            .env("UPSIGHT_CONFIG", dir.path().join("no-config.toml"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        App::start(cmd, dir)
    }

    /// `upsight demo --port 0 --no-open`.
    pub fn demo() -> App {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_upsight"));
        cmd.args(["demo", "--port", "0", "--no-open"]);
        App::start(cmd, dir)
    }

    fn start(mut cmd: Command, dir: tempfile::TempDir) -> App {
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .expect("start upsight");
        let stdout = child.stdout.take().unwrap();
        let process = Killed(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let link = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                panic!(
                    "upsight printed no URL: {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            });
        let (url, token) = link
            .split_once("/?token=")
            .unwrap_or_else(|| panic!("the printed link carries no secret: {line:?}"));
        let url = url.to_owned();
        let token = token.to_owned();
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        App {
            url,
            port,
            token,
            stderr_path,
            _process: process,
            _dir: dir,
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The link upsight printed: opening it gives the browser the launch secret's cookie.
    pub fn login_url(&self) -> String {
        format!("{}/?token={}", self.url, self.token)
    }

    /// Opens the printed link in `browser`, as the user does first.
    pub async fn sign_in(&self, browser: &Browser) {
        browser.goto(&self.login_url()).await;
        browser.wait_for("body").await;
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

/// One request to the simulator's admin API (`/__sim{path}`): `(status, JSON body)`.
pub fn sim_admin(sim_url: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    SimAdmin::new(sim_url).request(method, path, body)
}

/// A record as the simulator stores it.
pub fn sim_record(sim_url: &str, sobject: &str, id: &str) -> Value {
    SimAdmin::new(sim_url).record(sobject, id)
}

/// Updates (Composite Graph requests, the push's conditional writes) the simulator has
/// served.
pub fn composite_count(sim_url: &str) -> u64 {
    SimAdmin::new(sim_url).count("composite_graph")
}

/// Polls `check` until it holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
