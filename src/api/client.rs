//! The typed client of the API, used by the commands that talk to a
//! controller cluster, the benchmarks and the tests: one method per route,
//! answering with the types the server builds (`views.rs`, `messages.rs`,
//! `history.rs`). Every request is bounded by a timeout (the CLI's
//! `--timeout`, and a shorter connect timeout), errors name the URL and the
//! bound, and the members given (`--controller`) are tried in turn.
//!
//! A read goes to the next member on any failure. A mutating request goes
//! to the next member only when it cannot have been applied: the
//! connection was never made, or the member answered that it has no leader
//! to forward to (any member forwards a mutating request to the leader, so
//! an answer of that kind means nothing was recorded). After a request
//! timeout a mutating request is repeated elsewhere only when the caller
//! says a repeat is harmless (a failover: the cluster runs one execution
//! per policy and answers a repeat with the running one).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::messages::ErrorReply;

/// `--timeout`'s default: how long one controller may take to answer.
pub const DEFAULT_TIMEOUT: &str = "10s";

/// The longest a connection to one controller may take to open (less when
/// `--timeout` is shorter): a host that is down fails fast and the next
/// member is tried.
pub const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(3);

/// Whether a mutating request may be sent again to another member after
/// the first one took it and did not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The cluster deduplicates a repeat (a failover: one execution per
    /// policy).
    Harmless,
    /// Only when the request was certainly not applied.
    NeverAfterSent,
}

/// The members to ask, in order, and how long each may take.
#[derive(Debug, Clone)]
pub struct Controllers {
    urls: Vec<String>,
    timeout: Duration,
    http: reqwest::Client,
}

/// A member's answer to a mutating request.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The member that answered.
    pub url: String,
    /// The HTTP status.
    pub code: u16,
    /// The route's reply on a 2xx status whose body has its shape;
    /// otherwise the error the member sent (its `error` empty when the
    /// body was not an error object).
    pub reply: Result<T, ErrorReply>,
}

/// A request that no member answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    /// One sentence per member, naming its URL.
    pub message: String,
    /// What kind of failure it was.
    pub kind: FailureKind,
}

/// What kind of failure a [`ClientError`] is, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Every member answered 404: what was asked for does not exist there.
    NotFound,
    /// A member answered with a body of another shape: not a drctl
    /// controller (or not this version).
    NotController,
    /// No member could be reached in time, or none took the request.
    Unavailable,
}

