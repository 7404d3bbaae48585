//! A blocking RESP client: one TCP connection, requests sent as multibulk
//! arrays, replies read with the shared reply decoder, and the handshake
//! (`HELLO 3`, with `AUTH` when a password is given) that tells which server
//! answers.

use crate::server::resp::{self, Frame, Limits, Protocol, ProtocolError, ReplyDecoder};
use bytes::BytesMut;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long connecting may take before it is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests sent before their replies are read.
const PIPELINE_CHUNK: usize = 512;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 1 << 16;

/// Why talking to the server failed; the connection is unusable afterwards.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not RESP.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
}

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address did not resolve, or nothing accepted the connection.
    #[error("{0}")]
    Link(#[from] LinkError),
    /// The server refused the handshake (a wrong or missing password).
    #[error("{0}")]
    Refused(String),
}

/// What the handshake learnt about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The `server` field of HELLO's reply: `inmem`, `redis`, ...
    pub name: String,
    /// The server's version, when it said.
    pub version: Option<String>,
    /// The protocol replies arrive in.
    pub protocol: Protocol,
}

impl ServerInfo {
    /// True when the server is inmem, which understands its own commands (`USE name`, ...).
    pub fn is_inmem(&self) -> bool {
        self.name.eq_ignore_ascii_case("inmem")
    }
}

/// One connection to a RESP server.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    decoder: ReplyDecoder,
    out: Vec<u8>,
}

