//! The seam every node-to-node call goes through: raft RPC, shared probe
//! rounds, leadership hand-offs, health checks and forwarded requests.
//!
//! [`HttpTransport`] sends them over HTTP (production, local clusters);
//! [`super::mem_transport::MemNet`] hands them to the target node's router
//! in the same process, through a network that delays, drops, duplicates
//! and partitions (the simulation).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;

use super::NodeId;

/// An HTTP method a node-to-node call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET` (health checks).
    Get,
    /// `POST` (everything else).
    Post,
}

/// One node-to-node call.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET` or `POST`.
    pub method: Method,
    /// The target member's address (`http://host:port`).
    pub base: String,
    /// The path (`/raft/append`).
    pub path: String,
    /// Headers (signature, cluster secret, forwarded token).
    pub headers: Vec<(String, String)>,
    /// The body (JSON).
    pub body: Bytes,
    /// No answer within this is a failure.
    pub timeout: Duration,
}

impl Call {
    /// A `POST` of `body` to `path` on `base`, JSON, within `timeout`.
    pub fn post(base: &str, path: &str, body: impl Into<Bytes>, timeout: Duration) -> Self {
        Self {
            method: Method::Post,
            base: base.trim_end_matches('/').to_string(),
            path: path.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            timeout,
        }
    }

    /// A `GET` of `path` on `base` within `timeout`.
    pub fn get(base: &str, path: &str, timeout: Duration) -> Self {
        Self {
            method: Method::Get,
            base: base.trim_end_matches('/').to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: Bytes::new(),
            timeout,
        }
    }

    /// The call with one more header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// What the target answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A call on its way: its answer, or why there was none (the target's
/// address and the cause, in words).
pub type Sending = Pin<Box<dyn Future<Output = Result<Answer, String>> + Send>>;

/// Carries node-to-node calls.
pub trait Transport: Send + Sync {
    /// Sends `call` from node `from`.
    fn send(&self, from: NodeId, call: Call) -> Sending;
}

/// A shared transport.
pub type SharedTransport = Arc<dyn Transport>;

/// Node-to-node calls over HTTP, with pooled connections.
pub struct HttpTransport {
    http: reqwest::Client,
}

impl HttpTransport {
    /// A transport whose connections are set up within `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .expect("an HTTP client with only timeouts set always builds");
        Self { http }
    }
}

impl Transport for HttpTransport {
    fn send(&self, _from: NodeId, call: Call) -> Sending {
        let url = format!("{}{}", call.base, call.path);
        let mut rb = match call.method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url).body(call.body),
        };
        for (k, v) in &call.headers {
            rb = rb.header(k, v);
        }
        let rb = rb.timeout(call.timeout);
        let base = call.base;
        Box::pin(async move {
            let resp = rb.send().await.map_err(|e| format!("{base}: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp
                .bytes()
                .await
                .map_err(|e| format!("{base}: reading the answer: {e}"))?;
            Ok(Answer { status, body })
        })
    }
}
