//! A real headless Chromium driven over WebDriver: chromedriver is started
//! on a free port with a fresh profile, and the helpers wait on conditions
//! in the page (polled with a deadline), never on fixed sleeps.
//!
//! Without chromium and chromedriver installed, [`Browser::start`] prints
//! a note and returns `None` so `cargo test` stays green on a laptop;
//! `REPRISE_REQUIRE_BROWSER=1` (set in CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// How long any one condition may take to become true.
pub const DEADLINE: Duration = Duration::from_secs(40);

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// Chromium's flags for tests: no sandbox (root in a container), no
/// background traffic, a fixed 1280×800 viewport for screenshots.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,800",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
];

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Debian's `/usr/bin/chromium` is a shell wrapper; chromedriver wants
/// the browser binary itself.
fn chromium_binary() -> Option<PathBuf> {
    let direct = Path::new("/usr/lib/chromium/chromium");
    if direct.is_file() {
        return Some(direct.to_path_buf());
    }
    find_in_path("chromium").or_else(|| find_in_path("chromium-browser"))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Browser {
    /// A fresh browser, or `None` (with a printed note) when none is installed
    /// and `REPRISE_REQUIRE_BROWSER` is not set.
    pub async fn start() -> Option<Browser> {
        let driver_path = find_in_path("chromedriver");
        let chromium = chromium_binary();
        let (Some(driver_path), Some(chromium)) = (driver_path, chromium) else {
            let note = "browser tests skipped: install Debian's chromium and chromium-driver \
                        (apt-get install -y chromium chromium-driver) to run them";
            if std::env::var("REPRISE_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("REPRISE_REQUIRE_BROWSER=1 but {note}");
            }
            eprintln!("{note}");
            return None;
        };
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_for_driver(&driver_url).await;

        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        capabilities.insert("pageLoadStrategy".into(), json!("normal"));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .expect("open a Chromium session through chromedriver");
        let browser = Browser {
            client,
            driver,
            _profile: profile,
        };
        browser.set_viewport(1280, 800).await;
        Some(browser)
    }

    /// Sizes the window so the page itself (the screenshot) is width×height:
    /// the window size includes the browser's frame, even headless.
    async fn set_viewport(&self, width: u32, height: u32) {
        let frame = self
            .js("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];")
            .await;
        let extra = |i: usize| frame[i].as_u64().unwrap_or(0) as u32;
        self.client
            .set_window_size(width + extra(0), height + extra(1))
            .await
            .expect("set window size");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs a script (its `return` value comes back as JSON).
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub async fn js_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns something other than null/false,
    /// and returns that; fails with `what` and the last value at the deadline.
    pub async fn wait(&self, what: &str, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let value = self.js(script).await;
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                let errors = self.errors().await;
                panic!("timed out waiting for {what}; JavaScript errors: {errors:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until `read` (a script) returns `expected`.
    pub async fn wait_equal(&self, what: &str, read: &str, expected: &Value) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let value = self.js(read).await;
            if &value == expected {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}\n  expected: {expected}\n  last seen: {value}\n  errors: {:?}",
                    self.errors().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's script has rendered (the router marks `main`).
    pub async fn wait_ready(&self, page: &str) {
        let script = format!(
            "const m = document.getElementById('main'); \
             return m && m.dataset.page === '{page}' && m.dataset.ready !== 'false' ? m.dataset.ready : null;"
        );
        let state = self.wait(&format!("page {page} to render"), &script).await;
        assert_eq!(
            state,
            "true",
            "page {page} failed to render: {:?}",
            self.errors().await
        );
    }

    /// Everything the page recorded in `window.__repriseErrors`.
    pub async fn errors(&self) -> Vec<String> {
        let value = self
            .client
            .execute(
                "return window.__repriseErrors || ['no error recorder'];",
                Vec::new(),
            )
            .await
            .unwrap_or_else(|e| json!([format!("could not read errors: {e}")]));
        value
            .as_array()
            .map(|items| items.iter().map(|v| v.to_string()).collect())
            .unwrap_or_default()
    }

    pub async fn assert_no_errors(&self, page: &str) {
        let errors = self.errors().await;
        assert!(
            errors.is_empty(),
            "JavaScript errors on {page}: {errors:#?}"
        );
    }

    /// Types into the element matching `css`, after clearing it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// A 1280×800 PNG of the viewport, written to docs/screenshots/NAME.png.
    pub async fn screenshot(&self, name: &str) {
        // Let fonts and layout settle: wait for two animation frames.
        self.client
            .execute_async(
                "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                Vec::new(),
            )
            .await
            .expect("animation frames");
        let png = self.client.screenshot().await.expect("screenshot");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
        let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        assert_eq!((width, height), (1280, 800), "screenshot size of {name}");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

async fn wait_for_driver(url: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(format!("{url}/status")).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not answer on {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Browser tests run one at a time: two Chromiums on a small machine make
/// each other time out.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
