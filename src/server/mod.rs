//! Network front-ends: the RESP server (Redis's protocol) and the HTTP JSON
//! API with its dashboard, both on one tokio runtime and both running typed
//! commands through the same sessions and engine as the REPL.

pub mod http;
pub mod resp;
