//! The dashboard in a real headless Chromium, driven through chromedriver.
//!
//! Skipped with a printed reason when chromedriver is not installed, unless
//! `REQUIRE_BROWSER=1` (CI sets it), which turns the skip into a failure.
//! Screenshots go to `target/test-output/` (or `$CARGO_TARGET_DIR/test-output/`).
//!
//! The WebDriver protocol is spoken directly with reqwest: fantoccini is built
//! here without a TLS feature, and then offers no connector this crate can name.

use inmem::command::grammar;
use inmem::server::http::{self, HttpSettings};
use inmem::session::Session;
use inmem::{Db, Options};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const XSS_KEY: &str = "<img src=x onerror=alert(1)>";
/// How long the page may take to show what a step expects.
const PATIENCE: Duration = Duration::from_secs(10);

/// Ends the browser session and kills chromedriver when the test ends, however
/// it ends (a failed assertion included), so no Chromium is left running.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = &self.session {
            // Best effort, synchronously: Drop cannot await.
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request = format!(
                    "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let _ = stream.read_to_end(&mut Vec::new());
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when the browser is there; otherwise skips (or fails under REQUIRE_BROWSER=1).
fn browser_available() -> bool {
    let present = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !present {
        let reason = format!(
            "{CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"
        );
        assert!(
            std::env::var("REQUIRE_BROWSER").as_deref() != Ok("1"),
            "REQUIRE_BROWSER=1 but {reason}"
        );
        println!("skipped: {reason}");
    }
    present
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One browser session.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Driver,
    _profile: tempfile::TempDir,
}

/// An element reference.
#[derive(Clone)]
struct Element(String);

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        let mut driver = Driver {
            child: Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            port,
            session: None,
        };
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        } } });
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        // chromedriver needs a moment before it listens.
        let answer = loop {
            match http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                Ok(response) => break response.json::<Value>().await.unwrap(),
                Err(e) if started.elapsed() < PATIENCE => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver did not start: {e}"),
            }
        };
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        driver.session = Some(session.clone());
        Browser {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn script(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    async fn find(&self, css: &str) -> Element {
        let found = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        Element(
            found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {css}: {found}"))
                .to_string(),
        )
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        let answer = self
            .post(&format!("/element/{}/click", element.0), json!({}))
            .await;
        assert!(answer.is_null(), "click {css}: {answer}");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.post(&format!("/element/{}/clear", element.0), json!({}))
            .await;
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// The text content of every element matching `css`.
    async fn texts(&self, css: &str) -> Vec<String> {
        let answer = self
            .script(
                "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent);",
                json!([css]),
            )
            .await;
        serde_json::from_value(answer).unwrap_or_default()
    }

    /// True when the element matching `css` takes up space on the page.
    async fn displayed(&self, css: &str) -> bool {
        let answer = self
            .script(
                "const e = document.querySelector(arguments[0]); \
                 return e !== null && e.getClientRects().length > 0;",
                json!([css]),
            )
            .await;
        answer == true
    }

    /// Waits until `check` holds for the texts matching `css`; returns them.
    async fn wait_for(
        &self,
        css: &str,
        what: &str,
        check: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let started = Instant::now();
        loop {
            let texts = self.texts(css).await;
            if check(&texts) {
                return texts;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "waited for {what} in {css}; found {texts:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_text(&self, css: &str, want: &str) {
        self.wait_for(css, want, |t| t.first().is_some_and(|t| t == want))
            .await;
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.get("/screenshot").await;
        let png = base64_decode(data.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let path = output_dir().join(name);
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }

    /// Sets the viewport width (CSS pixels) as a phone would have it.
    async fn viewport(&self, width: u32, height: u32) {
        self.post(
            "/goog/cdp/execute",
            json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600
            } }),
        )
        .await;
    }

    /// The text of an open alert, if one is open.
    async fn alert(&self) -> Option<String> {
        self.get("/alert/text").await.as_str().map(str::to_string)
    }

    async fn close(mut self) {
        self.call(reqwest::Method::DELETE, "", None).await;
        self.driver.session = None;
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// Serves the dashboard on a fresh database seeded with `statements`.
async fn serve(
    settings: HttpSettings,
    statements: &[String],
) -> (String, Arc<Db>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path());
    options.command_log = None;
    let db = Db::open(options).unwrap();
    let mut session = Session::new(db.clone());
    for text in statements {
        let parsed = grammar::parse(text).unwrap();
        session.execute(&parsed[0], text).unwrap();
    }
    let app = http::router(db.clone(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), db, dir)
}

fn seed() -> Vec<String> {
    let mut statements = vec![
        "put user:1 Ada".to_string(),
        "put user:2 Grace".to_string(),
        "put session:x token 600".to_string(),
    ];
    statements.extend((0..45).map(|i| format!("put page:{i:02} {i}")));
    statements
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_lists_puts_searches_pages_and_deletes_in_chromium() {
    if !browser_available() {
        return;
    }
    let (base, _db, _dir) = serve(HttpSettings::default(), &seed()).await;
    let api = reqwest::Client::new();
    let b = Browser::start().await;
    b.goto(&format!("{base}/")).await;

    // Keys are listed as soon as the page loads, a page of 20 in byte order.
    let listed = b
        .wait_for("#keys li", "the first page", |t| t.len() == 20)
        .await;
    assert_eq!(listed[0], "page:00");
    b.wait_text("#page-info", "1–20 of 48").await;
    // The statistics panel fills itself.
    b.wait_text("#stats-keys", "48").await;

    // Put a key with a TTL through the form; it is listed and shown with its TTL.
    b.type_into("#put-key", "greeting").await;
    b.type_into("#put-value", "hello world").await;
    b.type_into("#put-ttl", "100").await;
    b.click("#put-save").await;
    b.wait_text("#put-status", "Saved.").await;
    b.wait_text("#detail-value", "hello world").await;
    let ttl = b
        .wait_for("#detail-ttl", "a TTL in seconds", |t| {
            t.first().is_some_and(|t| t.ends_with(" s"))
        })
        .await;
    let seconds: u64 = ttl[0].trim_end_matches(" s").parse().unwrap();
    assert!((95..=100).contains(&seconds), "{ttl:?}");
    // The TTL counts down by itself.
    b.wait_for("#detail-ttl", "the TTL counting down", |t| {
        t.first()
            .and_then(|t| t.trim_end_matches(" s").parse::<u64>().ok())
            .is_some_and(|left| left < seconds)
    })
    .await;
    // Persist removes the TTL; expire sets a new one.
    b.click("#persist-key").await;
    b.wait_text("#detail-ttl", "no expiry").await;
    b.type_into("#expire-seconds", "50").await;
    b.click("#expire-run").await;
    b.wait_for("#detail-ttl", "the new TTL", |t| {
        t.first().is_some_and(|t| t == "50 s" || t == "49 s")
    })
    .await;
    // Edit copies the key and value into the form.
    b.click("#edit-key").await;
    let form = b
        .script(
            "return [document.getElementById('put-key').value, document.getElementById('put-value').value];",
            json!([]),
        )
        .await;
    assert_eq!(form, json!(["greeting", "hello world"]));
    let stored: Value = api
        .get(format!("{base}/v1/keys/greeting"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["value"], "hello world");

    // A key that looks like markup is shown literally and never becomes an element.
    b.type_into("#put-key", XSS_KEY).await;
    b.type_into("#put-value", "<b>bold?</b>").await;
    b.type_into("#put-ttl", "").await;
    b.click("#put-save").await;
    b.type_into("#search", "<*").await;
    b.click("#search-run").await;
    b.wait_for("#keys li", "the markup key", |t| t == [XSS_KEY])
        .await;
    b.wait_text("#detail-key", XSS_KEY).await;
    b.wait_text("#detail-value", "<b>bold?</b>").await;
    let injected = b
        .script(
            "return document.querySelectorAll('#keys img, #detail img, #detail b').length;",
            json!([]),
        )
        .await;
    assert_eq!(injected, 0);
    assert_eq!(b.alert().await, None, "an alert opened");
    // Without a password set, the password form stays out of the way.
    assert!(!b.displayed("#auth-form").await);
    b.script("window.scrollTo(0, 0);", json!([])).await;
    b.screenshot("dashboard.png").await;

    // Delete it (the button asks for a second click).
    b.click("#delete-key").await;
    b.wait_text("#delete-key", "Confirm delete").await;
    b.click("#delete-key").await;
    b.wait_for("#keys li", "an empty list", |t| t.is_empty())
        .await;
    let gone = api
        .get(format!(
            "{base}/v1/keys/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);

    // Glob search and pagination with the cursor.
    b.type_into("#search", "page:*").await;
    b.click("#search-run").await;
    b.wait_text("#page-info", "1–20 of 45").await;
    b.click("#next-page").await;
    b.wait_text("#page-info", "21–40 of 45").await;
    b.click("#next-page").await;
    b.wait_text("#page-info", "41–45 of 45").await;
    let last = b.texts("#keys li").await;
    assert_eq!(
        last,
        ["page:40", "page:41", "page:42", "page:43", "page:44"]
    );
    let next_disabled = b
        .script(
            "return document.getElementById('next-page').disabled;",
            json!([]),
        )
        .await;
    assert_eq!(next_disabled, true);
    b.click("#prev-page").await;
    b.wait_text("#page-info", "21–40 of 45").await;

    // Regex search.
    b.type_into("#search", "^user:[12]$").await;
    b.script(
        "document.getElementById('search-mode').value = 'regex';",
        json!([]),
    )
    .await;
    b.click("#search-run").await;
    b.wait_for("#keys li", "the users", |t| t == ["user:1", "user:2"])
        .await;
    // A bad regex is reported next to the list.
    b.type_into("#search", "(").await;
    b.click("#search-run").await;
    b.wait_for("#list-error", "a regex error", |t| {
        t.first().is_some_and(|t| t.contains("regex"))
    })
    .await;

    // A batch runs atomically; a failing one names its statement next to the box.
    b.type_into("#batch-text", "put b1 1\nincr b1 2\nget b1")
        .await;
    b.click("#batch-run").await;
    b.wait_for("#batch-result li", "the results", |t| t == ["OK", "3", "3"])
        .await;
    b.type_into("#batch-text", "put b2 1\nincr greeting").await;
    b.click("#batch-run").await;
    b.wait_for("#batch-error", "the failure", |t| {
        t.first().is_some_and(|t| t.contains("statement 2"))
    })
    .await;
    let b2 = api.get(format!("{base}/v1/keys/b2")).send().await.unwrap();
    assert_eq!(b2.status(), 404, "a failed batch applied a statement");

    // Switching namespace shows that namespace's keys only.
    b.type_into("#search", "").await;
    b.type_into("#ns-input", "other").await;
    b.click("#ns-use").await;
    b.wait_text("#page-info", "0 keys").await;
    b.type_into("#put-key", "only-here").await;
    b.type_into("#put-value", "x").await;
    b.click("#put-save").await;
    b.wait_for("#keys li", "the other namespace", |t| t == ["only-here"])
        .await;
    let elsewhere = api
        .get(format!("{base}/v1/keys/only-here?ns=other"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 200);

    // A narrow window stacks the panels without horizontal scrolling.
    b.type_into("#ns-input", "0").await;
    b.click("#ns-use").await;
    b.wait_for("#keys li", "the first page again", |t| t.len() == 20)
        .await;
    b.viewport(380, 900).await;
    let widths = b
        .script(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            json!([]),
        )
        .await;
    assert_eq!(widths[0], 380, "{widths}");
    assert!(
        widths[1].as_u64() <= widths[0].as_u64(),
        "the page scrolls sideways at 380px: {widths}"
    );
    b.script("window.scrollTo(0, 0);", json!([])).await;
    b.screenshot("dashboard-narrow.png").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_asks_for_the_password_once_and_keeps_it_for_the_tab() {
    if !browser_available() {
        return;
    }
    let settings = HttpSettings {
        requirepass: Some("open sesame".into()),
        ..HttpSettings::default()
    };
    let (base, _db, _dir) = serve(settings, &["put user:1 Ada".to_string()]).await;
    let b = Browser::start().await;
    b.goto(&format!("{base}/")).await;
    let started = Instant::now();
    while !b.displayed("#auth-form").await {
        assert!(started.elapsed() < PATIENCE, "no password form");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.type_into("#auth-password", "wrong").await;
    b.click("#auth-submit").await;
    b.wait_for("#auth-error", "the refusal", |t| {
        t.first().is_some_and(|t| t.contains("Wrong password"))
    })
    .await;
    b.type_into("#auth-password", "open sesame").await;
    b.click("#auth-submit").await;
    b.wait_for("#keys li", "the keys", |t| t == ["user:1"])
        .await;
    assert!(!b.displayed("#auth-form").await);
    // A reload keeps the password for this tab: no form, keys listed.
    b.goto(&format!("{base}/")).await;
    b.wait_for("#keys li", "the keys after reload", |t| t == ["user:1"])
        .await;
    assert!(!b.displayed("#auth-form").await);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_renders_every_operation_without_the_internet() {
    if !browser_available() {
        return;
    }
    let (base, _db, _dir) = serve(HttpSettings::default(), &[]).await;
    let operations = http::routes().len();
    let b = Browser::start().await;
    b.goto(&format!("{base}/docs")).await;
    // One card per operation, then one for the schemas.
    let titles = b
        .wait_for("#docs .op h2", "every operation", |t| {
            t.len() == operations + 1
        })
        .await;
    assert!(
        titles.contains(&"GET /v1/keys/{key}".to_string()),
        "{titles:?}"
    );
    assert!(titles.contains(&"POST /v1/batch".to_string()), "{titles:?}");
    let intro = b.texts("#docs-intro").await;
    assert!(intro[0].contains("base64"), "{intro:?}");
    assert_eq!(b.texts("#docs-error").await, [""]);
    b.screenshot("docs.png").await;
    b.close().await;
}
