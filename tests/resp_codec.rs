//! The RESP codec against bytes checked with redis-server 7.0.15: requests
//! (multibulk, inline, split anywhere, pipelined, malformed), replies of every
//! type in both protocols, limits, and properties over random input.

use bytes::BytesMut;
use inmem::server::resp::{
    Frame, Limits, Protocol, ProtocolError, ReplyDecoder, RequestDecoder, encode,
};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Records the largest single allocation each thread asks for, so tests can
/// show that a declared length is not allocated up front.
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note(size: usize) {
    // try_with: the slot may be gone while the thread is being torn down.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The largest single allocation made by `f` on this thread.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.with(|largest| largest.set(0));
    f();
    LARGEST.with(Cell::get)
}

type Args = Vec<Vec<u8>>;

fn args(words: &[&str]) -> Args {
    words.iter().map(|word| word.as_bytes().to_vec()).collect()
}

/// Decodes every request in `input`, given all at once.
fn requests(input: &[u8]) -> Result<Vec<Args>, ProtocolError> {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(request) = decoder.decode(&mut buf)? {
        out.push(request);
    }
    Ok(out)
}

/// Decodes every request in `input`, fed in chunks of `chunk` bytes.
fn requests_in_chunks(input: &[u8], chunk: usize) -> Result<Vec<Args>, ProtocolError> {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(request) = decoder.decode(&mut buf)? {
            out.push(request);
        }
    }
    Ok(out)
}

fn request_error(input: &[u8]) -> String {
    match requests(input) {
        Err(error) => error.to_string(),
        Ok(decoded) => panic!("no error for {input:?}: {decoded:?}"),
    }
}

fn encoded(frame: &Frame, protocol: Protocol) -> Vec<u8> {
    let mut out = Vec::new();
    encode(frame, protocol, &mut out);
    out
}

/// Decodes every reply in `input`, given all at once.
fn replies(input: &[u8]) -> Result<Vec<Frame>, ProtocolError> {
    replies_in_chunks(input, input.len().max(1))
}

fn replies_in_chunks(input: &[u8], chunk: usize) -> Result<Vec<Frame>, ProtocolError> {
    let mut decoder = ReplyDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some(frame) = decoder.decode(&mut buf)? {
            out.push(frame);
        }
    }
    Ok(out)
}

fn reply_error(input: &[u8]) -> String {
    match replies(input) {
        Err(error) => error.to_string(),
        Ok(decoded) => panic!("no error for {input:?}: {decoded:?}"),
    }
}

fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

// ---- requests ----

const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";

#[test]
fn multibulk_request_decodes_and_leaves_the_rest() {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut buf =
        BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPI"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(args(&["SET", "key", "value"])))
    );
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"NG\r\n");
    assert_eq!(decoder.decode(&mut buf), Ok(Some(args(&["PING"]))));
    assert!(buf.is_empty());
    assert_eq!(decoder.decode(&mut buf), Ok(None));
}

#[test]
fn requests_split_at_every_byte_decode_identically() {
    let input = [
        SET,
        b"PING\r\n",
        b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
        b"set \"a b\" 'c\\'d'\n",
        b"*2\r\n$3\r\nGET\r\n$12\r\nbin\r\n\x00\xff\r\nary\r\n",
    ]
    .concat();
    let whole = requests(&input).unwrap();
    assert_eq!(whole.len(), 5);
    assert_eq!(whole[4][1], b"bin\r\n\x00\xff\r\nary");
    for chunk in 1..=input.len() {
        assert_eq!(
            requests_in_chunks(&input, chunk).unwrap(),
            whole,
            "chunks of {chunk}"
        );
    }
    // Also split in two at every position.
    for at in 0..=input.len() {
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(&input[..at]);
        let mut got = Vec::new();
        while let Some(request) = decoder.decode(&mut buf).unwrap() {
            got.push(request);
        }
        buf.extend_from_slice(&input[at..]);
        while let Some(request) = decoder.decode(&mut buf).unwrap() {
            got.push(request);
        }
        assert_eq!(got, whole, "split at {at}");
    }
}

