//! Server administration over RESP (CLIENT KILL and LIST filters, SHUTDOWN,
//! BGSAVE, MEMORY, OBJECT, CONFIG, INFO), checked against the replies
//! redis-server 7.0 gives to the same requests.

mod support;

use inmem::server::resp::Frame;
use support::{Server, error, simple};

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn id_of(raw: &mut support::Raw) -> i64 {
    match raw.call(&["CLIENT", "ID"]) {
        Frame::Integer(id) => id,
        other => panic!("CLIENT ID answered {other:?}"),
    }
}

fn text(frame: Frame) -> String {
    match frame {
        Frame::Bulk(bytes) => String::from_utf8(bytes).expect("UTF-8"),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The ids at the start of CLIENT LIST lines.
fn listed_ids(list: &str) -> Vec<i64> {
    list.lines()
        .map(|line| {
            let id = line
                .strip_prefix("id=")
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or_else(|| panic!("bad line {line}"));
            id.parse().expect("numeric id")
        })
        .collect()
}

#[test]
fn client_kill_filters_spare_the_caller_and_refuse_bad_values() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut me = server.raw();
    let mut other = server.raw();
    let my_id = id_of(&mut me);
    let other_id = id_of(&mut other);
    for (args, answer) in [
        (
            vec!["CLIENT", "KILL", "TYPE", "foo"],
            error("ERR Unknown client type 'foo'"),
        ),
        (
            vec!["CLIENT", "KILL", "USER", "nobody"],
            error("ERR No such user 'nobody'"),
        ),
        (
            vec!["CLIENT", "KILL", "SKIPME", "maybe"],
            error("ERR syntax error"),
        ),
        (
            vec!["CLIENT", "KILL", "MAXAGE", "10"],
            error("ERR syntax error"),
        ),
        (
            vec!["CLIENT", "KILL", "ID", "1", "TYPE"],
            error("ERR syntax error"),
        ),
        (
            vec!["CLIENT", "KILL", "ID", "0"],
            error("ERR client-id should be greater than 0"),
        ),
        (
            vec!["CLIENT", "KILL", "ID", "abc"],
            error("ERR client-id should be greater than 0"),
        ),
        (vec!["CLIENT", "KILL", "ID"], error("ERR No such client")),
        (vec!["CLIENT", "KILL", "TYPE", "master"], Frame::Integer(0)),
        (vec!["CLIENT", "KILL", "TYPE", "replica"], Frame::Integer(0)),
        (vec!["CLIENT", "KILL", "TYPE", "slave"], Frame::Integer(0)),
        (vec!["CLIENT", "KILL", "TYPE", "pubsub"], Frame::Integer(0)),
        (
            vec!["CLIENT", "KILL", "ID", &my_id.to_string()],
            Frame::Integer(0),
        ),
        (
            vec!["CLIENT", "KILL", "SKIPME", "yes", "ID", &my_id.to_string()],
            Frame::Integer(0),
        ),
    ] {
        assert_eq!(me.call(&args), answer, "{args:?}");
        assert_eq!(other.call(&["PING"]), simple("PONG"), "{args:?}");
    }
    assert_eq!(me.call(&["PING"]), simple("PONG"));
    // The new form spares the caller by default: only the other one goes.
    assert_eq!(
        me.call(&["CLIENT", "KILL", "TYPE", "Normal", "USER", "default"]),
        Frame::Integer(1)
    );
    assert!(other.is_closed());
    assert_eq!(me.call(&["PING"]), simple("PONG"));
    let mut third = server.raw();
    let third_id = id_of(&mut third);
    assert_ne!(third_id, other_id);
    // SKIPME no counts and closes the caller too, after its reply.
    assert_eq!(
        me.call(&["CLIENT", "KILL", "SKIPME", "no"]),
        Frame::Integer(2)
    );
    assert!(third.is_closed());
    assert!(me.is_closed());
}

#[test]
fn client_kill_old_form_closes_the_caller_after_ok() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut me = server.raw();
    let Frame::Bulk(info) = me.call(&["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO is a bulk string");
    };
    let info = String::from_utf8(info).unwrap();
    let addr = info
        .split(' ')
        .find_map(|field| field.strip_prefix("addr="))
        .expect("addr field")
        .to_string();
    assert_eq!(me.call(&["CLIENT", "KILL", &addr]), simple("OK"));
    assert!(me.is_closed());
}

#[test]
fn client_list_filters_by_type_and_id() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut me = server.raw();
    let mut other = server.raw();
    let my_id = id_of(&mut me);
    let other_id = id_of(&mut other);
    let all = listed_ids(&text(me.call(&["CLIENT", "LIST"])));
    assert_eq!(all, vec![my_id, other_id]);
    assert_eq!(
        listed_ids(&text(me.call(&["CLIENT", "LIST", "TYPE", "normal"]))),
        vec![my_id, other_id]
    );
    assert_eq!(text(me.call(&["CLIENT", "LIST", "TYPE", "pubsub"])), "");
    assert_eq!(text(me.call(&["CLIENT", "LIST", "TYPE", "MASTER"])), "");
    assert_eq!(
        listed_ids(&text(me.call(&[
            "CLIENT",
            "LIST",
            "ID",
            &other_id.to_string(),
            "99999",
            "-5",
            &my_id.to_string()
        ]))),
        vec![other_id, my_id]
    );
    for (args, answer) in [
        (vec!["CLIENT", "LIST", "x"], "ERR syntax error"),
        (vec!["CLIENT", "LIST", "TYPE"], "ERR syntax error"),
        (vec!["CLIENT", "LIST", "ID"], "ERR syntax error"),
        (
            vec!["CLIENT", "LIST", "TYPE", "normal", "x"],
            "ERR syntax error",
        ),
        (
            vec!["CLIENT", "LIST", "TYPE", "foo"],
            "ERR Unknown client type 'foo'",
        ),
        (
            vec!["CLIENT", "LIST", "ID", "1", "abc"],
            "ERR Invalid client ID",
        ),
    ] {
        assert_eq!(me.call(&args), error(answer), "{args:?}");
    }
}
