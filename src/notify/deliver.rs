//! One receiver's worker: sends its queued events in order, each request
//! bounded by the receiver's timeout, failures retried with exponential
//! backoff, every failed attempt counted by reason.
//!
//! A worker sends only while its node leads; an event it holds when
//! leadership moves is left unsettled for the next leader. After its last
//! retry an event is settled as given up, so that no later leader keeps
//! trying a receiver that refuses it.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::config::Receiver;
use super::dispatch::Outbox;
use super::queue::Queue;
use super::{payload, Event, NotifyMetrics};

/// The longest wait between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// One receiver's worker.
pub struct Worker {
    /// The receiver.
    pub receiver: Receiver,
    /// Its queue.
    pub queue: Arc<Queue<Event>>,
    /// A pooled client.
    pub client: reqwest::Client,
    /// Where failures are counted.
    pub metrics: NotifyMetrics,
    /// This node's site, in payloads.
    pub site: String,
    /// The wait before the first retry; doubled for each next one.
    pub backoff: Duration,
}

/// Why an attempt failed, as a metric label, and whether retrying may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// `timeout`, `connect`, `request`, `status_4xx` or `status_5xx`.
    pub reason: &'static str,
    /// Whether the receiver refused the request itself (a 4xx but 429).
    pub permanent: bool,
}

impl Worker {
    /// Sends events until the task is dropped.
    pub async fn run<O: Outbox>(self, outbox: Arc<O>) {
        let name = self.receiver.name.clone();
        loop {
            let e = self.queue.pop().await;
            self.metrics.depth(&name, self.queue.len());
            if !outbox.leading() || outbox.settled(&e.id, &name) {
                continue;
            }
            let Some(delivered) = self.deliver(&e, outbox.as_ref()).await else {
                continue;
            };
            if delivered {
                self.metrics.sent(&name, e.kind.label());
                info!(receiver = %name, event = %e.kind, id = %e.id, "notification sent");
            } else {
                self.metrics.failed(&name, "gave_up");
                warn!(receiver = %name, event = %e.kind, id = %e.id, retries = self.receiver.retries, "notification given up");
            }
            if let Err(error) = outbox.settle(&e.id, &name, delivered).await {
                warn!(receiver = %name, id = %e.id, %error, "delivery not recorded: the next leader may send it again");
            }
        }
    }

    /// Tries `e` until delivered (`Some(true)`), refused or out of retries
    /// (`Some(false)`), or this node stops leading (`None`).
    async fn deliver<O: Outbox>(&self, e: &Event, outbox: &O) -> Option<bool> {
        let r = &self.receiver;
        let body = payload::body(&r.kind, e, &self.site);
        let mut wait = self.backoff;
        for attempt in 0..=r.retries {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(BACKOFF_MAX);
                if !outbox.leading() {
                    return None;
                }
            }
            match send(&self.client, r, &body).await {
                Ok(()) => return Some(true),
                Err(f) => {
                    self.metrics.failed(&r.name, f.reason);
                    warn!(receiver = %r.name, event = %e.kind, attempt, reason = f.reason, "notification attempt failed");
                    if f.permanent {
                        return Some(false);
                    }
                }
            }
        }
        Some(false)
    }
}

/// One POST of `body` to `r`, bounded by its timeout.
///
/// # Errors
///
/// Why it failed; never the URL, which may hold a credential.
pub async fn send(
    client: &reqwest::Client,
    r: &Receiver,
    body: &serde_json::Value,
) -> Result<(), Failure> {
    let sent = client
        .post(&*r.url.0)
        .timeout(r.timeout)
        .json(body)
        .send()
        .await;
    let status = match sent {
        Ok(resp) => resp.status(),
        Err(e) => {
            let reason = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "request"
            };
            return Err(Failure {
                reason,
                permanent: false,
            });
        }
    };
    match status.as_u16() {
        200..=299 => Ok(()),
        // Too many requests: the receiver asks to be tried later.
        429 => Err(Failure {
            reason: "status_4xx",
            permanent: false,
        }),
        500..=599 => Err(Failure {
            reason: "status_5xx",
            permanent: false,
        }),
        400..=499 => Err(Failure {
            reason: "status_4xx",
            permanent: true,
        }),
        _ => Err(Failure {
            reason: "request",
            permanent: true,
        }),
    }
}
