//! The HTTP JSON API and the dashboard page.
//! TEMPORARY stand-in while the API is written on branch `http`.

use crate::Db;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// HTTP settings.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Password.
    pub requirepass: Option<String>,
    /// Body limit.
    pub max_body_bytes: usize,
}

/// Serves until `stopping` turns true.
pub async fn serve(
    _listener: TcpListener,
    _db: Arc<Db>,
    _settings: HttpSettings,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stopping.wait_for(|s| *s).await;
}
