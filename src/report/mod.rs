//! The execution report: every step's timing, the critical path, the
//! modeled RTO against the policy's RTO and the RPO exposure against its RPO.
//!
//! A [`Report`] is built from a journal record alone, so the report of a
//! drill, of a live failover and of a past execution read from the journal
//! are the same thing. It renders as text for people and as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::cloud::CallCount;
use crate::duration;
use crate::execute::{
    DataLossOverride, Decision, ExecutionRecord, ExecutionStatus, StepRecord, StepStatus, TimeBasis,
};
use crate::history::PhaseTimes;
use crate::plan::{RpoVerdict, TierExposure};
use crate::policy::Policy;

/// The report of one execution.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where it ran: `simulated cloud (seed 42)` or `aws`.
    pub target: String,
    /// The execution id.
    pub execution_id: String,
    /// The policy.
    pub policy: String,
    /// From which region to which.
    pub from_region: String,
    /// To which region.
    pub to_region: String,
    /// How it ended.
    pub status: ExecutionStatus,
    /// A sentence saying how it ended.
    pub summary: String,
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// The chain of steps that decided when the execution ended.
    pub critical_path: Vec<String>,
    /// The modeled RTO: from the first step's start to the last step's end.
    pub rto_ms: u64,
    /// The policy's RTO.
    pub policy_rto_ms: u64,
    /// Whether the modeled RTO is within the policy's.
    pub rto_met: bool,
    /// The RPO side.
    pub rpo: RpoReport,
    /// Whether the times are modeled (simulated cloud) or measured wall time.
    pub time_basis: TimeBasis,
    /// Choices the executor made on its own, with why.
    pub decisions: Vec<Decision>,
    /// Steps that would not work with the region being left gone, with why
    /// and what to do instead (step id → reasons).
    pub depends_on_primary: Vec<(String, Vec<String>)>,
    /// What each step calls: service, region and plane (step id → calls).
    pub step_calls: Vec<(String, Vec<crate::cloud::CallSite>)>,
    /// Calls the cloud answered (or was asked) per service, region and
    /// plane, when the target counts them (the simulated cloud).
    pub calls: Vec<CallCount>,
    /// Fencing the old primary once its region answers, after the failover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fence_old_primary: Option<crate::execute::fence_return::FenceOldPrimary>,
    /// The replicas' positions at the fork and the divergence per tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<crate::execute::fence_return::view::DivergenceReport>,
    /// The phases from the fault to traffic on the DR side.
    pub phases: PhaseTimes,
    /// When the execution started (RFC 3339): the decision. Shown in text
    /// and HTML, left out of JSON so that a drill's seed gives one report
    /// (the wall clock is in the record and the history).
    #[serde(skip_serializing)]
    pub started_at: String,
    /// Operators' acceptances of data loss: who, when, how much and why.
    pub overrides: Vec<DataLossOverride>,
    /// The audit lines about this execution, when the source keeps them
    /// (a controller cluster).
    pub audit: Vec<String>,
}

/// The RPO side of a report.
#[derive(Debug, Clone, Serialize)]
pub struct RpoReport {
    /// The policy's RPO.
    pub policy_rpo_ms: u64,
    /// Each data tier's exposure as the gate measured it (empty when the
    /// gate did not run).
    pub tiers: Vec<TierExposure>,
    /// The largest known exposure among tiers failed over by this execution.
    pub worst_ms: Option<u64>,
    /// Whether some exposure could not be measured.
    pub unknown: bool,
    /// The operator's accepted data loss, when an override was used.
    pub accepted_ms: Option<u64>,
    /// Whether the exposure is within the RPO (or was accepted).
    pub met: bool,
    /// What the figures rest on (`bounded` or `assumed`, with why).
    pub basis: Option<crate::plan::ExposureBasis>,
}

impl Report {
    /// Builds the report of `record`, run under `policy` against `target`.
    pub fn new(record: &ExecutionRecord, policy: &Policy, target: &str) -> Self {
        Self::with_objectives(record, (policy.rto, policy.rpo), target)
    }