#[test]
fn pipelined_requests_decode_in_order() {
    let mut input = Vec::new();
    for i in 0..100 {
        let key = format!("key{i}");
        encode(
            &Frame::Array(vec![bulk("SET"), bulk(&key), bulk(&i.to_string())]),
            Protocol::Resp2,
            &mut input,
        );
        input.extend_from_slice(format!("GET {key}\r\n").as_bytes());
    }
    let decoded = requests(&input).unwrap();
    assert_eq!(decoded.len(), 200);
    for (i, pair) in decoded.chunks(2).enumerate() {
        let key = format!("key{i}");
        assert_eq!(pair[0], args(&["SET", &key, &i.to_string()]));
        assert_eq!(pair[1], args(&["GET", &key]));
    }
}

#[test]
fn blank_lines_and_empty_or_negative_counts_are_skipped() {
    // redis-server 7.0.15 answers this with two PONGs and nothing else.
    assert_eq!(
        requests(b"\r\n\n   \r\nping\nping\r\n").unwrap(),
        vec![args(&["ping"]), args(&["ping"])]
    );
    // ... and these with one PONG.
    assert_eq!(requests(b"*0\r\nPING\r\n").unwrap(), vec![args(&["PING"])]);
    assert_eq!(requests(b"*-5\r\nPING\r\n").unwrap(), vec![args(&["PING"])]);
}

#[test]
fn bytes_after_a_bulk_are_skipped_unchecked_as_redis_does() {
    // redis-server 7.0.15 answers `*1\r\n$4\r\nPINGxx` with +PONG.
    assert_eq!(
        requests(b"*1\r\n$4\r\nPINGxx").unwrap(),
        vec![args(&["PING"])]
    );
}

#[test]
fn error_texts_are_redis_7s() {
    // Each input was sent to redis-server 7.0.15, which answered with `-ERR ` and this text.
    let cases: [(&[u8], &str); 12] = [
        (b"*1\r\n+x\r\n", "Protocol error: expected '$', got '+'"),
        (
            b"*1\r\n$4\r\nPING\r\n*01\r\n",
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$04\r\nPING\r\n",
            "Protocol error: invalid bulk length",
        ),
        (b"*1\r\n\r\n", "Protocol error: expected '$', got '\r'"),
        (b"*abc\r\n", "Protocol error: invalid multibulk length"),
        (b"*-0\r\n", "Protocol error: invalid multibulk length"),
        (b"*+1\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (
            b"*1\r\n$536870913\r\n",
            "Protocol error: invalid bulk length",
        ),
        (
            b"echo \"abc\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"echo \"abc\"d\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, text) in cases {
        assert_eq!(request_error(input), text, "{input:?}");
    }
    // The encoder turns the CR of the second case into a space, as Redis does.
    let reply = encoded(
        &Frame::Error("ERR Protocol error: expected '$', got '\r'".into()),
        Protocol::Resp2,
    );
    assert_eq!(reply, b"-ERR Protocol error: expected '$', got ' '\r\n");
}

#[test]
fn lines_longer_than_64k_without_their_end_are_refused() {
    let mut long = vec![b'a'; 64 * 1024];
    // Exactly 64 KiB is still waited on, one byte more is refused.
    assert_eq!(requests(&long).unwrap(), Vec::<Args>::new());
    long.push(b'a');
    assert_eq!(
        request_error(&long),
        "Protocol error: too big inline request"
    );

    let mut count = b"*".to_vec();
    count.extend(std::iter::repeat_n(b'1', 64 * 1024));
    assert_eq!(
        request_error(&count),
        "Protocol error: too big mbulk count string"
    );

    let mut length = b"*1\r\n$".to_vec();
    length.extend(std::iter::repeat_n(b'1', 64 * 1024));
    assert_eq!(
        request_error(&length),
        "Protocol error: too big bulk count string"
    );

    // A line whose end has arrived is taken whatever its length, as in Redis.
    let mut inline = b"echo ".to_vec();
    inline.extend(std::iter::repeat_n(b'x', 100_000));
    inline.extend_from_slice(b"\r\n");
    assert_eq!(requests(&inline).unwrap()[0][1].len(), 100_000);
}

#[test]
fn declared_lengths_are_not_allocated_before_the_bytes_arrive() {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::with_capacity(64);
    let largest = largest_allocation(|| {
        buf.extend_from_slice(b"*1048576\r\n$536870912\r\nabc");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"def");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
    });
    assert!(largest < 4096, "largest allocation {largest}");

    let mut decoder = ReplyDecoder::new(Limits::default());
    let mut buf = BytesMut::with_capacity(64);
    let largest = largest_allocation(|| {
        buf.extend_from_slice(b"*1048576\r\n%1048576\r\n~1048576\r\n$536870912\r\nabc");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
    });
    assert!(largest < 4096, "largest allocation {largest}");
}

