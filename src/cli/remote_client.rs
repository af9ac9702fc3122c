//! The HTTP side of the commands that talk to a controller cluster: every
//! request bounded by `--timeout` (and a shorter connect timeout), errors
//! that name the URL and the bound, and the members given with
//! `--controller` tried in turn.
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
pub struct Answer {
    /// The member that answered.
    pub url: String,
    /// The HTTP status.
    pub code: u16,
    /// The JSON body (null when there is none).
    pub body: serde_json::Value,
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

    /// GETs `path` as JSON from the first member that answers with 2xx.
    ///
    /// # Errors
    ///
    /// Every member failed: one sentence per member, naming its URL.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(String, T), String> {
        let mut errors = Vec::new();
        for url in &self.urls {
            let got = async {
                let resp = self
                    .http
                    .get(format!("{url}{path}"))
                    .send()
                    .await
                    .map_err(|e| self.describe(url, &e))?;
                if !resp.status().is_success() {
                    return Err(format!("{url}: {}", resp.status()));
                }
                resp.json::<T>()
                    .await
                    .map_err(|e| format!("{url}: not a drctl controller: {e}"))
            };
            match got.await {
                Ok(v) => return Ok((url.clone(), v)),
                Err(e) => errors.push(e),
            }
        }
        Err(self.all_failed(errors))
    }

    /// POSTs `body` to `path` with the bearer `token`, trying the next
    /// member only as the module's documentation says.
    ///
    /// # Errors
    ///
    /// No member took the request: one sentence per member tried.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
        repeat: Repeat,
    ) -> Result<Answer, String> {
        let mut errors = Vec::new();
        for url in &self.urls {
            let sent = self
                .http
                .post(format!("{url}{path}"))
                .bearer_auth(token)
                .json(&super::remote::without_nulls(body))
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
                        body,
                    });
                }
                Err(e) => {
                    errors.push(self.describe(url, &e));
                    let not_sent = e.is_connect();
                    if !(not_sent || e.is_timeout() && repeat == Repeat::Harmless) {
                        return Err(self.all_failed(errors));
                    }
                }
            }
        }
        Err(self.all_failed(errors))
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

#[cfg(test)]
#[path = "remote_client_tests.rs"]
mod tests;
