//! Shared helpers for tests that run `inmem serve` as a real process and talk
//! to it over TCP.
#![allow(dead_code)]

use inmem::server::resp::{Frame, Limits, ReplyDecoder};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The inmem binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_inmem");

/// A running `inmem serve` on a free port.
pub struct Server {
    child: Option<Child>,
    /// RESP port.
    pub port: u16,
    /// HTTP port, when asked for.
    pub http_port: Option<u16>,
    /// Data directory.
    pub dir: PathBuf,
    /// Later stderr lines.
    pub stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `inmem --data-dir DIR serve --port 0 EXTRA...` and waits until it listens.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn inmem serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (port, http_port) = listening_ports(&rx);
        Server {
            child: Some(child),
            port,
            http_port,
            dir: dir.to_path_buf(),
            stderr: rx,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A `redis` crate client.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("client")
    }

    /// A `redis` crate connection.
    pub fn connect(&self) -> redis::Connection {
        self.client().get_connection().expect("connect")
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// Sends a signal and waits for the process to exit.
    pub fn signal(mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        wait_with_timeout(&mut child, Duration::from_secs(20))
    }

    /// Waits for the process to exit by itself (after SHUTDOWN).
    pub fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        wait_with_timeout(&mut child, Duration::from_secs(20))
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("inmem serve did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for the `inmem: serving RESP on ADDR[, HTTP on http://ADDR]` line.
fn listening_ports(rx: &mpsc::Receiver<String>) -> (u16, Option<u16>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("inmem serve printed its listening line");
        if let Some(rest) = line.strip_prefix("inmem: serving RESP on ") {
            let (resp, http) = match rest.split_once(", HTTP on http://") {
                Some((resp, http)) => (resp, Some(port_after(http, ":"))),
                None => (rest, None),
            };
            return (port_after(resp, ":"), http);
        }
    }
}

fn port_after(text: &str, sep: &str) -> u16 {
    let tail = text.rsplit_once(sep).map_or(text, |(_, t)| t);
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a port number")
}

/// A raw RESP connection that decodes replies with inmem's own decoder.
pub struct Raw {
    /// The socket.
    pub stream: TcpStream,
    buf: bytes::BytesMut,
    decoder: ReplyDecoder,
}

impl Raw {
    /// Connects to a local port.
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Raw {
            stream,
            buf: bytes::BytesMut::new(),
            decoder: ReplyDecoder::new(Limits::default()),
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends one command as a multibulk request.
    pub fn command(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.send(&out);
    }

    /// Reads the next reply.
    pub fn read(&mut self) -> Frame {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).expect("valid reply") {
                return frame;
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed while waiting for a reply");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command and reads its reply.
    pub fn call(&mut self, args: &[&str]) -> Frame {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.command(&args);
        self.read()
    }

    /// True when the server closed the connection (reads end) with nothing more to say.
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0))
    }
}

/// A fresh temporary data directory.
pub fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// The text of a bulk string reply.
pub fn text(frame: Frame) -> String {
    match frame {
        Frame::Bulk(bytes) => String::from_utf8(bytes).expect("UTF-8"),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The headings and the `field:value` lines of an INFO reply's sections.
pub fn info(raw: &mut Raw, sections: &[&str]) -> (Vec<String>, Vec<(String, String)>) {
    let mut args = vec!["INFO"];
    args.extend_from_slice(sections);
    let body = text(raw.call(&args));
    let headings = body
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(str::to_string)
        .collect();
    let fields = body
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (headings, fields)
}

/// The value of one INFO field.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("INFO lacks {name}"))
}

/// A bulk string frame.
pub fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

/// A simple string frame.
pub fn simple(text: &str) -> Frame {
    Frame::Simple(text.to_string())
}

/// An error frame.
pub fn error(text: &str) -> Frame {
    Frame::Error(text.to_string())
}

/// True when an external tool is on PATH; when `REQUIRE_REDIS=1` a missing tool fails the test.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("REQUIRE_REDIS").as_deref() != Ok("1"),
            "{tool} is required (REQUIRE_REDIS=1) but not installed"
        );
        eprintln!("skipped: {tool} is not installed (apt-get install redis-server redis-tools)");
    }
    found
}
