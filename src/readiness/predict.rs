//! The predicted RTO: the plan's critical path, each step's duration taken
//! from this policy's history (p50 and p95 over past executions and
//! drills) or, for a step with no history, from the latency model.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Check, Status};
use crate::cloud::sim::{LatencyModel, Span};
use crate::execute::{StepRecord, StepStatus};
use crate::history::RunSummary;
use crate::plan::{Action, Plan};
use crate::policy::Policy;

/// The predicted RTO against the objective.
pub const PREDICTED_RTO: &str = "predicted-rto";

/// How many past executions at most feed the prediction (the newest): all
/// that the history and the replicated state keep.
pub const HISTORY_MAX: usize = crate::history::HISTORY_KEPT;

/// A predicted RTO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictedRto {
    /// The median, in milliseconds.
    pub p50_ms: u64,
    /// The 95th percentile, in milliseconds.
    pub p95_ms: u64,
    /// The steps that set the p95 figure, first to last.
    pub critical_path: Vec<String>,
    /// Where the durations come from, for people.
    pub basis: String,
}

impl PredictedRto {
    /// The median.
    pub fn p50(&self) -> Duration {
        Duration::from_millis(self.p50_ms)
    }

    /// The 95th percentile.
    pub fn p95(&self) -> Duration {
        Duration::from_millis(self.p95_ms)
    }
}

/// Predicts the RTO of `plan` with the default latency model for steps
/// that have no history.
pub fn predict_rto(plan: &Plan, policy: &Policy, history: &[RunSummary]) -> PredictedRto {
    predict_rto_with(plan, policy, history, &LatencyModel::default())
}

/// Predicts the RTO of `plan`: the longest path through its DAG with each
/// step's p50 (then p95) duration. Durations come from the steps of the
/// same id that completed in `history`'s executions of `policy` (the
/// newest [`HISTORY_MAX`]), else from `model`. A step already done takes
/// no time.
pub fn predict_rto_with(
    plan: &Plan,
    policy: &Policy,
    history: &[RunSummary],
    model: &LatencyModel,
) -> PredictedRto {
    let mine: Vec<&RunSummary> = history
        .iter()
        .filter(|r| r.policy == policy.name)
        .rev()
        .take(HISTORY_MAX)
        .collect();
    let mut samples: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for r in &mine {
        for s in r.steps.iter().filter(|s| s.status == StepStatus::Done) {
            if let Some(d) = s.duration_ms {
                samples.entry(s.id.as_str()).or_default().push(d);
            }
        }
    }
    let from_history = plan
        .steps
        .iter()
        .filter(|s| !s.already_done && samples.contains_key(s.id.as_str()))
        .count();
    let mut durations = |q: f64| -> Vec<u64> {
        plan.steps
            .iter()
            .map(|s| {
                if s.already_done {
                    return 0;
                }
                match samples.get_mut(s.id.as_str()) {
                    Some(v) if !v.is_empty() => quantile(v, q),
                    _ => modeled(&s.action, model, q),
                }
            })
            .collect()
    };
    let p50 = durations(0.5);
    let p95 = durations(0.95);
    let (p50_ms, _) = schedule(plan, &p50);
    let (p95_ms, records) = schedule(plan, &p95);
    let basis = if from_history == 0 {
        "the latency model (no history of this policy)".to_string()
    } else {
        format!(
            "{} past executions of {} ({} of {} steps), the latency model for the rest",
            mine.len(),
            policy.name,
            from_history,
            plan.steps.len()
        )
    };
    PredictedRto {
        p50_ms,
        p95_ms,
        critical_path: crate::report::critical_path(&records),
        basis,
    }
}

