//! The registry of connected clients: what CLIENT LIST, CLIENT KILL, INFO and
//! `--maxclients` need to know about every connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Instant;

/// What the registry shows of one connection; the connection updates it.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique, increasing connection id (CLIENT ID).
    pub id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Our side's address.
    pub local: SocketAddr,
    created: Instant,
    state: Mutex<ClientState>,
    killed: AtomicBool,
    /// The connection task waiting in [`ClientHandle::killed`], woken by a kill.
    waiting: Mutex<Option<Waker>>,
}

/// The parts of a connection's description that change.
#[derive(Debug, Clone, Default)]
pub struct ClientState {
    /// CLIENT SETNAME.
    pub name: Option<String>,
    /// The namespace (database) it works in.
    pub namespace: String,
    /// The last command it ran.
    pub last_command: &'static str,
    /// When it last ran a command.
    pub last_active: Option<Instant>,
    /// True inside MULTI.
    pub in_multi: bool,
    /// Commands queued in MULTI.
    pub queued: usize,
    /// 2 or 3.
    pub protocol: u8,
}

impl ClientHandle {
    fn lock(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the shown state.
    pub fn update(&self, f: impl FnOnce(&mut ClientState)) {
        f(&mut self.lock());
    }

    /// A copy of the shown state.
    pub fn state(&self) -> ClientState {
        self.lock().clone()
    }

    /// Asks the connection to close (CLIENT KILL).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(waker) = waiting {
            waker.wake();
        }
    }

    /// True once killed.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves when the connection is asked to close. Cheap to poll again
    /// and again (a connection polls it with every read): a flag, and the
    /// waker kept while the same task waits.
    pub fn killed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.is_killed() {
                return Poll::Ready(());
            }
            {
                let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
                if !waiting.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waiting = Some(cx.waker().clone());
                }
            }
            // A kill after the first look found no waker, or finds this one.
            if self.is_killed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// One CLIENT LIST line (without the newline), in Redis's field order.
    pub fn describe(&self) -> String {
        let state = self.state();
        let now = Instant::now();
        let idle = state
            .last_active
            .map_or(now - self.created, |at| now - at)
            .as_secs();
        let flags = if state.in_multi { "x" } else { "N" };
        let db = if state.namespace.is_empty() {
            "0"
        } else {
            &state.namespace
        };
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.local,
            state.name.as_deref().unwrap_or(""),
            (now - self.created).as_secs(),
            idle,
            flags,
            db,
            if state.in_multi {
                state.queued as i64
            } else {
                -1
            },
            if state.last_command.is_empty() {
                "NULL"
            } else {
                &state.last_command
            },
            state.protocol.max(2),
        )
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct Clients {
    next_id: AtomicU64,
    all: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Connections refused by `--maxclients`.
    pub rejected: AtomicU64,
    /// The limit CONFIG SET maxclients chose, 0 while `--maxclients` holds.
    max_override: AtomicUsize,
}

impl Clients {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<ClientHandle>>> {
        self.all.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most clients allowed: CONFIG SET maxclients's value, else
    /// `configured` (`--maxclients`).
    pub fn max(&self, configured: usize) -> usize {
        match self.max_override.load(Ordering::Relaxed) {
            0 => configured,
            chosen => chosen,
        }
    }

    /// CONFIG SET maxclients: later connections past `max` are turned away
    /// (those connected stay, as in Redis).
    pub fn set_max(&self, max: usize) {
        self.max_override.store(max.max(1), Ordering::Relaxed);
    }

    /// Registers a new connection unless the most allowed (`configured`,
    /// or CONFIG SET maxclients's value) are connected already.
    pub fn register(
        &self,
        addr: SocketAddr,
        local: SocketAddr,
        configured: usize,
    ) -> Option<Arc<ClientHandle>> {
        let mut all = self.lock();
        if all.len() >= self.max(configured) {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            local,
            created: Instant::now(),
            state: Mutex::new(ClientState {
                protocol: 2,
                namespace: crate::engine::DEFAULT_NAMESPACE.to_string(),
                ..ClientState::default()
            }),
            killed: AtomicBool::new(false),
            waiting: Mutex::new(None),
        });
        all.insert(id, handle.clone());
        Some(handle)
    }

    /// Forgets a closed connection.
    pub fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Connected clients.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every connection, oldest first.
    pub fn list(&self) -> Vec<Arc<ClientHandle>> {
        self.lock().values().cloned().collect()
    }

    /// Asks every connection to close.
    pub fn kill_all(&self) {
        for client in self.lock().values() {
            client.kill();
        }
    }
}
