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
use std::sync::atomic::AtomicU64;

use crate::detect::{Action, Health, Observation};
use crate::model::Exposure;

use super::metrics_format::MetricsFormat;
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
    rounds_refused: Family<Labels, Counter>,
    cloud_calls_refused: Family<Labels, Counter>,
    probe_up: Family<Labels, Gauge>,
    probe_latency: Family<Labels, Histogram>,
    exposure: Family<Labels, Gauge<f64, AtomicU64>>,
    exposure_unknown: Family<Labels, Gauge>,
    rpo: Family<Labels, Gauge<f64, AtomicU64>>,
    health: Family<Labels, Gauge>,
    action: Family<Labels, Gauge>,
    recommended: Family<Labels, Gauge>,
    self_fenced: Family<Labels, Gauge>,
    old_primary_writable: Family<Labels, Gauge>,
    readiness: super::metrics_readiness::ReadinessMetrics,
    /// The notifications' counters (see [`crate::notify`]).
    pub notify: crate::notify::NotifyMetrics,
}

fn probe_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
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
        let rounds_refused = Family::<Labels, Counter>::default();
        let cloud_calls_refused = Family::<Labels, Counter>::default();
        registry.register(
            "cloud_calls_refused",
            "Mutating cloud calls not sent because this node's leader lease did not hold, by operation",
            cloud_calls_refused.clone(),
        );
        registry.register(
            "rounds_refused",
            "Peers' probe rounds this node refused, by reason (unauthenticated, wrong_site, future, unknown_policy, unknown_site, malformed)",
            rounds_refused.clone(),
        );
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
        let probe_up = Family::<Labels, Gauge>::default();
        let probe_latency =
            Family::<Labels, Histogram>::new_with_constructor(probe_histogram as fn() -> _);
        let exposure = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let exposure_unknown = Family::<Labels, Gauge>::default();
        let rpo = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let health = Family::<Labels, Gauge>::default();
        let action = Family::<Labels, Gauge>::default();
        let recommended = Family::<Labels, Gauge>::default();
        let self_fenced = Family::<Labels, Gauge>::default();
        let old_primary_writable = Family::<Labels, Gauge>::default();
        registry.register(
            "self_fenced",
            "1 while this node has fenced its region's writers (cut off from the majority); lifted by drctl unfence",
            self_fenced.clone(),
        );
        registry.register(
            "old_primary_writable",
            "1 while the old primary accepts writes after a failover (an alarm: two writers)",
            old_primary_writable.clone(),
        );
        registry.register(
            "probe_success",
            "1 when the newest probe of the primary from a site passed, by policy, site and target",
            probe_up.clone(),
        );
        registry.register(
            "probe_latency_seconds",
            "Probe durations from every site, by policy, site and target",
            probe_latency.clone(),
        );
        registry.register(
            "exposure_seconds",
            "Measured data-loss exposure per data tier (0 while unknown; see exposure_unknown)",
            exposure.clone(),
        );
        registry.register(
            "exposure_unknown",
            "1 when a data tier's exposure cannot be measured (the RPO gate counts it as above the RPO)",
            exposure_unknown.clone(),
        );
        registry.register("rpo_seconds", "The policy's RPO", rpo.clone());
        registry.register(
            "detector_health",
            "1 for the primary's health as the detector judges it: unknown, healthy, suspect, down",
            health.clone(),
        );
        registry.register(
            "detector_action",
            "1 for what the detector asks: none, failover, recommend, maintenance, held_down, running, failed_over",
            action.clone(),
        );
        registry.register(
            "failover_recommended",
            "1 while a confirmed failure waits for an operator (manual mode)",
            recommended.clone(),
        );
        let readiness = super::metrics_readiness::ReadinessMetrics::register(&mut registry);
        let notify = crate::notify::NotifyMetrics::register(&mut registry);
        Self {
            readiness,
            notify,
            self_fenced,
            old_primary_writable,
            probe_up,
            probe_latency,
            exposure,
            exposure_unknown,
            rpo,
            health,
            action,
            recommended,
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
            rounds_refused,
            cloud_calls_refused,
        }
    }
}

