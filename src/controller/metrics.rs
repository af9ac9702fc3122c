//! Prometheus metrics of a controller node.
//!
//! Raft and state figures are read at scrape time from the node's own view;
//! step durations and failover requests are counted as they happen.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Context;

type Labels = Vec<(String, String)>;

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    term: Gauge,
    leader: Gauge,
    is_leader: Gauge,
    last_applied: Gauge,
    maintenance: Gauge,
    executions: Family<Labels, Gauge>,
    active_region: Family<Labels, Gauge>,
    steps: Family<Labels, Histogram>,
    requests: Family<Labels, Counter>,
}

fn step_histogram() -> Histogram {
    // Steps take from milliseconds (checks) to many minutes (promotion).
    Histogram::new([
        0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("drctl");
        let term = Gauge::default();
        let leader = Gauge::default();
        let is_leader = Gauge::default();
        let last_applied = Gauge::default();
        let maintenance = Gauge::default();
        let executions = Family::<Labels, Gauge>::default();
        let active_region = Family::<Labels, Gauge>::default();
        let steps = Family::<Labels, Histogram>::new_with_constructor(step_histogram as fn() -> _);
        let requests = Family::<Labels, Counter>::default();
        registry.register("raft_term", "Current raft term", term.clone());
        registry.register(
            "raft_leader_id",
            "Id of the leader this node follows (0: none)",
            leader.clone(),
        );
        registry.register(
            "raft_is_leader",
            "1 when this node leads",
            is_leader.clone(),
        );
        registry.register(
            "raft_last_applied_index",
            "Last log index applied",
            last_applied.clone(),
        );
        registry.register(
            "maintenance",
            "1 while maintenance suppresses automatic failover",
            maintenance.clone(),
        );
        registry.register(
            "executions",
            "Executions kept, by policy and status",
            executions.clone(),
        );
        registry.register(
            "active_region",
            "1 for the region serving each policy",
            active_region.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "Duration of steps executed by this node, by kind and status",
            steps.clone(),
        );
        registry.register(
            "failover_requests",
            "Failover requests answered by this node, by outcome",
            requests.clone(),
        );
        Self {
            registry,
            term,
            leader,
            is_leader,
            last_applied,
            maintenance,
            executions,
            active_region,
            steps,
            requests,
        }
    }
}

impl Metrics {
    /// Records a finished step.
    pub fn step(&self, kind: &str, status: &str, seconds: f64) {
        self.steps
            .get_or_create(&vec![
                ("kind".into(), kind.into()),
                ("status".into(), status.into()),
            ])
            .observe(seconds);
    }

    /// Counts an answered failover request.
    pub fn request(&self, outcome: &str) {
        self.requests
            .get_or_create(&vec![("outcome".into(), outcome.into())])
            .inc();
    }

    /// The metrics in Prometheus text format, raft and state read now.
    pub fn render(&self, ctx: &Context) -> String {
        let m = ctx.raft.metrics().borrow().clone();
        self.term.set(m.current_term as i64);
        self.leader.set(m.current_leader.unwrap_or(0) as i64);
        self.is_leader
            .set(i64::from(m.current_leader == Some(ctx.id)));
        self.last_applied
            .set(m.last_applied.map(|l| l.index).unwrap_or(0) as i64);
        {
            let a = ctx.applied.read().expect("state lock");
            self.maintenance.set(i64::from(a.state.maintenance.on));
            self.executions.clear();
            for e in a.state.executions.values() {
                let status = e.record.status.label();
                self.executions
                    .get_or_create(&vec![
                        ("policy".into(), e.record.policy.clone()),
                        ("status".into(), status.into()),
                    ])
                    .inc();
            }
            self.active_region.clear();
            for (name, p) in &ctx.policies {
                let active = a
                    .state
                    .policies
                    .get(name)
                    .and_then(|s| s.active_region.clone())
                    .unwrap_or_else(|| p.regions.primary.clone());
                self.active_region
                    .get_or_create(&vec![
                        ("policy".into(), name.clone()),
                        ("region".into(), active),
                    ])
                    .set(1);
            }
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
