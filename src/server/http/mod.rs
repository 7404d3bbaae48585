//! The HTTP JSON API and the dashboard page.
//!
//! Every request runs through a [`Session`] on a blocking thread, exactly as a
//! REPL statement does, and writes are acknowledged (fsynced under
//! `appendfsync always`) before the reply is sent. Routes are registered
//! through one table, [`routes`], which the OpenAPI document is checked against.

mod assets;
mod auth;
mod body;
mod error;
mod keys;
mod openapi;
mod ops;

use crate::Db;
use crate::session::Session;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use error::ApiError;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Default largest request body: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// When set, API requests need `Authorization: Bearer <password>`.
    pub requirepass: Option<String>,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            requirepass: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
struct AppState {
    db: Arc<Db>,
}

type State = Arc<AppState>;

/// One registered route: its method and its path in axum's (and OpenAPI's) `{param}` syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    /// `GET`, `PUT`, `POST` or `DELETE`.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
}

/// Builds the router and the list of what it serves in one pass, so the two cannot drift.
struct Table {
    router: Router<State>,
    routes: Vec<Route>,
}

impl Table {
    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, State>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "PUT" => MethodFilter::PUT,
            "POST" => MethodFilter::POST,
            _ => MethodFilter::DELETE,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push(Route { method, path });
        self
    }
}

fn table() -> Table {
    let table = Table {
        router: Router::new(),
        routes: Vec::new(),
    };
    table
        .add("GET", "/", assets::dashboard)
        .add("GET", "/docs", assets::docs)
        .add("GET", "/assets/{name}", assets::asset)
        .add("GET", "/openapi.json", openapi::document)
        .add("GET", "/health", ops::health)
        .add("GET", "/v1/keys", keys::list)
        .add("GET", "/v1/keys/{key}", keys::get)
        .add("PUT", "/v1/keys/{key}", keys::put)
        .add("DELETE", "/v1/keys/{key}", keys::delete)
        .add("POST", "/v1/keys/{key}/expire", keys::expire)
        .add("GET", "/v1/keys/{key}/ttl", keys::ttl)
        .add("POST", "/v1/keys/{key}/persist", keys::persist)
        .add("POST", "/v1/keys/{key}/incr", keys::incr)
        .add("GET", "/v1/namespaces", ops::namespaces)
        .add("DELETE", "/v1/namespaces/{ns}", ops::drop_namespace)
        .add("POST", "/v1/batch", ops::batch)
        .add("POST", "/v1/find", ops::find)
        .add("GET", "/v1/aliases", ops::aliases)
        .add("PUT", "/v1/aliases", ops::define_alias)
        .add("DELETE", "/v1/aliases", ops::remove_alias)
        .add("GET", "/v1/stats", ops::stats)
        .add("POST", "/v1/save", ops::save)
        .add("POST", "/v1/compact", ops::compact)
}

/// Every route the router serves, in registration order.
pub fn routes() -> Vec<Route> {
    table().routes
}

/// The API and dashboard for `db`.
pub fn router(db: Arc<Db>, settings: HttpSettings) -> Router {
    let state = Arc::new(AppState { db });
    let password = settings.requirepass.map(Arc::<str>::from);
    table()
        .router
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(axum::middleware::from_fn_with_state(password, auth::check))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .with_state(state)
}

/// Serves the API and dashboard on `listener` until `stopping` turns true,
/// then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    db: Arc<Db>,
    settings: HttpSettings,
    mut stopping: watch::Receiver<bool>,
) {
    let shutdown = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, router(db, settings))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!("the HTTP server stopped: {e}");
    }
}

/// Runs `work` on a fresh session (in namespace `ns` when given) on a blocking
/// thread; when `writes` is set, waits until the change is acknowledged.
async fn in_session<T, F>(
    state: &State,
    ns: Option<String>,
    writes: bool,
    work: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Session) -> Result<T, ApiError> + Send + 'static,
{
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut session = Session::new(db.clone());
        if let Some(ns) = ns {
            session.use_namespace(&ns)?;
        }
        let result = work(&mut session)?;
        if writes {
            db.acknowledge().map_err(|e| {
                ApiError::unavailable(format!("the write could not be made durable: {e}"))
            })?;
        }
        Ok(result)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request's worker failed: {e}")))?
}