impl Metrics {
    /// Metrics with one sample in every family (an empty family is not
    /// exposed at all), for tests of the exposition.
    #[cfg(test)]
    pub(super) fn with_every_family() -> Self {
        let m = Self::default();
        let p = || vec![("policy".to_string(), "p".to_string())];
        for g in [
            &m.executions,
            &m.active_region,
            &m.probe_up,
            &m.exposure_unknown,
            &m.health,
            &m.action,
            &m.recommended,
            &m.self_fenced,
            &m.old_primary_writable,
        ] {
            g.get_or_create(&p()).set(1);
        }
        m.exposure.get_or_create(&p()).set(1.0);
        m.rpo.get_or_create(&p()).set(1.0);
        m.probe_latency.get_or_create(&p()).observe(0.1);
        m.step("promote_database", "done", 3.5);
        m.request("accepted");
        m.round_refused("unauthenticated");
        m.cloud_call_refused("rds:PromoteReadReplica");
        m.readiness.touch();
        m.notify.sent("pager", "failover_started");
        m.notify.failed("pager", "timeout");
        m.notify.dropped("emitted");
        m.notify.depth("emitted", 0);
        m
    }

    /// Records a finished step.
    pub fn step(&self, kind: &str, status: &str, seconds: f64) {
        self.steps
            .get_or_create(&vec![
                ("kind".into(), kind.into()),
                ("status".into(), status.into()),
            ])
            .observe(seconds);
    }

    /// Records a probe round from any site.
    pub fn observation(&self, o: &Observation) {
        for p in &o.probes {
            let labels = vec![
                ("policy".into(), o.policy.clone()),
                ("site".into(), o.site.clone()),
                ("target".into(), p.target.clone()),
            ];
            self.probe_up.get_or_create(&labels).set(i64::from(p.ok));
            self.probe_latency
                .get_or_create(&labels)
                .observe(p.latency_ms as f64 / 1000.0);
        }
    }

    /// Counts an answered failover request.
    pub fn request(&self, outcome: &str) {
        self.requests
            .get_or_create(&vec![("outcome".into(), outcome.into())])
            .inc();
    }

    /// Counts a peer's probe round refused for `reason`.
    pub fn round_refused(&self, reason: &str) {
        self.rounds_refused
            .get_or_create(&vec![("reason".into(), reason.into())])
            .inc();
    }

    /// Counts a mutating cloud call the lease check refused.
    pub fn cloud_call_refused(&self, op: &str) {
        self.cloud_calls_refused
            .get_or_create(&vec![("op".into(), op.into())])
            .inc();
    }

    /// The metrics in `format`, raft and state read now.
    pub fn render(&self, ctx: &Context, format: MetricsFormat) -> String {
        self.update(ctx);
        self.encode(format)
    }

    /// The metrics as they stand, in `format`.
    pub fn encode(&self, format: MetricsFormat) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        match format {
            MetricsFormat::OpenMetrics => out,
            MetricsFormat::Text => super::metrics_format::to_prometheus_text(&out),
        }
    }

    /// Reads raft, the replicated state and the detector into the gauges.
    fn update(&self, ctx: &Context) {
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
            self.readiness.update(&a.state);
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
        for (name, p) in &ctx.policies {
            let policy = || ("policy".to_string(), name.clone());
            let v = ctx.verdict(p);
            for h in [
                Health::Unknown,
                Health::Healthy,
                Health::Suspect,
                Health::Down,
            ] {
                let label = serde_json::to_value(h)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                self.health
                    .get_or_create(&vec![policy(), ("health".into(), label)])
                    .set(i64::from(v.health == h));
            }
            for a in Action::ALL {
                self.action
                    .get_or_create(&vec![policy(), ("action".into(), a.label().into())])
                    .set(i64::from(v.action == a));
            }
            self.recommended
                .get_or_create(&vec![policy()])
                .set(i64::from(v.action == Action::Recommend));
            self.rpo
                .get_or_create(&vec![policy()])
                .set(p.rpo.as_secs_f64());
            self.self_fenced
                .get_or_create(&vec![policy()])
                .set(i64::from(super::self_fence::is_fenced(ctx, name)));
            self.old_primary_writable
                .get_or_create(&vec![policy()])
                .set(i64::from(ctx.old_primary_writable(name).is_some()));
            for (tier, (e, _)) in ctx.exposures(p) {
                let labels = vec![policy(), ("tier".into(), tier.name().into())];
                let (secs, unknown) = match e {
                    Exposure::Known(d) => (d.as_secs_f64(), 0),
                    Exposure::Unknown => (0.0, 1),
                };
                self.exposure.get_or_create(&labels).set(secs);
                self.exposure_unknown.get_or_create(&labels).set(unknown);
            }
        }
    }
}