#[test]
fn counts_and_lengths_beyond_the_limits_are_refused() {
    let limits = Limits {
        max_bulk_len: 10,
        max_multibulk_len: 3,
        max_inline_len: 16,
    };
    let error = |input: &[u8]| RequestDecoder::new(limits).decode(&mut BytesMut::from(input));
    let text = |text: &str| Err(ProtocolError(text.into()));
    assert_eq!(error(b"*4\r\n"), text("invalid multibulk length"));
    assert!(matches!(error(b"*3\r\n"), Ok(None)));
    assert_eq!(error(b"*1\r\n$11\r\n"), text("invalid bulk length"));
    assert!(matches!(error(b"*1\r\n$10\r\n"), Ok(None)));
    assert_eq!(error(b"12345678901234567"), text("too big inline request"));
    // Redis's own defaults.
    assert_eq!(
        Limits::default(),
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024
        }
    );
    assert_eq!(
        request_error(b"*1048577\r\n"),
        "Protocol error: invalid multibulk length"
    );
}

#[test]
fn inline_quoting_matches_redis() {
    // Each line was sent to redis-server 7.0.15 as `RPUSH q <line>`, then read back with LRANGE.
    let cases: [(&[u8], &[&[u8]]); 10] = [
        (b"a b", &[b"a", b"b"]),
        (b"\"a b\" c", &[b"a b", b"c"]),
        (b"'a\\'b' x", &[b"a'b", b"x"]),
        (b"\"\\x41\\x4g\\n\\t\\z\\\"\" y", &[b"Ax4g\n\tz\"", b"y"]),
        (b"ab\"cd ef\" gh", &[b"abcd ef", b"gh"]),
        (b"\"\" '' x", &[b"", b"", b"x"]),
        (b"\x01\x02 \x0b x\x0by \x0c", &[b"\x01\x02", b"x\x0by"]),
        (b"'a\\\\b\\\\n'", &[b"a\\\\b\\\\n"]),
        (b"\"\\b\\a\\r\\\\\" \t x", &[b"\x08\x07\r\\", b"x"]),
        (b"PING\rPING", &[b"PING", b"PING"]),
    ];
    for (line, expected) in cases {
        let mut input = b"RPUSH q ".to_vec();
        input.extend_from_slice(line);
        input.extend_from_slice(b"\r\n");
        let mut want = args(&["RPUSH", "q"]);
        want.extend(expected.iter().map(|arg| arg.to_vec()));
        assert_eq!(requests(&input).unwrap(), vec![want], "{line:?}");
    }
    // Each of these is `unbalanced quotes in request` for redis-server 7.0.15.
    for line in [
        &b"ab\"cd ef\"gh"[..],
        b"it's x",
        b"\"a\"b",
        b"'a'b",
        b"a\\\"b c",
        b"\"abc\\",
    ] {
        let mut input = line.to_vec();
        input.push(b'\n');
        assert_eq!(
            request_error(&input),
            "Protocol error: unbalanced quotes in request",
            "{line:?}"
        );
    }
}

// ---- replies ----

/// One frame of every type, nested, with the RESP3 bytes Redis would send.
fn every_frame() -> Frame {
    Frame::Array(vec![
        Frame::Simple("OK".into()),
        Frame::Error("ERR bad".into()),
        Frame::Integer(-42),
        bulk("bin\r\n\0ary"),
        Frame::Null,
        Frame::NullArray,
        Frame::Map(vec![
            (bulk("k1"), Frame::Integer(1)),
            (bulk("k2"), Frame::Set(vec![bulk("a"), bulk("b")])),
        ]),
        Frame::Double(1.5),
        Frame::Double(f64::NEG_INFINITY),
        Frame::Boolean(true),
        Frame::Boolean(false),
        Frame::Verbatim {
            format: "txt".into(),
            text: b"some text".to_vec(),
        },
        Frame::BigNumber("-3492890328409238509324850943850943825024385".into()),
        Frame::Push(vec![bulk("message"), bulk("ch"), bulk("hi")]),
        Frame::Array(vec![]),
        Frame::Map(vec![]),
    ])
}