    /// Builds the report of `record` held to `(rto, rpo)`, when the policy
    /// file is not at hand (a run read back from history).
    pub fn with_objectives(
        record: &ExecutionRecord,
        (rto, rpo): (Duration, Duration),
        target: &str,
    ) -> Self {
        let rto_ms = record
            .steps
            .iter()
            .filter_map(|s| s.ended_ms)
            .max()
            .unwrap_or(0);
        let policy_rto_ms = rto.as_millis() as u64;
        Self {
            target: target.to_string(),
            execution_id: record.id.clone(),
            policy: record.policy.clone(),
            from_region: record.plan.from_region.clone(),
            to_region: record.plan.to_region.clone(),
            status: record.status,
            summary: record.summary.clone().unwrap_or_default(),
            // A step's first start is the executing node's wall clock, for
            // its own time limits; the report's times are relative to the
            // run (`started_ms`), so that a seeded drill reports the same.
            steps: record
                .steps
                .iter()
                .cloned()
                .map(|mut s| {
                    s.first_started_at_ms = None;
                    s
                })
                .collect(),
            critical_path: critical_path(&record.steps),
            rto_ms,
            policy_rto_ms,
            rto_met: rto_ms <= policy_rto_ms,
            rpo: rpo_report(record, rpo),
            time_basis: record.time_basis,
            decisions: record.decisions.clone(),
            depends_on_primary: record
                .plan
                .steps
                .iter()
                .filter(|s| !s.depends_on_primary.is_empty())
                .map(|s| (s.id.clone(), s.depends_on_primary.clone()))
                .collect(),
            step_calls: record
                .plan
                .steps
                .iter()
                .map(|s| (s.id.clone(), s.calls.clone()))
                .collect(),
            calls: Vec::new(),
            fence_old_primary: record.fence_old_primary.clone(),
            divergence: crate::execute::fence_return::view::DivergenceReport::of_fork(record),
            phases: PhaseTimes::of(record),
            started_at: record.started_at.clone(),
            overrides: record.overrides.clone(),
            audit: Vec::new(),
        }
    }

    /// The same report with the audit lines about the execution.
    pub fn with_audit(mut self, audit: Vec<String>) -> Self {
        self.audit = audit;
        self
    }

    /// The same report with the calls the target counted.
    pub fn with_calls(mut self, calls: Vec<CallCount>) -> Self {
        self.calls = calls;
        self
    }

    /// Calls that went to `region` or to Route 53's control plane.
    pub fn calls_to(&self, region: &str) -> u32 {
        self.calls
            .iter()
            .filter(|c| {
                crate::cloud::CallSite::new(&c.service, &c.region, c.plane)
                    .depends_on(region)
                    .is_some()
            })
            .map(|c| c.count)
            .sum()
    }

    /// The report as text for a terminal.
    pub fn render_text(&self) -> String {
        let ms = |v: u64| duration::fmt(Duration::from_millis(v));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "execution {} of policy {} ({} → {}) on {}",
            self.execution_id, self.policy, self.from_region, self.to_region, self.target
        );
        let _ = writeln!(out, "result: {:?}: {}", self.status, self.summary);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<32} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}  {:<12} outcome",
            "step", "start", "end", "duration", "acting", "waiting", "attempts", "status"
        );
        for s in &self.steps {
            let t = |v: Option<u64>| v.map(ms).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<32} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}  {:<12} {}",
                s.id,
                t(s.started_ms),
                t(s.ended_ms),
                t(s.duration_ms()),
                t(s.acting_ms),
                t(s.waiting_ms),
                s.attempts,
                status_name(s.status),
                s.outcome.as_deref().unwrap_or("")
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "critical path: {}", self.critical_path.join(" → "));
        let verdict = if self.rto_met { "within" } else { "ABOVE" };
        let label = match self.time_basis {
            TimeBasis::Modeled => "modeled RTO:  ",
            TimeBasis::Wall => "RTO (wall):   ",
        };
        let _ = writeln!(
            out,
            "{label} {} ({verdict} the policy RTO of {})",
            ms(self.rto_ms),
            ms(self.policy_rto_ms)
        );
        let _ = writeln!(out, "RPO exposure:  {}", self.rpo.render());
        if let Some(b) = &self.rpo.basis {
            let _ = writeln!(out, "RPO basis:     {b}");
        }
        if let Some(line) = self.phases_line() {
            let _ = writeln!(out, "phases:        {line}");
        }
        for d in &self.decisions {
            let _ = writeln!(out, "decision:      {}: {}", d.step, d.what);
        }
        for o in &self.overrides {
            let _ = writeln!(out, "override:      {}", override_line(o));
        }
        for a in &self.audit {
            let _ = writeln!(out, "audit:         {a}");
        }
        if let Some(f) = &self.fence_old_primary {
            let _ = writeln!(out, "after:         {}", f.line());
        }
        for d in self.divergence.iter().flat_map(|d| d.lines()) {
            let _ = writeln!(out, "divergence:    {d}");
        }
        for (step, why) in &self.depends_on_primary {
            for w in why {
                let _ = writeln!(out, "needs {}: {step}: {w}", self.from_region);
            }
        }
        if !self.calls.is_empty() {
            let shown: Vec<String> = self
                .calls
                .iter()
                .map(|c| format!("{}.{} ({}) {}", c.service, c.region, c.plane, c.count))
                .collect();
            let _ = writeln!(
                out,
                "calls:         {}; {} to {} or Route 53's control plane",
                shown.join(", "),
                self.calls_to(&self.from_region),
                self.from_region
            );
        }
        out
    }
}

