//! The HTTP JSON API through a real HTTP client (reqwest) against the router
//! served in-process on 127.0.0.1:0: every route, every error status, the
//! OpenAPI document against the router's route table, and the embedded pages.

use inmem::engine::{Eviction, Limits, ManualClock};
use inmem::persist::disk::SimDisk;
use inmem::persist::log::Fsync;
use inmem::server::http::{self, HttpSettings};
use inmem::{Db, Options};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

const START_MS: u64 = 1_700_000_000_000;

/// A served router, its database and an HTTP client.
struct Server {
    base: String,
    db: Arc<Db>,
    clock: ManualClock,
    client: reqwest::Client,
    token: Option<String>,
    _dir: tempfile::TempDir,
}

/// What one request answered.
struct Answer {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The error code of an error answer.
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("(none)")
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }

    #[track_caller]
    fn expect_error(&self, status: u16, code: &str) -> &str {
        self.expect(status);
        assert_eq!(self.code(), code, "{}", self.body);
        let message = self.body["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        message
    }
}

async fn serve(options: Options, settings: HttpSettings) -> (String, Arc<Db>) {
    let db = Db::open(options).unwrap();
    let app = http::router(db.clone(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), db)
}

fn options(dir: &std::path::Path, clock: &ManualClock) -> Options {
    let mut options = Options::new(dir);
    options.clock = Arc::new(clock.clone());
    options.active_expiry = false;
    options.command_log = None;
    options.persistence.snapshot_interval = std::time::Duration::ZERO;
    options
}

async fn start_with(settings: HttpSettings, adjust: impl FnOnce(&mut Options)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let mut options = options(dir.path(), &clock);
    adjust(&mut options);
    let (base, db) = serve(options, settings).await;
    Server {
        base,
        db,
        clock,
        client: reqwest::Client::new(),
        token: None,
        _dir: dir,
    }
}

async fn start() -> Server {
    start_with(HttpSettings::default(), |_| {}).await
}