impl Connection {
    /// Connects to `target` (`HOST:PORT`) and runs the handshake.
    pub fn open(
        target: &str,
        password: Option<&str>,
    ) -> Result<(Connection, ServerInfo), ConnectError> {
        let stream = dial(target)?;
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            stream,
            buf: BytesMut::new(),
            decoder: ReplyDecoder::new(Limits::default()),
            out: Vec::new(),
        };
        let info = connection.handshake(password)?;
        Ok((connection, info))
    }

    /// `HELLO 3` (with `AUTH default PASSWORD`), falling back to `AUTH` and
    /// RESP2 for servers without HELLO.
    fn handshake(&mut self, password: Option<&str>) -> Result<ServerInfo, ConnectError> {
        let mut hello: Vec<&[u8]> = vec![b"HELLO", b"3"];
        if let Some(password) = password {
            hello.extend([b"AUTH".as_slice(), b"default", password.as_bytes()]);
        }
        match self.call(&hello)? {
            Frame::Error(message) if is_unknown_hello(&message) => {
                if let Some(password) = password
                    && let Frame::Error(message) = self.call(&[b"AUTH", password.as_bytes()])?
                {
                    return Err(refused(&message));
                }
                match self.call(&[b"PING"])? {
                    Frame::Error(message) => Err(refused(&message)),
                    _ => Ok(ServerInfo {
                        name: "redis".into(),
                        version: None,
                        protocol: Protocol::Resp2,
                    }),
                }
            }
            Frame::Error(message) => Err(refused(&message)),
            reply => {
                let field = |name: &str| hello_field(&reply, name);
                Ok(ServerInfo {
                    name: field("server").unwrap_or_else(|| "redis".into()),
                    version: field("version"),
                    protocol: Protocol::Resp3,
                })
            }
        }
    }

    /// Sends one request and reads its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Frame, LinkError> {
        self.send(&[args.iter().map(|a| a.to_vec()).collect()])?;
        self.read()
    }

    /// Sends requests without waiting for each reply, then reads one reply
    /// per request. They go in chunks, each chunk's replies read before the
    /// next is sent, so neither side blocks on a full socket buffer while the
    /// other waits for it to read.
    pub fn pipeline(&mut self, requests: &[Vec<Vec<u8>>]) -> Result<Vec<Frame>, LinkError> {
        let mut replies = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(PIPELINE_CHUNK) {
            self.send(chunk)?;
            for _ in chunk {
                replies.push(self.read()?);
            }
        }
        Ok(replies)
    }

    fn send(&mut self, requests: &[Vec<Vec<u8>>]) -> Result<(), LinkError> {
        self.out.clear();
        for args in requests {
            let frame = Frame::Array(args.iter().cloned().map(Frame::Bulk).collect());
            resp::encode(&frame, Protocol::Resp2, &mut self.out);
        }
        self.stream.write_all(&self.out)?;
        Ok(())
    }

    /// Reads the next reply, skipping out-of-band pushes.
    fn read(&mut self) -> Result<Frame, LinkError> {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.decoder.decode(&mut self.buf)? {
                Some(Frame::Push(_)) => continue,
                Some(frame) => return Ok(frame),
                None => {}
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(LinkError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Resolves `target` and connects to the first address that accepts.
fn dial(target: &str) -> Result<TcpStream, LinkError> {
    let mut last = None;
    for addr in target.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| std::io::Error::other("the address resolved to nothing"))
        .into())
}

/// True when HELLO's error means the server predates it (or RESP3).
fn is_unknown_hello(message: &str) -> bool {
    message.starts_with("NOPROTO") || message.to_ascii_lowercase().contains("unknown command")
}

fn refused(message: &str) -> ConnectError {
    if message.starts_with("NOAUTH") {
        return ConnectError::Refused("the server requires a password (use --password)".into());
    }
    ConnectError::Refused(message.to_string())
}

/// A text field of HELLO's reply (a map in RESP3, a flat array in RESP2).
fn hello_field(reply: &Frame, name: &str) -> Option<String> {
    let text = |frame: &Frame| match frame {
        Frame::Bulk(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Frame::Simple(text) => Some(text.clone()),
        _ => None,
    };
    match reply {
        Frame::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| text(k).as_deref() == Some(name))
            .and_then(|(_, v)| text(v)),
        Frame::Array(items) => items
            .chunks(2)
            .find(|pair| text(&pair[0]).as_deref() == Some(name))
            .and_then(|pair| pair.get(1).and_then(text)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// A one-connection server that answers each request with the next canned
    /// reply and records the requests' command words.
    fn fake_server(
        replies: &'static [&'static str],
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            let mut seen = Vec::new();
            for reply in replies {
                // `*N`, then `$len` and the word: the command word is the third line.
                let mut lines = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let count: usize = line.trim()[1..].parse().unwrap();
                for _ in 0..count * 2 {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    lines.push(line.trim().to_string());
                }
                seen.push(lines[1].clone());
                writer.write_all(reply.as_bytes()).unwrap();
            }
            seen
        });
        (addr, handle)
    }

    #[test]
    fn servers_without_hello_get_auth_and_resp2() {
        let (addr, server) = fake_server(&[
            "-ERR unknown command 'HELLO', with args beginning with: '3' \r\n",
            "+OK\r\n",
            "+PONG\r\n",
        ]);
        let (_, info) = Connection::open(&addr, Some("pw")).unwrap();
        assert_eq!(info.protocol, Protocol::Resp2);
        assert!(!info.is_inmem());
        assert_eq!(server.join().unwrap(), ["HELLO", "AUTH", "PING"]);
    }

    #[test]
    fn hello_names_the_server_and_pushes_are_skipped() {
        let (addr, server) = fake_server(&[
            "%2\r\n$6\r\nserver\r\n$5\r\ninmem\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n",
            ">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n:5\r\n",
        ]);
        let (mut connection, info) = Connection::open(&addr, None).unwrap();
        assert!(info.is_inmem());
        assert_eq!(info.version.as_deref(), Some("7.0.0"));
        assert_eq!(connection.call(&[b"DBSIZE"]).unwrap(), Frame::Integer(5));
        assert_eq!(server.join().unwrap(), ["HELLO", "DBSIZE"]);
        // The server has gone: the next call says the connection closed.
        assert!(matches!(
            connection.call(&[b"PING"]),
            Err(LinkError::Closed | LinkError::Io(_))
        ));
    }

    #[test]
    fn a_refused_password_is_a_connect_error() {
        let (addr, _server) =
            fake_server(&["-WRONGPASS invalid username-password pair or user is disabled.\r\n"]);
        let error = Connection::open(&addr, Some("bad")).unwrap_err();
        assert!(
            matches!(&error, ConnectError::Refused(m) if m.starts_with("WRONGPASS")),
            "{error}"
        );
    }
}
