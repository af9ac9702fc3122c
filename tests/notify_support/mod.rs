//! Local webhook receivers on 127.0.0.1 that answer as told (at once,
//! slowly, with an error, or never), recording every body they read; and
//! an in-memory outbox over the replicated state machine.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drctl::consensus::{ClusterState, Command, Reply};
use drctl::notify::{Event, Outbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How a receiver answers.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// 200 at once.
    Ok,
    /// 500 for the first `n` requests, then 200.
    FailFirst(usize),
    /// 200 after this long.
    Slow(Duration),
    /// Never answers.
    Hang,
}

/// A running receiver.
pub struct Local {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Local {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Local {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let task = tokio::spawn(async move {
            let count = Arc::new(AtomicU64::new(0));
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (seen, count) = (seen.clone(), count.clone());
                tokio::spawn(serve(sock, behaviour, seen, count));
            }
        });
        Self { url, bodies, task }
    }

    /// The bodies received so far.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits until `n` bodies have arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let b = self.bodies();
            if b.len() >= n {
                return b;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} bodies of {n} within {within:?}: {b:#?}",
                b.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn serve(
    mut sock: tokio::net::TcpStream,
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<serde_json::Value>>>,
    count: Arc<AtomicU64>,
) {
    // Requests on one connection, one after another (reqwest keeps it alive).
    let mut buf = Vec::new();
    loop {
        let Some(body) = read_request(&mut sock, &mut buf).await else {
            return;
        };
        let n = count.fetch_add(1, Ordering::SeqCst) as usize;
        seen.lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
        let status = match behaviour {
            Behaviour::Ok => "200 OK",
            Behaviour::FailFirst(k) if n < k => "500 Internal Server Error",
            Behaviour::FailFirst(_) => "200 OK",
            Behaviour::Slow(d) => {
                tokio::time::sleep(d).await;
                "200 OK"
            }
            Behaviour::Hang => {
                std::future::pending::<()>().await;
                unreachable!()
            }
        };
        let resp = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\n\r\nok");
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request; returns its body.
async fn read_request(sock: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = buf[end + 4..end + 4 + len].to_vec();
                buf.drain(..end + 4 + len);
                return Some(body);
            }
        }
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The replicated state in memory, shared by the nodes of a test; each
/// node has its own view of whether it leads.
#[derive(Clone)]
pub struct MemOutbox {
    pub state: Arc<Mutex<ClusterState>>,
    pub leading: Arc<AtomicBool>,
    pub term: Arc<AtomicU64>,
}

impl MemOutbox {
    pub fn leader() -> Self {
        Self {
            state: Arc::default(),
            leading: Arc::new(AtomicBool::new(true)),
            term: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Another node's view of the same state, not leading.
    pub fn follower_of(&self) -> Self {
        Self {
            state: self.state.clone(),
            leading: Arc::new(AtomicBool::new(false)),
            term: self.term.clone(),
        }
    }

    pub fn apply(&self, cmd: Command) -> Reply {
        let t = self.term.load(Ordering::SeqCst);
        self.state.lock().unwrap().apply(cmd, t, 0)
    }
}

impl Outbox for MemOutbox {
    fn leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }
    fn term(&self) -> u64 {
        self.term.load(Ordering::SeqCst)
    }
    fn prepare(&self, e: &Event) -> Option<Event> {
        self.state.lock().unwrap().notifications.prepare(e.clone())
    }
    async fn announce(&self, e: Event) -> Result<Option<Event>, String> {
        match self.apply(Command::Notify { event: Box::new(e) }) {
            Reply::Announced { event } => Ok(event.map(|e| *e)),
            other => Err(format!("{other:?}")),
        }
    }
    async fn settle(&self, id: &str, receiver: &str, delivered: bool) -> Result<(), String> {
        let cmd = Command::Notified {
            id: id.into(),
            receiver: receiver.into(),
            delivered,
        };
        match self.apply(cmd) {
            Reply::Ok => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
    fn settled(&self, id: &str, receiver: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .notifications
            .settled(id, receiver)
    }
    fn announced(&self) -> Vec<Event> {
        let s = self.state.lock().unwrap();
        s.notifications
            .outbox
            .iter()
            .map(|a| a.event.clone())
            .collect()
    }
}