#[test]
fn resp3_encoding_is_byte_exact() {
    let expected: &[u8] = b"*16\r\n+OK\r\n-ERR bad\r\n:-42\r\n$9\r\nbin\r\n\0ary\r\n_\r\n_\r\n\
        %2\r\n$2\r\nk1\r\n:1\r\n$2\r\nk2\r\n~2\r\n$1\r\na\r\n$1\r\nb\r\n\
        ,1.5\r\n,-inf\r\n#t\r\n#f\r\n=13\r\ntxt:some text\r\n\
        (-3492890328409238509324850943850943825024385\r\n\
        >3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n*0\r\n%0\r\n";
    assert_eq!(
        String::from_utf8_lossy(&encoded(&every_frame(), Protocol::Resp3)),
        String::from_utf8_lossy(expected)
    );
}

#[test]
fn resp2_downgrades_are_redis_bytes() {
    let expected: &[u8] = b"*16\r\n+OK\r\n-ERR bad\r\n:-42\r\n$9\r\nbin\r\n\0ary\r\n$-1\r\n*-1\r\n\
        *4\r\n$2\r\nk1\r\n:1\r\n$2\r\nk2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n\
        $3\r\n1.5\r\n$4\r\n-inf\r\n:1\r\n:0\r\n$9\r\nsome text\r\n\
        $44\r\n-3492890328409238509324850943850943825024385\r\n\
        *3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n*0\r\n*0\r\n";
    assert_eq!(
        String::from_utf8_lossy(&encoded(&every_frame(), Protocol::Resp2)),
        String::from_utf8_lossy(expected)
    );
    // ZSCORE of 1.1 and of inf, as redis-server 7.0.15 sends them to RESP2 and RESP3 clients.
    assert_eq!(
        encoded(&Frame::Double(1.1), Protocol::Resp2),
        b"$18\r\n1.1000000000000001\r\n"
    );
    assert_eq!(
        encoded(&Frame::Double(1.1), Protocol::Resp3),
        b",1.1000000000000001\r\n"
    );
    assert_eq!(
        encoded(&Frame::Double(f64::INFINITY), Protocol::Resp2),
        b"$3\r\ninf\r\n"
    );
    assert_eq!(
        encoded(&Frame::Double(f64::INFINITY), Protocol::Resp3),
        b",inf\r\n"
    );
}

#[test]
fn simple_and_error_lines_never_carry_cr_or_lf() {
    let frame = Frame::Array(vec![
        Frame::Simple("a\r\nb".into()),
        Frame::Error("ERR x\ny\rz".into()),
        Frame::BigNumber("1\r\n".into()),
    ]);
    assert_eq!(
        encoded(&frame, Protocol::Resp3),
        b"*3\r\n+a  b\r\n-ERR x y z\r\n(1  \r\n"
    );
    // A format that is not three bytes would corrupt the stream: it is sent as txt.
    let verbatim = Frame::Verbatim {
        format: "markdown".into(),
        text: b"x".to_vec(),
    };
    assert_eq!(encoded(&verbatim, Protocol::Resp3), b"=5\r\ntxt:x\r\n");
}

