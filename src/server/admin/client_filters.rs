//! CLIENT KILL and CLIENT LIST: choosing connections by Redis's filters
//! (ID, ADDR, LADDR, TYPE, USER, SKIPME). Every inmem connection is a
//! `normal` client of the user `default`, the only user there is.

use super::bad;
use crate::command::redis;
use crate::error::CommandError;
use crate::server::Shared;
use crate::server::clients::ClientHandle;
use crate::server::resp::Frame;
use std::sync::Arc;

/// Redis's client types; inmem has no replicas, masters or subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    Pubsub,
}

/// A TYPE value, any case, with Redis's error for others.
fn client_type(name: &[u8]) -> Result<ClientType, CommandError> {
    match name.to_ascii_lowercase().as_slice() {
        b"normal" => Ok(ClientType::Normal),
        b"replica" | b"slave" => Ok(ClientType::Replica),
        b"master" => Ok(ClientType::Master),
        b"pubsub" => Ok(ClientType::Pubsub),
        _ => Err(bad(format!(
            "Unknown client type '{}'",
            String::from_utf8_lossy(name)
        ))),
    }
}

/// The connections CLIENT KILL's new form picks.
#[derive(Debug)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    kind: Option<ClientType>,
    skipme: bool,
}

impl KillFilter {
    /// Reads `option value` pairs in order, stopping at the first error as
    /// Redis does (so `TYPE foo SKIPME maybe` reports the type).
    fn parse(args: &[Vec<u8>]) -> Result<Self, CommandError> {
        let mut filter = KillFilter {
            id: None,
            addr: None,
            laddr: None,
            kind: None,
            skipme: true,
        };
        let mut rest = args;
        while let Some(option) = rest.first() {
            let Some(value) = rest.get(1) else {
                return Err(bad("syntax error"));
            };
            match option.to_ascii_lowercase().as_slice() {
                b"id" => {
                    let id = redis::parse_int(value)
                        .ok()
                        .filter(|id| *id >= 1)
                        .ok_or_else(|| bad("client-id should be greater than 0"))?;
                    filter.id = Some(id.unsigned_abs());
                }
                b"type" => filter.kind = Some(client_type(value)?),
                b"addr" => filter.addr = Some(String::from_utf8_lossy(value).into_owned()),
                b"laddr" => filter.laddr = Some(String::from_utf8_lossy(value).into_owned()),
                b"user" => {
                    // User names are case-sensitive; `default` owns every connection.
                    if value.as_slice() != b"default" {
                        return Err(bad(format!(
                            "No such user '{}'",
                            String::from_utf8_lossy(value)
                        )));
                    }
                }
                b"skipme" => {
                    filter.skipme = match value.to_ascii_lowercase().as_slice() {
                        b"yes" => true,
                        b"no" => false,
                        _ => return Err(bad("syntax error")),
                    }
                }
                _ => return Err(bad("syntax error")),
            }
            rest = &rest[2..];
        }
        Ok(filter)
    }

    fn matches(&self, client: &ClientHandle, caller: u64) -> bool {
        self.id.is_none_or(|id| id == client.id)
            && self
                .addr
                .as_ref()
                .is_none_or(|a| *a == client.addr.to_string())
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| *a == client.local.to_string())
            && self.kind.is_none_or(|kind| kind == ClientType::Normal)
            && !(self.skipme && client.id == caller)
    }
}

/// CLIENT KILL: the old `ip:port` form (`+OK`, or `No such client`), or
/// `option value` pairs answering how many connections were closed. `caller`
/// is the asking connection's id: the new form spares it unless `SKIPME no`.
/// A killed caller is closed by its connection after this reply.
pub fn client_kill(
    shared: &Arc<Shared>,
    caller: u64,
    args: &[Vec<u8>],
) -> Result<Frame, CommandError> {
    let clients = shared.clients.list();
    if let [addr] = args {
        let addr = String::from_utf8_lossy(addr);
        let target = clients.iter().find(|c| c.addr.to_string() == addr);
        return match target {
            Some(client) => {
                client.kill();
                Ok(Frame::Simple("OK".into()))
            }
            None => Err(bad("No such client")),
        };
    }
    let filter = KillFilter::parse(args)?;
    let mut killed = 0;
    for client in clients.iter().filter(|c| filter.matches(c, caller)) {
        client.kill();
        killed += 1;
    }
    Ok(Frame::Integer(killed))
}

/// CLIENT LIST [TYPE type | ID id [id ...]]: one line per connection; with
/// IDs, the listed ones that exist, in the order asked.
pub fn client_list(shared: &Arc<Shared>, args: &[Vec<u8>]) -> Result<Frame, CommandError> {
    let clients = shared.clients.list();
    let lines: Vec<&Arc<ClientHandle>> = match args {
        [] => clients.iter().collect(),
        [option, value] if option.eq_ignore_ascii_case(b"type") => {
            if client_type(value)? == ClientType::Normal {
                clients.iter().collect()
            } else {
                Vec::new()
            }
        }
        [option, ids @ ..] if !ids.is_empty() && option.eq_ignore_ascii_case(b"id") => {
            let mut picked = Vec::new();
            for id in ids {
                let id = redis::parse_int(id).map_err(|_| bad("Invalid client ID"))?;
                picked.extend(clients.iter().filter(|c| i64::try_from(c.id) == Ok(id)));
            }
            picked
        }
        _ => return Err(bad("syntax error")),
    };
    Ok(Frame::Verbatim {
        format: "txt".into(),
        text: lines
            .iter()
            .map(|c| format!("{}\n", c.describe()))
            .collect::<String>()
            .into_bytes(),
    })
}