/// The nearest-rank quantile `q` of `v` (sorted in place).
fn quantile(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The quantile `q` of a span read as a uniform distribution.
fn of_span(span: Span, q: f64) -> u64 {
    let (lo, hi) = (span.min_ms.min(span.max_ms), span.max_ms.max(span.min_ms));
    lo + ((hi - lo) as f64 * q).round() as u64
}

/// A step's modeled duration: its state change per the latency model, a
/// switched record's TTL included, plus one API round trip.
fn modeled(action: &Action, m: &LatencyModel, q: f64) -> u64 {
    let call = of_span(m.api_call, q);
    let ttl = |t: u32| u64::from(t) * 1000;
    let change = match action {
        Action::Preflight
        | Action::RpoGate
        | Action::Verify
        | Action::PreflightReprotect
        | Action::PreflightFailback
        | Action::SwitchRoles { .. }
        | Action::QuiesceWriters { .. }
        | Action::LiftQuiesce { .. }
        | Action::UndoQuiesce { .. }
        | Action::WaitReplication
        | Action::Drain { .. } => 0,
        // The resources a reprotect creates take their own (long) spans; a
        // new Global Datastore, when one is made, comes before its member.
        Action::CreateReplicaDatabase { .. } => of_span(m.database_replica_creation, q),
        Action::RenameOldPrimary { .. } => of_span(m.database_promotion, q),
        Action::AddCacheSecondary {
            global_datastore, ..
        } => {
            let datastore = match global_datastore {
                Some(_) => 0,
                None => of_span(m.cache_datastore_creation, q),
            };
            datastore + of_span(m.cache_member_creation, q)
        }
        Action::CreateReverseReplicator { .. } => of_span(m.replicator_creation, q),
        Action::PromoteDatabase { .. } => of_span(m.database_promotion, q),
        Action::ScaleNodeGroup { .. } => of_span(m.node_group_scaling, q),
        Action::FailoverCache { .. } => of_span(m.cache_failover, q),
        Action::SwitchStream {
            routing, ttl: t, ..
        }
        | Action::FlipDns {
            routing, ttl: t, ..
        } => {
            let propagation = if routing.is_some() {
                m.routing_control_effect
            } else {
                m.dns_propagation
            };
            of_span(propagation, q) + ttl(*t)
        }
    };
    call + change
}

/// Runs the plan on paper: each step starts when the last of its
/// dependencies ends. Returns the end of the last step and the steps as
/// records, for the critical path.
fn schedule(plan: &Plan, durations: &[u64]) -> (u64, Vec<StepRecord>) {
    let mut ends: BTreeMap<&str, u64> = BTreeMap::new();
    let mut records = Vec::with_capacity(plan.steps.len());
    for (s, d) in plan.steps.iter().zip(durations) {
        let start = s
            .after
            .iter()
            .filter_map(|a| ends.get(a.as_str()))
            .max()
            .copied()
            .unwrap_or(0);
        ends.insert(&s.id, start + d);
        records.push(StepRecord {
            id: s.id.clone(),
            kind: s.kind,
            after: s.after.clone(),
            resource: None,
            status: StepStatus::Done,
            attempts: 1,
            started_ms: Some(start),
            ended_ms: Some(start + d),
            outcome: None,
            change_id: None,
            epoch: None,
            acting_ms: None,
            waiting_ms: None,
            first_started_at_ms: None,
        });
    }
    (ends.values().max().copied().unwrap_or(0), records)
}

/// Judges the predicted RTO against the policy's objective.
pub(super) fn check(policy: &Policy, p: &PredictedRto) -> Check {
    let rto = policy.rto;
    let figures = format!(
        "predicted RTO p50 {} / p95 {} against the objective of {}, from {}",
        crate::duration::fmt(p.p50()),
        crate::duration::fmt(p.p95()),
        crate::duration::fmt(rto),
        p.basis
    );
    if p.p50() > rto {
        let sentence = format!(
            "{figures}: a typical failover would miss the RTO; shorten the critical path ({})",
            p.critical_path.join(" → ")
        );
        return Check::new(PREDICTED_RTO, Status::Fail, sentence);
    }
    if p.p95() > rto {
        let sentence = format!(
            "{figures}: a slow failover would miss the RTO; see the critical path ({})",
            p.critical_path.join(" → ")
        );
        return Check::new(PREDICTED_RTO, Status::Warn, sentence);
    }
    Check::new(PREDICTED_RTO, Status::Pass, figures)
}