/// What a frame decodes back as after being sent in `protocol`.
fn as_received(frame: &Frame, protocol: Protocol) -> Frame {
    let list = |items: &[Frame]| {
        items
            .iter()
            .map(|item| as_received(item, protocol))
            .collect()
    };
    match (protocol, frame) {
        (_, Frame::Array(items)) => Frame::Array(list(items)),
        (Protocol::Resp3, Frame::NullArray) => Frame::Null,
        (Protocol::Resp3, Frame::Set(items)) => Frame::Set(list(items)),
        (Protocol::Resp3, Frame::Push(items)) => Frame::Push(list(items)),
        (Protocol::Resp3, Frame::Map(pairs)) => Frame::Map(
            pairs
                .iter()
                .map(|(key, value)| (as_received(key, protocol), as_received(value, protocol)))
                .collect(),
        ),
        (Protocol::Resp2, Frame::Set(items) | Frame::Push(items)) => Frame::Array(list(items)),
        (Protocol::Resp2, Frame::Map(pairs)) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(key, value)| [as_received(key, protocol), as_received(value, protocol)])
                .collect(),
        ),
        (Protocol::Resp2, Frame::Double(x)) => {
            let mut text = Vec::new();
            encode(&Frame::Double(*x), Protocol::Resp3, &mut text);
            Frame::Bulk(text[1..text.len() - 2].to_vec())
        }
        (Protocol::Resp2, Frame::Boolean(b)) => Frame::Integer(i64::from(*b)),
        (Protocol::Resp2, Frame::Verbatim { text, .. }) => Frame::Bulk(text.clone()),
        (Protocol::Resp2, Frame::BigNumber(digits)) => Frame::Bulk(digits.as_bytes().to_vec()),
        (_, other) => other.clone(),
    }
}

#[test]
fn every_frame_round_trips_in_both_protocols_whole_and_byte_by_byte() {
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let bytes = encoded(&every_frame(), protocol);
        let expected = vec![as_received(&every_frame(), protocol)];
        assert_eq!(replies(&bytes).unwrap(), expected, "{protocol:?}");
        assert_eq!(
            replies_in_chunks(&bytes, 1).unwrap(),
            expected,
            "{protocol:?}"
        );
    }
    // NaN is not equal to itself, so it is checked on its own.
    let nan = replies(&encoded(&Frame::Double(f64::NAN), Protocol::Resp3)).unwrap();
    assert!(matches!(nan[..], [Frame::Double(x)] if x.is_nan()));
}

#[test]
fn attributes_are_skipped() {
    let input = b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n|0\r\n|1\r\n+x\r\n+y\r\n:2\r\n";
    assert_eq!(
        replies(input).unwrap(),
        vec![Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)])]
    );
}