impl Server {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            body,
            headers,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    async fn raw(&self, method: Method, path: &str, body: &'static str) -> Answer {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }
}

#[tokio::test]
async fn put_get_delete_round_trip_with_404s() {
    let s = start().await;
    let put = s.put("/v1/keys/user:1", json!({ "value": "Ada" })).await;
    assert_eq!(put.expect(200)["stored"], true);
    let got = s.get("/v1/keys/user:1").await;
    assert_eq!(got.expect(200), &json!({ "key": "user:1", "value": "Ada" }));
    // Replacing keeps one key.
    s.put("/v1/keys/user:1", json!({ "value": "Grace" }))
        .await
        .expect(200);
    assert_eq!(s.get("/v1/keys/user:1").await.body["value"], "Grace");
    assert_eq!(
        s.delete("/v1/keys/user:1").await.expect(200),
        &json!({ "deleted": 1 })
    );
    let message = s
        .get("/v1/keys/user:1")
        .await
        .expect_error(404, "not_found")
        .to_string();
    assert!(message.contains("user:1"), "{message}");
    s.delete("/v1/keys/user:1")
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn keys_with_slashes_spaces_and_unicode_survive_the_path() {
    let s = start().await;
    s.put("/v1/keys/a%2Fb%20c%C3%A9", json!({ "value": "x" }))
        .await
        .expect(200);
    let got = s.get("/v1/keys/a%2Fb%20c%C3%A9").await;
    assert_eq!(got.expect(200)["key"], "a/b cé");
    assert_eq!(s.get("/v1/keys").await.body["keys"], json!(["a/b cé"]));
    s.get("/v1/keys/bad%zz")
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn bytes_that_are_not_utf8_travel_as_base64_both_ways() {
    let s = start().await;
    let put = s
        .put(
            "/v1/keys/%FF%00k",
            json!({ "value": { "base64": "/wABAg==" } }),
        )
        .await;
    assert_eq!(put.expect(200)["key"], json!({ "base64": "/wBr" }));
    let got = s.get("/v1/keys/%FF%00k").await;
    assert_eq!(
        got.expect(200),
        &json!({ "key": { "base64": "/wBr" }, "value": { "base64": "/wABAg==" } })
    );
    // The engine holds the exact bytes.
    let entries = s.db.engine().entries("0");
    assert_eq!(entries[0].0, b"\xff\x00k");
    assert_eq!(&entries[0].1.value[..], b"\xff\x00\x01\x02");
    let listed = s.get("/v1/keys?values=true").await;
    assert_eq!(
        listed.body["items"],
        json!([{ "key": { "base64": "/wBr" }, "value": { "base64": "/wABAg==" } }])
    );
    s.put(
        "/v1/keys/k",
        json!({ "value": { "base64": "not base64!" } }),
    )
    .await
    .expect_error(400, "bad_request");
}

#[tokio::test]
async fn put_rejects_bad_bodies_with_400() {
    let s = start().await;
    s.put("/v1/keys/k", json!({}))
        .await
        .expect_error(400, "bad_request");
    s.put("/v1/keys/k", json!({ "value": "v", "ttl": 0 }))
        .await
        .expect_error(400, "bad_request");
    s.put("/v1/keys/k", json!({ "value": "v", "ttl": -5 }))
        .await
        .expect_error(400, "bad_request");
    s.put("/v1/keys/k", json!({ "value": "v", "ttl": i64::MAX }))
        .await
        .expect_error(400, "bad_request");
    s.put("/v1/keys/k", json!({ "value": 12 }))
        .await
        .expect_error(400, "bad_json");
    s.put("/v1/keys/k", json!({ "value": "v", "colour": "red" }))
        .await
        .expect_error(400, "bad_json");
    s.raw(Method::PUT, "/v1/keys/k", "{not json")
        .await
        .expect_error(400, "bad_json");
    // Nothing was stored by any of them.
    s.get("/v1/keys/k").await.expect_error(404, "not_found");
}

#[tokio::test]
async fn ttl_counts_down_with_the_clock_and_expire_persist_work() {
    let s = start().await;
    let put = s
        .put("/v1/keys/session", json!({ "value": "x", "ttl": 10 }))
        .await;
    assert_eq!(put.expect(200)["ttl"], 10);
    assert_eq!(s.get("/v1/keys/session/ttl").await.expect(200)["ttl"], 10);
    s.clock.advance(4_000);
    assert_eq!(s.get("/v1/keys/session/ttl").await.body["ttl"], 6);
    let expired = s
        .post("/v1/keys/session/expire", json!({ "seconds": 100 }))
        .await;
    assert_eq!(expired.expect(200)["ttl"], 100);
    assert_eq!(s.get("/v1/keys/session/ttl").await.body["ttl"], 100);
    let persisted = s.post("/v1/keys/session/persist", json!(null)).await;
    assert_eq!(persisted.expect(200)["persisted"], true);
    assert_eq!(
        s.get("/v1/keys/session/ttl").await.expect(200)["ttl"],
        Value::Null
    );
    let again = s.post("/v1/keys/session/persist", json!(null)).await;
    assert_eq!(again.expect(200)["persisted"], false);
    // A TTL runs out with the clock.
    s.post("/v1/keys/session/expire", json!({ "seconds": 5 }))
        .await
        .expect(200);
    s.clock.advance(5_000);
    s.get("/v1/keys/session")
        .await
        .expect_error(404, "not_found");
    // Expire with zero deletes, as Redis does.
    s.put("/v1/keys/gone", json!({ "value": "x" }))
        .await
        .expect(200);
    s.post("/v1/keys/gone/expire", json!({ "seconds": 0 }))
        .await
        .expect(200);
    s.get("/v1/keys/gone").await.expect_error(404, "not_found");
    // Missing keys and bad bodies.
    s.get("/v1/keys/nope/ttl")
        .await
        .expect_error(404, "not_found");
    s.post("/v1/keys/nope/expire", json!({ "seconds": 5 }))
        .await
        .expect_error(404, "not_found");
    s.post("/v1/keys/nope/persist", json!(null))
        .await
        .expect_error(404, "not_found");
    s.post("/v1/keys/nope/expire", json!({}))
        .await
        .expect_error(400, "bad_request");
    s.post("/v1/keys/nope/expire", json!({ "seconds": i64::MAX }))
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn incr_adds_and_refuses_non_integers_and_overflow() {
    let s = start().await;
    let first = s.post("/v1/keys/hits/incr", json!(null)).await;
    assert_eq!(first.expect(200)["value"], 1);
    let more = s.post("/v1/keys/hits/incr", json!({ "by": 41 })).await;
    assert_eq!(more.expect(200)["value"], 42);
    let less = s.post("/v1/keys/hits/incr", json!({ "by": -2 })).await;
    assert_eq!(less.expect(200)["value"], 40);
    assert_eq!(s.get("/v1/keys/hits").await.body["value"], "40");
    s.put("/v1/keys/name", json!({ "value": "Ada" }))
        .await
        .expect(200);
    s.post("/v1/keys/name/incr", json!({ "by": 1 }))
        .await
        .expect_error(400, "not_an_integer");
    s.put("/v1/keys/big", json!({ "value": i64::MAX.to_string() }))
        .await
        .expect(200);
    s.post("/v1/keys/big/incr", json!({ "by": 1 }))
        .await
        .expect_error(400, "overflow");
    s.post("/v1/keys/big/incr", json!({ "by": "one" }))
        .await
        .expect_error(400, "bad_json");
}

#[tokio::test]
async fn listing_paginates_with_a_cursor_and_filters_by_glob_or_regex() {
    let s = start().await;
    let statements: Vec<String> = (0..25)
        .map(|i| format!("put user:{i:02} v{i}"))
        .chain(["put other x".to_string()])
        .collect();
    s.post("/v1/batch", json!({ "statements": statements }))
        .await
        .expect(200);
    let mut seen = Vec::new();
    let mut path = "/v1/keys?match=user:*&count=10".to_string();
    let mut pages = 0;
    loop {
        let page = s.get(&path).await;
        let body = page.expect(200).clone();
        assert_eq!(body["total"], 25);
        pages += 1;
        for key in body["keys"].as_array().unwrap() {
            seen.push(key.as_str().unwrap().to_string());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/keys?match=user:*&count=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| format!("user:{i:02}")).collect();
    assert_eq!(seen, expected);

    let all = s.get("/v1/keys").await;
    assert_eq!(all.expect(200)["total"], 26);
    assert_eq!(all.body["namespace"], "0");
    let regex = s.get("/v1/keys?regex=%5Euser%3A0%5B12%5D%24").await;
    assert_eq!(regex.expect(200)["keys"], json!(["user:01", "user:02"]));
    let items = s.get("/v1/keys?match=user:1*&values=true&count=2").await;
    assert_eq!(
        items.expect(200)["items"],
        json!([{ "key": "user:10", "value": "v10" }, { "key": "user:11", "value": "v11" }])
    );
    assert_eq!(items.body["total"], 10);
    assert!(items.body["next_cursor"].is_string());

    for bad in [
        "/v1/keys?match=a*&regex=b",
        "/v1/keys?count=0",
        "/v1/keys?count=5000",
        "/v1/keys?count=ten",
        "/v1/keys?values=maybe",
        "/v1/keys?cursor=%21%21",
    ] {
        s.get(bad).await.expect_error(400, "bad_request");
    }
    s.get("/v1/keys?regex=(")
        .await
        .expect_error(400, "invalid_regex");
}

#[tokio::test]
async fn namespaces_isolate_keys_and_can_be_listed_and_dropped() {
    let s = start().await;
    s.put("/v1/keys/k?ns=shop", json!({ "value": "in shop" }))
        .await
        .expect(200);
    s.put("/v1/keys/k", json!({ "value": "in 0" }))
        .await
        .expect(200);
    assert_eq!(s.get("/v1/keys/k?ns=shop").await.body["value"], "in shop");
    assert_eq!(s.get("/v1/keys/k").await.body["value"], "in 0");
    let listed = s.get("/v1/keys?ns=shop").await;
    assert_eq!(listed.expect(200)["namespace"], "shop");
    let namespaces = s.get("/v1/namespaces").await;
    assert_eq!(
        namespaces.expect(200)["namespaces"],
        json!([{ "name": "0", "keys": 1 }, { "name": "shop", "keys": 1 }])
    );
    let dropped = s.delete("/v1/namespaces/shop").await;
    assert_eq!(dropped.expect(200)["dropped"], 1);
    s.get("/v1/keys/k?ns=shop")
        .await
        .expect_error(404, "not_found");
    s.delete("/v1/namespaces/shop")
        .await
        .expect_error(404, "not_found");
    s.get("/v1/keys/k?ns=")
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn batch_is_atomic_and_a_failure_is_409_naming_the_statement() {
    let s = start().await;
    let ok = s
        .post(
            "/v1/batch",
            json!({ "statements": ["put a 1", "incr a 4", "get a"] }),
        )
        .await;
    assert_eq!(ok.expect(200)["results"], json!(["OK", 5, "5"]));
    let failed = s
        .post(
            "/v1/batch",
            json!({ "statements": ["put b 1", "put name x", "incr name", "put c 3"] }),
        )
        .await;
    failed.expect_error(409, "aborted");
    assert_eq!(failed.body["error"]["statement"]["index"], 3);
    assert_eq!(failed.body["error"]["statement"]["text"], "incr name");
    // Nothing of it was applied.
    s.get("/v1/keys/b").await.expect_error(404, "not_found");
    s.get("/v1/keys/name").await.expect_error(404, "not_found");
    // Commands that are not keyspace operations abort the batch too.
    s.post("/v1/batch", json!({ "statements": ["put b 1", "begin"] }))
        .await
        .expect_error(409, "aborted");
    s.post("/v1/batch", json!({ "statements": ["put \"open"] }))
        .await
        .expect_error(400, "parse_error");
    s.post("/v1/batch", json!({ "statements": [] }))
        .await
        .expect_error(400, "bad_request");
    // Batches honour ?ns=.
    s.post("/v1/batch?ns=jobs", json!({ "statements": ["put j 1"] }))
        .await
        .expect(200);
    assert_eq!(s.get("/v1/keys/j?ns=jobs").await.body["value"], "1");
}

#[tokio::test]
async fn find_searches_keys_and_values_by_exact_glob_and_regex() {
    let s = start().await;
    s.post(
        "/v1/batch",
        json!({ "statements": ["put user:1 ada", "put user:2 grace", "put team:1 ada"] }),
    )
    .await
    .expect(200);
    let glob = s
        .post(
            "/v1/find",
            json!({ "in": "keys", "match": "glob", "pattern": "user:*" }),
        )
        .await;
    assert_eq!(glob.expect(200)["keys"], json!(["user:1", "user:2"]));
    let exact = s
        .post("/v1/find", json!({ "in": "values", "pattern": "ada" }))
        .await;
    assert_eq!(
        exact.expect(200)["items"],
        json!([{ "key": "team:1", "value": "ada" }, { "key": "user:1", "value": "ada" }])
    );
    let regex = s
        .post(
            "/v1/find",
            json!({ "in": "values", "match": "regex", "pattern": "^gr" }),
        )
        .await;
    assert_eq!(
        regex.expect(200)["items"],
        json!([{ "key": "user:2", "value": "grace" }])
    );
    s.post("/v1/find", json!({ "match": "regex", "pattern": "[" }))
        .await
        .expect_error(400, "invalid_regex");
    s.post("/v1/find", json!({ "in": "keys" }))
        .await
        .expect_error(400, "bad_request");
    s.post("/v1/find", json!({ "in": "everything", "pattern": "x" }))
        .await
        .expect_error(400, "bad_json");
}

#[tokio::test]
async fn aliases_are_listed_defined_used_and_removed() {
    let s = start().await;
    let defined = s
        .put("/v1/aliases", json!({ "name": "store", "body": "put" }))
        .await;
    assert_eq!(defined.expect(200)["name"], "store");
    let listed = s.get("/v1/aliases").await;
    assert_eq!(listed.expect(200)["aliases"]["store"], "put");
    // Batches expand aliases as the REPL does.
    s.post("/v1/batch", json!({ "statements": ["store user:7 Ada"] }))
        .await
        .expect(200);
    assert_eq!(s.get("/v1/keys/user:7").await.body["value"], "Ada");
    s.delete("/v1/aliases?name=store").await.expect(200);
    assert!(s.get("/v1/aliases").await.body["aliases"]["store"].is_null());
    s.delete("/v1/aliases?name=store")
        .await
        .expect_error(404, "not_found");
    s.delete("/v1/aliases")
        .await
        .expect_error(400, "bad_request");
    s.put("/v1/aliases", json!({ "name": "x" }))
        .await
        .expect_error(400, "bad_request");
    // The alias table's own checks apply (a command name cannot be an alias).
    s.put("/v1/aliases", json!({ "name": "put", "body": "get" }))
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn stats_health_save_and_compact() {
    let s = start().await;
    s.put("/v1/keys/a", json!({ "value": "1" }))
        .await
        .expect(200);
    s.get("/v1/keys/a").await.expect(200);
    s.get("/v1/keys/missing").await.expect(404);
    let stats = s.get("/v1/stats").await;
    let body = stats.expect(200);
    assert_eq!(body["keys"], 1);
    assert_eq!(body["hits"], 1);
    assert_eq!(body["misses"], 1);
    assert_eq!(body["hit_ratio"], 0.5);
    assert!(body["latency_us"]["put"]["p99"].as_f64().unwrap() > 0.0);
    assert_eq!(s.get("/health").await.expect(200)["status"], "ok");
    assert_eq!(
        s.post("/v1/save", json!(null)).await.expect(200)["ok"],
        true
    );
    assert!(s.db.data_dir().join("snapshot.db").exists());
    let saved = s.get("/v1/stats").await;
    assert_eq!(saved.body["last_snapshot"]["keys"], 1);
    assert_eq!(
        s.post("/v1/compact", json!(null)).await.expect(200)["ok"],
        true
    );
}

#[tokio::test]
async fn a_full_keyspace_is_503() {
    let s = start_with(HttpSettings::default(), |o| {
        o.limits = Limits {
            max_keys: Some(1),
            maxmemory: None,
            policy: Eviction::Noeviction,
        };
    })
    .await;
    s.put("/v1/keys/a", json!({ "value": "1" }))
        .await
        .expect(200);
    s.put("/v1/keys/b", json!({ "value": "2" }))
        .await
        .expect_error(503, "out_of_memory");
}

#[tokio::test]
async fn a_write_that_cannot_be_made_durable_is_503_and_health_says_so() {
    let sim = SimDisk::new();
    let disk = sim.clone();
    let s = start_with(HttpSettings::default(), move |o| {
        o.persistence.fsync = Fsync::Always;
        o.persistence.disk = Arc::new(disk);
    })
    .await;
    s.put("/v1/keys/a", json!({ "value": "1" }))
        .await
        .expect(200);
    sim.set_space(0);
    s.put("/v1/keys/b", json!({ "value": "2" }))
        .await
        .expect_error(503, "unavailable");
    s.get("/health").await.expect_error(503, "unavailable");
    s.put("/v1/keys/c", json!({ "value": "3" }))
        .await
        .expect_error(503, "unavailable");
}

#[tokio::test]
async fn requirepass_needs_a_bearer_token_401_without_403_when_wrong() {
    let settings = HttpSettings {
        requirepass: Some("s3cret".into()),
        ..HttpSettings::default()
    };
    let mut s = start_with(settings, |_| {}).await;
    let none = s.get("/v1/keys").await;
    none.expect_error(401, "unauthorized");
    assert!(
        none.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    s.put("/v1/keys/a", json!({ "value": "1" }))
        .await
        .expect_error(401, "unauthorized");
    // Pages, the document and health stay open so a browser can ask for the password.
    s.get("/").await.expect(200);
    s.get("/openapi.json").await.expect(200);
    s.get("/health").await.expect(200);
    s.token = Some("wrong".into());
    s.get("/v1/keys").await.expect_error(403, "forbidden");
    s.put("/v1/keys/a", json!({ "value": "1" }))
        .await
        .expect_error(403, "forbidden");
    s.token = Some("s3cret".into());
    s.put("/v1/keys/a", json!({ "value": "1" }))
        .await
        .expect(200);
    assert_eq!(s.get("/v1/keys").await.expect(200)["keys"], json!(["a"]));
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_in_the_error_shape() {
    let settings = HttpSettings {
        requirepass: None,
        max_body_bytes: 64,
    };
    let s = start_with(settings, |_| {}).await;
    let big = "x".repeat(100);
    s.put("/v1/keys/k", json!({ "value": big }))
        .await
        .expect_error(413, "payload_too_large");
    s.post("/v1/batch", json!({ "statements": [big] }))
        .await
        .expect_error(413, "payload_too_large");
    s.put("/v1/keys/k", json!({ "value": "small" }))
        .await
        .expect(200);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_json() {
    let s = start().await;
    s.get("/v2/nothing").await.expect_error(404, "no_route");
    s.get("/v1/keys/a/b/c").await.expect_error(404, "no_route");
    s.post("/v1/keys", json!({}))
        .await
        .expect_error(405, "method_not_allowed");
    s.send(Method::PATCH, "/v1/keys/a", None)
        .await
        .expect_error(405, "method_not_allowed");
    s.get("/assets/nothing.js")
        .await
        .expect_error(404, "not_found");
}

/// Every route the router serves is in the document with its method, and the
/// document lists nothing else.
#[tokio::test]
async fn openapi_document_lists_exactly_the_routers_routes() {
    let s = start().await;
    let doc = s.get("/openapi.json").await.expect(200).clone();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            assert!(op["responses"]["200"].is_object(), "{method} {path}");
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut served: Vec<(String, String)> = http::routes()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served);
    assert!(served.len() >= 20, "{served:?}");
}

/// Every documented operation answers with something other than 404/405 when
/// called on data that exists (so the document cannot name a dead path).
#[tokio::test]
async fn every_documented_operation_is_served() {
    let s = start().await;
    let doc = s.get("/openapi.json").await.body.clone();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase(), path.clone()));
        }
    }
    // Deletions last, so the data the others need is still there.
    operations.sort_by_key(|(method, _)| method == "DELETE");
    for (method, template) in operations {
        s.put("/v1/keys/k", json!({ "value": "1", "ttl": 100 }))
            .await
            .expect(200);
        s.put("/v1/keys/k?ns=other", json!({ "value": "1" }))
            .await
            .expect(200);
        s.put("/v1/aliases", json!({ "name": "al", "body": "get" }))
            .await
            .expect(200);
        let path = template
            .replace("{key}", "k")
            .replace("{ns}", "other")
            .replace("{name}", "style.css");
        let path = if method == "DELETE" && path == "/v1/aliases" {
            "/v1/aliases?name=al".to_string()
        } else {
            path
        };
        let body = match path.as_str() {
            "/v1/keys/k" if method == "PUT" => Some(json!({ "value": "2" })),
            "/v1/keys/k/expire" => Some(json!({ "seconds": 50 })),
            "/v1/batch" => Some(json!({ "statements": ["get k"] })),
            "/v1/find" => Some(json!({ "pattern": "k" })),
            "/v1/aliases" if method == "PUT" => Some(json!({ "name": "al", "body": "get" })),
            _ => None,
        };
        let answer = s
            .send(Method::from_bytes(method.as_bytes()).unwrap(), &path, body)
            .await;
        assert!(
            answer.status.is_success(),
            "{method} {path}: {} {}",
            answer.status,
            answer.body
        );
    }
}

#[tokio::test]
async fn pages_are_served_embedded_with_a_strict_content_security_policy() {
    let s = start().await;
    for (path, content_type, marker) in [
        ("/", "text/html", "id=\"keys\""),
        ("/docs", "text/html", "/assets/docs.js"),
        ("/assets/dashboard.js", "text/javascript", "textContent"),
        ("/assets/docs.js", "text/javascript", "openapi.json"),
        ("/assets/style.css", "text/css", "@media"),
    ] {
        let answer = s.get(path).await;
        answer.expect(200);
        let body = answer.body.as_str().unwrap();
        assert!(body.contains(marker), "{path} lacks {marker}");
        assert!(
            answer.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}"
        );
        let csp = answer.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        // No CDN: nothing is loaded from another origin.
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path}"
        );
    }
    // The dashboard never builds markup from data.
    let script = s.get("/assets/dashboard.js").await.body;
    assert!(!script.as_str().unwrap().contains("innerHTML"));
}

#[tokio::test]
async fn serve_answers_until_told_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let db = Db::open(options(dir.path(), &clock)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let served = tokio::spawn(http::serve(listener, db, HttpSettings::default(), stopping));
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), served)
        .await
        .expect("serve did not stop")
        .unwrap();
    assert!(reqwest::get(format!("{base}/health")).await.is_err());
}
