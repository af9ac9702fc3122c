//! The readiness metrics, read at scrape time from the replicated state so
//! that every node exports the newest result:
//!
//! - `drctl_readiness{policy, check}`: 0 pass, 1 warn, 2 fail;
//! - `drctl_predicted_rto_seconds{policy, quantile="0.5"|"0.95"}`.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::consensus::state::ClusterState;

type Labels = Vec<(String, String)>;

/// The readiness gauges.
pub(super) struct ReadinessMetrics {
    checks: Family<Labels, Gauge>,
    predicted: Family<Labels, Gauge<f64, AtomicU64>>,
}

impl ReadinessMetrics {
    /// Registers the gauges in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let checks = Family::<Labels, Gauge>::default();
        let predicted = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "readiness",
            "Newest readiness of each check, by policy and check: 0 pass, 1 warn, 2 fail",
            checks.clone(),
        );
        registry.register(
            "predicted_rto_seconds",
            "Predicted RTO of a failover started now, by policy and quantile (0.5, 0.95)",
            predicted.clone(),
        );
        Self { checks, predicted }
    }

    /// One sample in each family, for tests of the exposition.
    #[cfg(test)]
    pub(super) fn touch(&self) {
        let labels = vec![("policy".to_string(), "p".to_string())];
        self.checks.get_or_create(&labels).set(0);
        self.predicted.get_or_create(&labels).set(1.0);
    }

    /// Sets the gauges from the state's newest results.
    pub(super) fn update(&self, state: &ClusterState) {
        self.checks.clear();
        self.predicted.clear();
        for (policy, r) in &state.readiness {
            let label = |k: &str, v: &str| {
                vec![
                    ("policy".to_string(), policy.clone()),
                    (k.to_string(), v.to_string()),
                ]
            };
            for c in &r.checks {
                self.checks
                    .get_or_create(&label("check", &c.name))
                    .set(i64::from(c.status.gauge()));
            }
            let p = &r.predicted_rto;
            for (q, ms) in [("0.5", p.p50_ms), ("0.95", p.p95_ms)] {
                self.predicted
                    .get_or_create(&label("quantile", q))
                    .set(ms as f64 / 1000.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::{Check, PredictedRto, Readiness, Status, Verdict};
    use prometheus_client::encoding::text::encode;

    #[test]
    fn each_check_and_both_quantiles_are_exported() {
        let mut registry = Registry::with_prefix("drctl");
        let m = ReadinessMetrics::register(&mut registry);
        let checks = vec![
            Check {
                name: "dr-resources".into(),
                status: Status::Pass,
                sentence: String::new(),
            },
            Check {
                name: "vcpu-quota".into(),
                status: Status::Fail,
                sentence: String::new(),
            },
        ];
        let mut state = ClusterState::default();
        state.readiness.insert(
            "p".into(),
            Readiness {
                policy: "p".into(),
                checked_at: String::new(),
                verdict: Verdict::of(&checks),
                checks,
                predicted_rto: PredictedRto {
                    p50_ms: 300_000,
                    p95_ms: 420_500,
                    critical_path: vec![],
                    basis: String::new(),
                },
            },
        );
        m.update(&state);
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        assert!(
            out.contains(r#"drctl_readiness{policy="p",check="dr-resources"} 0"#),
            "{out}"
        );
        assert!(
            out.contains(r#"drctl_readiness{policy="p",check="vcpu-quota"} 2"#),
            "{out}"
        );
        assert!(
            out.contains(r#"drctl_predicted_rto_seconds{policy="p",quantile="0.95"} 420.5"#),
            "{out}"
        );
    }
}