#[test]
fn blob_errors_verbatim_and_hello_replies_decode() {
    assert_eq!(
        replies(b"!21\r\nSYNTAX invalid syntax\r\n=15\r\nmkd:Some string\r\n").unwrap(),
        vec![
            Frame::Error("SYNTAX invalid syntax".into()),
            Frame::Verbatim {
                format: "mkd".into(),
                text: b"Some string".to_vec()
            },
        ]
    );
    // The start of redis-server 7.0.15's reply to HELLO 3.
    assert_eq!(
        replies(b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n").unwrap(),
        vec![Frame::Map(vec![
            (bulk("server"), bulk("redis")),
            (bulk("modules"), Frame::Array(vec![])),
        ])]
    );
}

#[test]
fn malformed_replies_are_refused() {
    let cases: [(&[u8], &str); 12] = [
        (
            b"$?\r\n;4\r\nabcd\r\n;0\r\n",
            "streamed replies are not supported",
        ),
        (b"*?\r\n:1\r\n.\r\n", "streamed replies are not supported"),
        (b"$3\r\nabcd\r\n", "expected CRLF after a bulk string"),
        (b"+OK\rx", "malformed reply line"),
        (b"@1\r\n", "unexpected reply type '@'"),
        (b":1.5\r\n", "invalid integer in reply"),
        (b",abc\r\n", "invalid double in reply"),
        (b"#x\r\n", "invalid boolean in reply"),
        (b"_x\r\n", "invalid null in reply"),
        (b"(12a\r\n", "invalid big number in reply"),
        (b"=2\r\nab\r\n", "invalid verbatim string in reply"),
        (b"~-1\r\n", "invalid aggregate length in reply"),
    ];
    for (input, text) in cases {
        assert_eq!(
            reply_error(input),
            format!("Protocol error: {text}"),
            "{input:?}"
        );
    }
}

#[test]
fn nesting_is_bounded_without_recursion() {
    let nested = |depth: usize| {
        let mut input = b"*1\r\n".repeat(depth);
        input.extend_from_slice(b":7\r\n");
        input
    };
    let mut frame = replies(&nested(1024)).unwrap().remove(0);
    let mut depth = 0;
    while let Frame::Array(mut items) = frame {
        frame = items.remove(0);
        depth += 1;
    }
    assert_eq!((depth, frame), (1024, Frame::Integer(7)));
    assert_eq!(
        reply_error(&nested(1025)),
        "Protocol error: reply nested too deeply"
    );
}

// ---- properties ----

fn arb_frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 ]{0,12}".prop_map(Frame::Simple),
        "[A-Z]{1,5} [a-z ]{0,12}".prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |x| !x.is_nan())
            .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        ("txt|mkd", proptest::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(format, text)| Frame::Verbatim { format, text }),
        "-?[1-9][0-9]{0,40}".prop_map(Frame::BigNumber),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Frame::Map),
        ]
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic_either_decoder(
        input in proptest::collection::vec(any::<u8>(), 0..256),
        chunk in 1usize..32,
    ) {
        let _ = requests_in_chunks(&input, chunk);
        let _ = replies_in_chunks(&input, chunk);
    }

    #[test]
    fn random_protocol_like_bytes_never_panic_either_decoder(
        input in proptest::collection::vec(
            prop_oneof![
                Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()),
                Just(b"\"".to_vec()), Just(b"'".to_vec()), Just(b"\\x".to_vec()),
                Just(b"%".to_vec()), Just(b"|".to_vec()), Just(b"=".to_vec()),
                Just(b"-1".to_vec()), Just(b"3".to_vec()), Just(b" ".to_vec()),
                Just(b"\n".to_vec()), Just(b"ab".to_vec()),
            ],
            0..64,
        ),
        chunk in 1usize..16,
    ) {
        let input = input.concat();
        let _ = requests_in_chunks(&input, chunk);
        let _ = replies_in_chunks(&input, chunk);
    }

    #[test]
    fn random_args_encoded_as_multibulk_decode_back_equal(
        requests_sent in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
            1..6,
        ),
        chunk in 1usize..64,
    ) {
        let mut input = Vec::new();
        for args in &requests_sent {
            let frame = Frame::Array(args.iter().cloned().map(Frame::Bulk).collect());
            encode(&frame, Protocol::Resp2, &mut input);
        }
        prop_assert_eq!(&requests(&input).unwrap(), &requests_sent);
        prop_assert_eq!(&requests_in_chunks(&input, chunk).unwrap(), &requests_sent);
    }

    #[test]
    fn random_frames_round_trip(frame in arb_frame(), chunk in 1usize..16) {
        for protocol in [Protocol::Resp2, Protocol::Resp3] {
            let bytes = encoded(&frame, protocol);
            let expected = vec![as_received(&frame, protocol)];
            prop_assert_eq!(&replies(&bytes).unwrap(), &expected);
            prop_assert_eq!(&replies_in_chunks(&bytes, chunk).unwrap(), &expected);
        }
    }
}

/// A quick measure, run by hand: `cargo test --release --test resp_codec -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_set_request_decoding() {
    const REQUESTS: usize = 1_000_000;
    let input = SET.repeat(REQUESTS);
    for _ in 0..3 {
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(&input[..]);
        let start = std::time::Instant::now();
        let mut count = 0;
        while let Some(request) = decoder.decode(&mut buf).unwrap() {
            count += request.len();
        }
        let elapsed = start.elapsed();
        assert_eq!(count, 3 * REQUESTS);
        println!(
            "{:.1} ns per SET request (one buffer of {REQUESTS})",
            elapsed.as_nanos() as f64 / REQUESTS as f64
        );
        // In 16 KiB reads, as a connection loop would see them.
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::with_capacity(32 * 1024);
        let start = std::time::Instant::now();
        let mut count = 0;
        for piece in input.chunks(16 * 1024) {
            buf.extend_from_slice(piece);
            while let Some(request) = decoder.decode(&mut buf).unwrap() {
                count += request.len();
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(count, 3 * REQUESTS);
        println!(
            "{:.1} ns per SET request (16 KiB reads)",
            elapsed.as_nanos() as f64 / REQUESTS as f64
        );
    }
}