impl Controllers {
    /// Asks the members at `urls` (base URLs, in order), each within
    /// `timeout`.
    pub fn new(urls: &[String], timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(CONNECT_TIMEOUT_MAX))
            .timeout(timeout)
            .build()
            .expect("an HTTP client with only timeouts set always builds");
        let urls = urls
            .iter()
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
            .collect();
        Self {
            urls,
            timeout,
            http,
        }
    }

    /// The members, in the order they are asked.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The first member's URL (what a hint to the operator names).
    pub fn first(&self) -> &str {
        self.urls.first().map_or("", String::as_str)
    }

    /// The members asked one at a time, sharing one connection pool: for a
    /// caller that polls each node on its own (the benchmarks).
    pub fn each(&self) -> Vec<Self> {
        self.urls
            .iter()
            .map(|u| Self {
                urls: vec![u.clone()],
                timeout: self.timeout,
                http: self.http.clone(),
            })
            .collect()
    }

    /// GETs `path` as JSON from the first member that answers with 2xx.
    ///
    /// # Errors
    ///
    /// Every member failed: one sentence per member, naming its URL.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<(String, T), ClientError> {
        let mut errors = Vec::new();
        let mut kinds = Vec::new();
        for url in &self.urls {
            let got = async {
                let resp = self
                    .http
                    .get(format!("{url}{path}"))
                    .send()
                    .await
                    .map_err(|e| (FailureKind::Unavailable, self.describe(url, &e)))?;
                match resp.status() {
                    s if s.is_success() => {}
                    s if s == reqwest::StatusCode::NOT_FOUND => {
                        return Err((FailureKind::NotFound, format!("{url}: {s}")))
                    }
                    s => return Err((FailureKind::Unavailable, format!("{url}: {s}"))),
                }
                resp.json::<T>().await.map_err(|e| {
                    let why = format!("{url}: not a drctl controller: {e}");
                    (FailureKind::NotController, why)
                })
            };
            match got.await {
                Ok(v) => return Ok((url.clone(), v)),
                Err((kind, e)) => {
                    kinds.push(kind);
                    errors.push(e);
                }
            }
        }
        let kind = if !kinds.is_empty() && kinds.iter().all(|k| *k == FailureKind::NotFound) {
            FailureKind::NotFound
        } else if kinds.contains(&FailureKind::NotController) {
            FailureKind::NotController
        } else {
            FailureKind::Unavailable
        };
        Err(ClientError {
            message: self.all_failed(errors),
            kind,
        })
    }

    /// POSTs `body` to `path` with the bearer `token`, trying the next
    /// member only as the module's documentation says.
    ///
    /// # Errors
    ///
    /// No member took the request: one sentence per member tried.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        body: &impl Serialize,
        repeat: Repeat,
    ) -> Result<Answer<T>, ClientError> {
        let mut errors = Vec::new();
        for url in &self.urls {
            let sent = self
                .http
                .post(format!("{url}{path}"))
                .bearer_auth(token)
                .json(body)
                .send()
                .await;
            match sent {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    let body: serde_json::Value =
                        resp.json().await.unwrap_or(serde_json::Value::Null);
                    if code == 503 && has_no_leader(&body) {
                        let msg = body["error"].as_str().unwrap_or_default();
                        errors.push(format!("{url}: {msg}"));
                        continue;
                    }
                    return Ok(Answer {
                        url: url.clone(),
                        code,
                        reply: reply(code, body),
                    });
                }
                Err(e) => {
                    errors.push(self.describe(url, &e));
                    let not_sent = e.is_connect();
                    if !(not_sent || e.is_timeout() && repeat == Repeat::Harmless) {
                        return Err(self.failed(errors));
                    }
                }
            }
        }
        Err(self.failed(errors))
    }

    fn failed(&self, errors: Vec<String>) -> ClientError {
        ClientError {
            message: self.all_failed(errors),
            kind: FailureKind::Unavailable,
        }
    }

    /// A failed call as a sentence naming the URL, and the bound when it
    /// was the time that ran out.
    fn describe(&self, url: &str, e: &reqwest::Error) -> String {
        let connect = self.timeout.min(CONNECT_TIMEOUT_MAX);
        match (e.is_connect(), e.is_timeout()) {
            (true, true) => format!(
                "no connection to {url} within {}",
                crate::duration::fmt(connect)
            ),
            (_, true) => format!(
                "no answer from {url} within {} (--timeout)",
                crate::duration::fmt(self.timeout)
            ),
            (true, false) => format!("cannot connect to {url}: {}", root_cause(e)),
            _ => format!("{url}: {}", root_cause(e)),
        }
    }

    fn all_failed(&self, errors: Vec<String>) -> String {
        match errors.len() {
            0 => "no controller URL given (--controller)".into(),
            1 => errors.join(""),
            _ => format!("no controller answered: {}", errors.join("; ")),
        }
    }
}

/// A member's answer as the route's reply, or as the error it sent.
fn reply<T: DeserializeOwned>(code: u16, body: serde_json::Value) -> Result<T, ErrorReply> {
    if (200..300).contains(&code) {
        if let Ok(r) = serde_json::from_value(body.clone()) {
            return Ok(r);
        }
    }
    Err(serde_json::from_value(body).unwrap_or_default())
}

/// Whether a 503 says the member has no leader to hand the request to, so
/// that nothing was recorded (see `api/actions.rs`).
fn has_no_leader(body: &serde_json::Value) -> bool {
    let msg = body["error"].as_str().unwrap_or_default();
    msg.starts_with("no leader")
        || msg.starts_with("forwarded to a node that is not the leader")
        || (msg.starts_with("leader node") && msg.contains("is unreachable from here"))
}

/// The innermost error's message (reqwest's own says only "error sending
/// request").
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[path = "client_routes.rs"]
mod routes;

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
