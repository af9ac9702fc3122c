//! Notification metrics: sent, failed (by receiver and reason), dropped
//! and queue depth. Registered in the node's registry by
//! [`crate::controller::Metrics`].

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// The counters; cheap to clone (they share their values).
#[derive(Clone, Default)]
pub struct NotifyMetrics {
    sent: Family<Labels, Counter>,
    failed: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    depth: Family<Labels, Gauge>,
}

impl NotifyMetrics {
    /// New metrics registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "notifications_sent",
            "Notifications delivered, by receiver and event",
            m.sent.clone(),
        );
        registry.register(
            "notifications_failed",
            "Failed notification attempts, by receiver and reason (timeout, connect, status_4xx, status_5xx, gave_up)",
            m.failed.clone(),
        );
        registry.register(
            "notifications_dropped",
            "Notifications dropped from a full queue, by queue (emitted, or a receiver's name)",
            m.dropped.clone(),
        );
        registry.register(
            "notifications_queue_depth",
            "Notifications waiting, by queue (emitted, or a receiver's name)",
            m.depth.clone(),
        );
        m
    }

    /// Counts a delivery.
    pub fn sent(&self, receiver: &str, event: &str) {
        self.sent
            .get_or_create(&vec![
                ("receiver".into(), receiver.into()),
                ("event".into(), event.into()),
            ])
            .inc();
    }

    /// Counts a failed attempt.
    pub fn failed(&self, receiver: &str, reason: &str) {
        self.failed
            .get_or_create(&vec![
                ("receiver".into(), receiver.into()),
                ("reason".into(), reason.into()),
            ])
            .inc();
    }

    /// Counts an event dropped from `queue`.
    pub fn dropped(&self, queue: &str) {
        self.dropped
            .get_or_create(&vec![("queue".into(), queue.into())])
            .inc();
    }

    /// Sets `queue`'s depth.
    pub fn depth(&self, queue: &str, n: usize) {
        self.depth
            .get_or_create(&vec![("queue".into(), queue.into())])
            .set(n as i64);
    }

    /// Deliveries to `receiver` so far (any event).
    pub fn sent_total(&self, receiver: &str) -> u64 {
        crate::notify::EventKind::ALL
            .iter()
            .map(|k| {
                self.sent
                    .get(&vec![
                        ("receiver".into(), receiver.into()),
                        ("event".into(), k.label().into()),
                    ])
                    .map_or(0, |c| c.get())
            })
            .sum()
    }

    /// Failed attempts of `receiver` for `reason` so far.
    pub fn failed_total(&self, receiver: &str, reason: &str) -> u64 {
        self.failed
            .get(&vec![
                ("receiver".into(), receiver.into()),
                ("reason".into(), reason.into()),
            ])
            .map_or(0, |c| c.get())
    }

    /// Events dropped from `queue` so far.
    pub fn dropped_total(&self, queue: &str) -> u64 {
        self.dropped
            .get(&vec![("queue".into(), queue.into())])
            .map_or(0, |c| c.get())
    }
}
