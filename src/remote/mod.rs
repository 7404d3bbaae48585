//! `inmem --connect HOST:PORT`: the REPL and scripts as a client of any
//! Redis-protocol server (inmem's own `serve`, or redis-server). Statements
//! are parsed and checked by inmem's command language, translated into Redis
//! commands, and the replies turned back into the same `Reply` values that
//! local statements give, so everything renders alike.
//!
//! - [`client`]: the blocking RESP connection and its handshake.
//! - [`translate`]: which Redis request (or SCAN walk) each command becomes.
//! - [`scan`]: SCAN and MGET walks for listings and searches.
//! - [`reply`]: RESP frames back into replies and errors.
//! - [`session`]: the remote session behind the REPL and the runner.

pub mod client;
pub mod reply;
pub mod scan;
pub mod session;
pub mod translate;

use crate::error::CommandError;
use client::LinkError;
pub use session::RemoteSession;

/// Why a request to the server failed.
#[derive(Debug)]
pub enum Failure {
    /// The connection broke: it is dropped, and the next statement reconnects.
    Link(LinkError),
    /// The server refused the command; the connection is still good.
    Command(CommandError),
}

impl From<LinkError> for Failure {
    fn from(error: LinkError) -> Self {
        Failure::Link(error)
    }
}
