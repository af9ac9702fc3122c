//! From emitted events to each receiver's queue, on the leader only.
//!
//! [`Notifier::emit`] queues an event and returns at once. One dispatcher
//! task takes events from that queue and, while this node leads, announces
//! each through the replicated state ([`Outbox::announce`]): a repeat (the
//! same verdict seen again by a new leader, a step's failure already
//! announced) is dropped there. An announced event goes to the queue of
//! every receiver that wants it; each receiver has its own worker task
//! ([`super::deliver`]), so a receiver that hangs only fills its own queue.
//! When this node becomes leader (a new term) it first queues again every
//! announced event some receiver has not settled: what the previous leader
//! had not delivered.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::warn;

use super::config::{NotifyConfig, Receiver};
use super::queue::Queue;
use super::{deliver, Event, NotifyMetrics};

/// What notifications need of the replicated state. The controller
/// implements it over raft; tests over a [`crate::consensus::ClusterState`]
/// in memory.
pub trait Outbox: Send + Sync + 'static {
    /// Whether this node leads now.
    fn leading(&self) -> bool;
    /// The current term (a change means leadership may have moved).
    fn term(&self) -> u64;
    /// `e` as it would be announced now, or `None` for a repeat (no log
    /// write needed).
    fn prepare(&self, e: &Event) -> Option<Event>;
    /// Announces `e` through the log: the event as announced, or `None`
    /// for a repeat.
    fn announce(&self, e: Event) -> impl Future<Output = Result<Option<Event>, String>> + Send;
    /// Records that `id` was delivered to `receiver` (or given up).
    fn settle(
        &self,
        id: &str,
        receiver: &str,
        delivered: bool,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Whether `id` was settled at `receiver`.
    fn settled(&self, id: &str, receiver: &str) -> bool;
    /// Every announced event still kept, oldest first.
    fn announced(&self) -> Vec<Event>;
}

/// The name of the emitting side's queue in metrics.
pub const EMITTED: &str = "emitted";

/// How often the dispatcher looks for a change of leadership while no
/// event arrives.
const LEADERSHIP_CHECK: Duration = Duration::from_millis(500);

/// Where the controller emits events; cheap to clone. Without receivers
/// it does nothing.
#[derive(Clone, Default)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    queue: Queue<Event>,
    metrics: NotifyMetrics,
}

impl Notifier {
    /// A notifier for `cfg`'s receivers, counting into `metrics`; a
    /// disabled one when there are none.
    pub fn new(cfg: &NotifyConfig, metrics: NotifyMetrics) -> Self {
        if cfg.receivers.is_empty() {
            return Self::default();
        }
        Self {
            inner: Some(Arc::new(Inner {
                queue: Queue::new(cfg.queue),
                metrics,
            })),
        }
    }

    /// Queues `e` for the dispatcher; never waits. When the queue is full
    /// the oldest non-critical event is dropped and counted.
    pub fn emit(&self, e: Event) {
        let Some(inner) = &self.inner else { return };
        if let Some(d) = inner.queue.push(e) {
            inner.metrics.dropped(EMITTED);
            warn!(event = %d.kind, policy = %d.policy, "notification queue full: dropped the oldest non-critical event");
        }
        inner.metrics.depth(EMITTED, inner.queue.len());
    }

    /// Starts the dispatcher and one worker per receiver. `site` names
    /// this node's site in payloads.
    pub fn spawn<O: Outbox>(
        &self,
        cfg: &NotifyConfig,
        outbox: Arc<O>,
        site: &str,
    ) -> Vec<JoinHandle<()>> {
        let Some(inner) = self.inner.clone() else {
            return Vec::new();
        };
        let client = reqwest::Client::builder()
            .build()
            .expect("an HTTP client with default settings always builds");
        let mut tasks = Vec::new();
        let mut workers = Vec::new();
        for r in &cfg.receivers {
            let q = Arc::new(Queue::new(cfg.queue));
            let w = deliver::Worker {
                receiver: r.clone(),
                queue: q.clone(),
                client: client.clone(),
                metrics: inner.metrics.clone(),
                site: site.to_string(),
                backoff: cfg.backoff,
            };
            tasks.push(crate::clock::spawn(w.run(outbox.clone())));
            workers.push((r.clone(), q));
        }
        tasks.push(crate::clock::spawn(dispatch(inner, workers, outbox)));
        tasks
    }
}

type Workers = Vec<(Receiver, Arc<Queue<Event>>)>;

async fn dispatch<O: Outbox>(inner: Arc<Inner>, workers: Workers, outbox: Arc<O>) {
    let mut term = None;
    loop {
        let e = tokio::select! {
            e = inner.queue.pop() => Some(e),
            () = tokio::time::sleep(LEADERSHIP_CHECK) => None,
        };
        inner.metrics.depth(EMITTED, inner.queue.len());
        if !outbox.leading() {
            term = None;
            continue;
        }
        if term != Some(outbox.term()) {
            term = Some(outbox.term());
            for e in outbox.announced().into_iter().filter(recent) {
                to_workers(&inner, &workers, &e, |r| !outbox.settled(&e.id, r));
            }
        }
        let Some(e) = e else { continue };
        if outbox.prepare(&e).is_none() {
            continue;
        }
        match outbox.announce(e).await {
            Ok(Some(e)) => to_workers(&inner, &workers, &e, |_| true),
            Ok(None) => {}
            Err(error) => {
                warn!(%error, "notification not announced: the next leader sends what it sees")
            }
        }
    }
}

/// How old an announced event may be and still be sent by a new leader:
/// a page about an hour-old failover is still useful; older ones (and
/// every past event, for a receiver added since) would only be noise.
pub const REDELIVER_WITHIN: Duration = Duration::from_secs(3600);

/// Whether `e` was emitted within [`REDELIVER_WITHIN`] (by its own clock).
fn recent(e: &Event) -> bool {
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(&e.at, &format)
        .is_ok_and(|at| crate::clock::now_utc() - at < REDELIVER_WITHIN)
}

/// Queues `e` for every receiver that wants it and `unsettled` accepts.
fn to_workers(inner: &Inner, workers: &Workers, e: &Event, unsettled: impl Fn(&str) -> bool) {
    for (r, q) in workers {
        if !r.wants(e.kind) || !unsettled(&r.name) {
            continue;
        }
        if let Some(d) = q.push(e.clone()) {
            inner.metrics.dropped(&r.name);
            warn!(receiver = %r.name, event = %d.kind, policy = %d.policy, "receiver's queue full: dropped the oldest non-critical event");
        }
        inner.metrics.depth(&r.name, q.len());
    }
}