impl Report {
    /// The phases as one line (`fault → confirmed 8s → decided 2s → traffic
    /// on DR 5m 12s; fault → traffic on DR 5m 22s`); `None` when traffic
    /// has not reached the DR side.
    pub fn phases_line(&self) -> Option<String> {
        let ms = |v: u64| duration::fmt(Duration::from_millis(v));
        let p = &self.phases;
        let traffic = p.traffic_on_dr_ms?;
        let mut parts = Vec::new();
        if let Some(d) = p.detect_ms {
            parts.push(format!("fault → confirmed {}", ms(d)));
        }
        match p.decide_ms {
            Some(d) => parts.push(format!("confirmed → decided {}", ms(d))),
            None => parts.push("decided at the start (no detector verdict)".to_string()),
        }
        parts.push(format!("decided → traffic on DR {}", ms(traffic)));
        let mut line = parts.join("; ");
        if let Some(t) = p.total_ms {
            line.push_str(&format!("; fault → traffic on DR {}", ms(t)));
        }
        Some(line)
    }
}

/// An operator's acceptance as a sentence: who, when, how much and why.
pub fn override_line(o: &DataLossOverride) -> String {
    let unbounded = if o.unbounded.is_empty() {
        String::new()
    } else {
        let tiers: Vec<String> = o.unbounded.iter().map(|t| t.to_string()).collect();
        format!(" and an unbounded loss on {}", tiers.join(", "))
    };
    format!(
        "{} accepted {} of data loss{unbounded} at {}{}",
        o.by,
        duration::fmt(Duration::from_millis(o.accepted_ms)),
        o.at,
        o.reason
            .as_ref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    )
}

impl RpoReport {
    fn render(&self) -> String {
        let rpo = duration::fmt(Duration::from_millis(self.policy_rpo_ms));
        if self.tiers.is_empty() {
            return format!("not measured (the RPO gate did not run); policy RPO {rpo}");
        }
        let tiers: Vec<String> = self
            .tiers
            .iter()
            .map(|t| {
                let done = if t.already_failed_over {
                    ", already failed over"
                } else {
                    ""
                };
                let unbounded =
                    if t.exposure == crate::model::Exposure::Unknown && !t.already_failed_over {
                        " (unbounded)"
                    } else {
                        ""
                    };
                format!("{} {}{unbounded}{done}", t.tier, t.exposure)
            })
            .collect();
        let worst = match (self.worst_ms, self.unknown) {
            (_, true) => "worst unknown: the loss is unbounded".to_string(),
            (Some(w), false) => format!("worst {}", duration::fmt(Duration::from_millis(w))),
            (None, false) => "nothing pending".to_string(),
        };
        let verdict = match (self.met, self.accepted_ms) {
            (_, Some(a)) => format!(
                "above the policy RPO of {rpo}, accepted by the operator up to {}",
                duration::fmt(Duration::from_millis(a))
            ),
            (true, None) => format!("within the policy RPO of {rpo}"),
            (false, None) => format!("ABOVE the policy RPO of {rpo}"),
        };
        format!("{}; {worst} ({verdict})", tiers.join(", "))
    }
}

fn status_name(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Pending => "pending",
        StepStatus::Running => "running",
        StepStatus::Done => "done",
        StepStatus::AlreadyDone => "already-done",
        StepStatus::Failed => "FAILED",
        StepStatus::NotRun => "not-run",
    }
}

fn rpo_report(record: &ExecutionRecord, rpo: Duration) -> RpoReport {
    let gate = record.rpo.as_ref();
    let tiers = gate.map(|g| g.tiers.clone()).unwrap_or_default();
    let (worst, unknown) = gate.map(|g| g.worst()).unwrap_or((None, false));
    let accepted_ms = gate.and_then(|g| match g.verdict {
        RpoVerdict::Accepted { accepted_ms, .. } => Some(accepted_ms),
        _ => None,
    });
    let met = gate.is_some_and(|g| g.verdict == RpoVerdict::Pass);
    RpoReport {
        policy_rpo_ms: rpo.as_millis() as u64,
        tiers,
        worst_ms: worst.map(|w| w.as_millis() as u64),
        unknown,
        accepted_ms,
        met,
        basis: gate.map(|g| g.basis.clone()),
    }
}

mod critical;
pub use critical::critical_path;
mod history_html;
mod html;
pub use history_html::render_history_html;
pub use html::{escape, render_html};
mod plan;
pub use plan::render_plan;
