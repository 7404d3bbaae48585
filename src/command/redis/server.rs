//! Redis's connection, server and transaction commands, which the RESP
//! front-end answers itself, and inmem's own commands offered over RESP.

use super::RedisSpec;

/// The connection, server and transaction commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[];
