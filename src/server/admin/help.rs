//! The HELP subcommands of CLIENT, CONFIG, OBJECT and MEMORY: lines in Redis's
//! layout (a heading, `SUBCOMMAND args` then an indented description, HELP
//! last), sent as status replies as Redis does, describing what inmem does.

use crate::server::resp::Frame;

/// CLIENT HELP's lines.
pub const CLIENT: &[&str] = &[
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type (all of inmem's are NORMAL).",
    "    * USER <username>",
    "      Kill connections authenticated by <username> (inmem has only 'default').",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of specified IDs only.",
    "NO-EVICT (ON|OFF)",
    "    Accepted; inmem never evicts clients.",
    "NO-TOUCH (ON|OFF)",
    "    Accepted; reads still count as uses of their keys.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETINFO <option> <value>",
    "    Accepted and not kept.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
];

/// CONFIG HELP's lines.
pub const CONFIG: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value> [<directive> <value> ...]",
    "    Set the configuration <directive> to <value>. Settings inmem fixes at",
    "    start-up accept only their current value.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Refused: inmem runs without a config file (its settings come from the",
    "    command line).",
];

/// OBJECT HELP's lines.
pub const OBJECT: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation Redis would use for the value",
    "    associated with a <key> (int, embstr or raw).",
    "FREQ <key>",
    "    inmem has no LFU policy, so access frequency is not tracked.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key> (always 1: values are not shared).",
];

/// MEMORY HELP's lines.
pub const MEMORY: &[&str] = &[
    "USAGE <key> [SAMPLES <count>]",
    "    Return the estimated bytes used by <key> and its value. SAMPLES is accepted",
    "    and ignored: string values are measured exactly.",
];

/// The help reply of `command`, whose subcommands `body` describes.
pub fn help(command: &str, body: &[&str]) -> Frame {
    let heading = format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    let lines = std::iter::once(heading)
        .chain(body.iter().map(|line| (*line).to_string()))
        .chain(["HELP".to_string(), "    Prints this help.".to_string()]);
    Frame::Array(lines.map(Frame::Simple).collect())
}
