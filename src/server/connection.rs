//! One RESP connection: read, decode every complete request, run each in
//! order, make the log safe for the writes among them, then send all replies
//! in one write. A malformed frame gets `-ERR Protocol error: ...` and the
//! connection is closed; nothing it sent after the bad frame runs.

use super::Shared;
use super::client::{Client, Flow};
use super::durability;
use super::resp::{self, Frame, Limits, RequestDecoder};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read per call when the buffer is empty.
const READ_CHUNK: usize = 16 * 1024;

/// Serves one accepted connection until it closes, is killed, or the server stops.
pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, addr: SocketAddr) {
    let local = stream.local_addr().unwrap_or(addr);
    let Some(handle) = shared
        .clients
        .register(addr, local, shared.settings.maxclients)
    else {
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    };
    // A stopping server kills every registered client; one registered just
    // after that sees the server stopping here instead.
    if *shared.shutdown.borrow() {
        shared.clients.unregister(handle.id);
        return;
    }
    let _ = stream.set_nodelay(true);
    tracing::debug!(id = handle.id, %addr, "client connected");
    let mut client = Client::new(shared.clone(), handle.clone());
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    // Each request's arguments, their buffers reused from request to request.
    let mut args: Vec<Vec<u8>> = Vec::new();
    // Polled with every read, so made once and cheap to poll again.
    let stop = handle.killed();
    tokio::pin!(stop);
    'connection: loop {
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        tokio::select! {
            // Stopping first, so a client that always has more to send still
            // notices it.
            biased;
            () = &mut stop => break,
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
        if input.len() > super::QUERY_BUFFER_LIMIT {
            tracing::warn!(id = handle.id, %addr, "closing client: query buffer over the limit");
            break;
        }
        let mut flow = Flow::Continue;
        client.begin_batch();
        loop {
            match decoder.decode_into(&mut input, &mut args) {
                Ok(true) => {
                    let mark = output.len();
                    let (frame, next) = client.handle(&mut args, &mut output);
                    resp::keep_for_reuse(&mut args);
                    if let Some(frame) = frame {
                        resp::encode(&frame, client.protocol(), &mut output);
                    }
                    if !client.replies_on() && client.drop_reply() {
                        output.truncate(mark);
                    }
                    flow = next;
                    if flow != Flow::Continue {
                        break;
                    }
                }
                Ok(false) => break,
                Err(error) if client.replies_on() || !client.drop_reply() => {
                    resp::encode(
                        &Frame::Error(format!("ERR {error}")),
                        client.protocol(),
                        &mut output,
                    );
                    flow = Flow::Close;
                    break;
                }
                Err(_) => {
                    flow = Flow::Close;
                    break;
                }
            }
        }
        client.end_batch();
        if client.take_wrote()
            && let Err(failure) = durability::acknowledge(&shared.db).await
        {
            // Nothing unlogged is acknowledged: the replies are dropped.
            output.clear();
            let message =
                format!("ERR the append-only log failed, the server is stopping: {failure}");
            resp::encode(&Frame::Error(message), client.protocol(), &mut output);
            let _ = stream.write_all(&output).await;
            let _ = shared.shutdown.send(true);
            break 'connection;
        }
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                break;
            }
            output.clear();
            if output.capacity() > 1 << 20 {
                output.shrink_to(READ_CHUNK);
            }
        }
        match flow {
            Flow::Continue => {}
            Flow::Close => break,
            Flow::Shutdown => {
                let _ = shared.shutdown.send(true);
                break;
            }
        }
    }
    let _ = stream.shutdown().await;
    shared.clients.unregister(handle.id);
    tracing::debug!(id = handle.id, %addr, "client disconnected");
}
