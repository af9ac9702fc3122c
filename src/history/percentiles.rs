//! p50 and p95 of step durations and of the RTO across runs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::RunSummary;
use crate::execute::StepStatus;
use crate::plan::StepKind;

/// One step's durations across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StepStats {
    /// The step's kind (its budget is per kind).
    pub kind: StepKind,
    /// The median duration.
    #[serde(serialize_with = "ms")]
    pub p50: Duration,
    /// The 95th percentile.
    #[serde(serialize_with = "ms")]
    pub p95: Duration,
    /// How many runs the figures rest on.
    pub count: usize,
}

fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// The nearest-rank percentile `p` (0–100) of `values`, which need not be
/// sorted: the smallest value at or above which `p` percent of the values
/// lie. `None` for no values.
pub fn percentile(values: &[u64], p: u32) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = (u64::from(p.min(100)) * v.len() as u64)
        .div_ceil(100)
        .max(1);
    Some(v[rank as usize - 1])
}

/// p50, p95 and count of each step's duration (by step id) across `runs`.
/// Only steps that acted and were verified (`done`) count: a step already
/// done, failed or not run says nothing about how long acting takes.
pub fn step_percentiles(runs: &[RunSummary]) -> BTreeMap<String, StepStats> {
    let mut by_step: BTreeMap<String, (StepKind, Vec<u64>)> = BTreeMap::new();
    for s in runs.iter().flat_map(|r| &r.steps) {
        if let (StepStatus::Done, Some(d)) = (s.status, s.duration_ms) {
            by_step
                .entry(s.id.clone())
                .or_insert_with(|| (s.kind, Vec::new()))
                .1
                .push(d);
        }
    }
    by_step
        .into_iter()
        .map(|(id, (kind, v))| {
            let at = |p| Duration::from_millis(percentile(&v, p).expect("never empty"));
            let stats = StepStats {
                kind,
                p50: at(50),
                p95: at(95),
                count: v.len(),
            };
            (id, stats)
        })
        .collect()
}

/// p50, p95 and count of the RTO of the completed runs, if any.
pub fn rto_percentiles(runs: &[RunSummary]) -> Option<(Duration, Duration, usize)> {
    let v: Vec<u64> = runs.iter().filter_map(|r| r.rto_ms).collect();
    let at = |p| percentile(&v, p).map(Duration::from_millis);
    Some((at(50)?, at(95)?, v.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::{ExecutionStatus, TimeBasis};
    use crate::history::StepTiming;

    fn run(id: &str, promote_ms: u64, dns: (StepStatus, u64)) -> RunSummary {
        let step = |id: &str, kind, status, d| StepTiming {
            id: id.into(),
            kind,
            status,
            attempts: 1,
            duration_ms: Some(d),
            acting_ms: None,
            waiting_ms: None,
        };
        RunSummary {
            id: id.into(),
            policy: "p".into(),
            started_at: String::new(),
            status: ExecutionStatus::Completed,
            time_basis: TimeBasis::Modeled,
            rto_ms: Some(promote_ms + dns.1),
            phases: Default::default(),
            detected: None,
            steps: vec![
                step(
                    "promote-database",
                    StepKind::PromoteDatabase,
                    StepStatus::Done,
                    promote_ms,
                ),
                step("flip-dns", StepKind::FlipDns, dns.0, dns.1),
            ],
        }
    }

    #[test]
    fn nearest_rank_percentiles_of_known_values() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[30, 10, 20], 50), Some(20));
        assert_eq!(percentile(&[30, 10, 20], 95), Some(30));
        let hundred: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&hundred, 50), Some(50));
        assert_eq!(percentile(&hundred, 95), Some(95));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
    }

    #[test]
    fn step_percentiles_count_only_steps_that_acted() {
        let runs = [
            run("a", 300_000, (StepStatus::Done, 40_000)),
            run("b", 100_000, (StepStatus::AlreadyDone, 0)),
            run("c", 200_000, (StepStatus::Done, 60_000)),
        ];
        let p = step_percentiles(&runs);
        let promote = p["promote-database"];
        assert_eq!(promote.kind, StepKind::PromoteDatabase);
        assert_eq!(promote.p50, Duration::from_secs(200));
        assert_eq!(promote.p95, Duration::from_secs(300));
        assert_eq!(promote.count, 3);
        let dns = p["flip-dns"];
        assert_eq!(
            (dns.p50, dns.p95, dns.count),
            (Duration::from_secs(40), Duration::from_secs(60), 2)
        );
        let (p50, p95, n) = rto_percentiles(&runs).unwrap();
        assert_eq!(
            (p50, p95, n),
            (Duration::from_secs(260), Duration::from_secs(340), 3)
        );
        assert!(rto_percentiles(&[]).is_none());
    }
}
