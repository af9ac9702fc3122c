//! `drctl history`'s figures for one policy: every run, p50/p95 per step
//! against its budget, the RTO across runs against the objective.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::{
    budget_for, drifted, rto_percentiles, step_percentiles, Drift, HistoryEntry, RunSummary,
};
use crate::duration;
use crate::policy::Policy;

/// The history of one policy.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    /// The policy.
    pub policy: String,
    /// Its RTO, in milliseconds.
    pub rto_objective_ms: u64,
    /// Every run, oldest first.
    pub runs: Vec<HistoryRun>,
    /// Each step's figures, by step id.
    pub steps: Vec<StepLine>,
    /// The RTO of the completed runs.
    pub rto: Option<Percentiles>,
    /// Steps whose p95 is above their budget.
    pub drift: Vec<Drift>,
}

/// One run in the history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRun {
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// Where it ran.
    pub target: String,
    /// The run.
    #[serde(flatten)]
    pub summary: RunSummary,
}

/// p50, p95 and how many values they rest on, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50_ms: u64,
    /// The 95th percentile.
    pub p95_ms: u64,
    /// How many values.
    pub count: usize,
}

/// One step's line: its figures and the budget they are held to.
#[derive(Debug, Clone, Serialize)]
pub struct StepLine {
    /// The step id.
    pub step: String,
    /// Its durations across runs.
    #[serde(flatten)]
    pub figures: Percentiles,
    /// Its budget, in milliseconds.
    pub budget_ms: u64,
    /// The policy field the budget comes from.
    pub budget_from: String,
    /// Whether its p95 is above the budget.
    pub drifted: bool,
}

impl HistoryReport {
    /// The history of `policy` from its recorded `entries`.
    pub fn new(policy: &Policy, entries: &[HistoryEntry]) -> Self {
        let runs: Vec<HistoryRun> = entries
            .iter()
            .map(|e| HistoryRun {
                recorded_at: e.recorded_at.clone(),
                target: e.target.clone(),
                summary: RunSummary::of(&e.record),
            })
            .collect();
        Self::from_runs(policy, runs)
    }

    /// The history of `policy` from runs already summarized, oldest first
    /// (a controller's replicated summaries, `GET /v1/history`).
    pub fn from_runs(policy: &Policy, runs: Vec<HistoryRun>) -> Self {
        let summaries: Vec<RunSummary> = runs.iter().map(|r| r.summary.clone()).collect();
        let stats = step_percentiles(&summaries);
        let drift = drifted(policy, &stats);
        let steps = stats
            .iter()
            .map(|(id, s)| {
                let (budget, from) = budget_for(policy, s.kind);
                StepLine {
                    step: id.clone(),
                    figures: Percentiles {
                        p50_ms: s.p50.as_millis() as u64,
                        p95_ms: s.p95.as_millis() as u64,
                        count: s.count,
                    },
                    budget_ms: budget.as_millis() as u64,
                    budget_from: from,
                    drifted: drift.iter().any(|d| &d.step == id),
                }
            })
            .collect();
        Self {
            policy: policy.name.clone(),
            rto_objective_ms: policy.rto.as_millis() as u64,
            runs,
            steps,
            rto: rto_percentiles(&summaries).map(|(p50, p95, count)| Percentiles {
                p50_ms: p50.as_millis() as u64,
                p95_ms: p95.as_millis() as u64,
                count,
            }),
            drift,
        }
    }

    /// The history as text for a terminal.
    pub fn render_text(&self) -> String {
        let ms = |v: u64| duration::fmt(Duration::from_millis(v));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "history of policy {}: {} run(s), RTO objective {}",
            self.policy,
            self.runs.len(),
            ms(self.rto_objective_ms)
        );
        if self.runs.is_empty() {
            let _ = writeln!(out, "no run recorded yet: `drctl drill` records one");
            return out;
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<22} {:<36} {:<18} {:>10}  target",
            "recorded", "execution", "status", "RTO"
        );
        for r in &self.runs {
            let s = &r.summary;
            let rto = s.rto_ms.map(ms).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<22} {:<36} {:<18} {:>10}  {}",
                r.recorded_at.get(..19).unwrap_or(&r.recorded_at),
                s.id,
                s.status.label(),
                rto,
                r.target
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<32} {:>5} {:>10} {:>10} {:>10}  budget from",
            "step", "runs", "p50", "p95", "budget"
        );
        for s in &self.steps {
            let _ = writeln!(
                out,
                "{:<32} {:>5} {:>10} {:>10} {:>10}  {}{}",
                s.step,
                s.figures.count,
                ms(s.figures.p50_ms),
                ms(s.figures.p95_ms),
                ms(s.budget_ms),
                s.budget_from,
                if s.drifted { "  DRIFTED" } else { "" }
            );
        }
        let _ = writeln!(out);
        if let Some(r) = &self.rto {
            let verdict = if r.p95_ms <= self.rto_objective_ms {
                "within"
            } else {
                "ABOVE"
            };
            let _ = writeln!(
                out,
                "RTO over {} completed run(s): p50 {}, p95 {} ({verdict} the objective of {})",
                r.count,
                ms(r.p50_ms),
                ms(r.p95_ms),
                ms(self.rto_objective_ms)
            );
        }
        for d in &self.drift {
            let _ = writeln!(
                out,
                "drift: {}: p95 {} is above its budget of {} ({})",
                d.step,
                ms(d.p95_ms),
                ms(d.budget_ms),
                d.budget_from
            );
        }
        out
    }
}
