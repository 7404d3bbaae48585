//! RESP frames: decoding client requests (multibulk and inline) and replies,
//! and encoding replies in RESP2 or RESP3.
