//! Chaos scenarios: faults switched on in the simulated cloud, and the
//! outcome the failover must reach despite them (or because of them).
//!
//! A scenario file (`chaos/*.yaml`) names a policy, a seed, faults, replication
//! lags, resources to remove and the expected outcome. [`run`] builds the
//! simulated world, runs the failover on a paused clock and compares what
//! happened with what was expected. `drctl chaos run` and the test suite
//! both run every scenario through this module.
//!
//! A scenario's `phase` picks the phase of the way home it breaks: the
//! failover (the default), or the reprotect, failback or failover again,
//! which run through the cycle of `drill --cycle` (see [`cycle`]).

mod cycle;
mod scenario;

pub use scenario::{
    Expect, ExpectedOutcome, ExpectedProtection, Scenario, ScenarioError, ScenarioPhase,
};

use std::sync::Arc;

use crate::cloud::sim::{SimCloud, SimOptions};
use crate::duration;
use crate::execute::{
    self, ExecutionRecord, ExecutionStatus, MemoryJournal, RunOptions, StepStatus,
};

/// The result of one scenario.
#[derive(Debug)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// Every way the run differed from the expectation (empty: it passed).
    pub mismatches: Vec<String>,
    /// The execution, for reporting.
    pub record: ExecutionRecord,
    /// Accepted mutating calls per operation.
    pub mutations: std::collections::BTreeMap<String, u32>,
}

impl Outcome {
    /// Whether the run met every expectation.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let rto = self
            .record
            .steps
            .iter()
            .filter_map(|s| s.ended_ms)
            .max()
            .unwrap_or(0);
        let took = duration::fmt(std::time::Duration::from_millis(rto));
        let head = format!(
            "{} {}: {:?} after {took}",
            if self.passed() { "PASS" } else { "FAIL" },
            self.name,
            self.record.status
        );
        if self.passed() {
            format!("{head}: {}", self.record.summary.as_deref().unwrap_or(""))
        } else {
            format!("{head}: {}", self.mismatches.join("; "))
        }
    }
}

/// Runs one scenario on the simulated cloud. Call it on a runtime whose
/// clock is paused, so minutes of modeled cloud time pass instantly.
///
/// # Errors
///
/// A scenario whose policy or faults do not validate.
pub async fn run(scenario: &Scenario) -> Result<Outcome, ScenarioError> {
    let policy = Arc::new(scenario.load_policy()?);
    let run = RunOptions {
        execution_id: Some(format!("chaos-{}", scenario.name)),
        accept: crate::plan::Acceptance {
            data_loss: scenario.accept_data_loss()?,
            unknown: scenario.accept_unknown_loss()?,
        },
        operator: "chaos".into(),
        reason: None,
        ..RunOptions::default()
    };
    if scenario.phase != ScenarioPhase::Failover {
        // The phases before run on a healthy cloud; the scenario breaks it
        // just before its own phase.
        let options = SimOptions {
            seed: scenario.seed,
            latency: scenario.latency.clone().unwrap_or_default(),
            ..SimOptions::default()
        };
        let sim = SimCloud::new(&policy, options).map_err(|e| scenario.error(e))?;
        return cycle::run(scenario, Arc::new(sim), &run).await;
    }
    let options = SimOptions {
        seed: scenario.seed,
        latency: scenario.latency.clone().unwrap_or_default(),
        faults: scenario.faults.clone(),
        lag: scenario.lags()?,
    };
    let sim = SimCloud::new(&policy, options).map_err(|e| scenario.error(e))?;
    for r in &scenario.remove {
        sim.remove(r)
            .map_err(|e| scenario.error(format!("remove: {e}")))?;
    }
    sim.set_region_outage(scenario.outage.iter().cloned());
    sim.set_routing_endpoints_down(scenario.routing_endpoints_down.iter().cloned());
    for rule in &scenario.closed_gating_rules {
        sim.close_gating_rule(rule);
    }
    let sim = Arc::new(sim);
    let mut journal = MemoryJournal::default();
    let mut record = execute::execute(sim.clone(), policy.clone(), &mut journal, run)
        .await
        .map_err(|e| scenario.error(e.to_string()))?;
    // The failover's calls, before the fence of the old primary is tried.
    let report =
        crate::report::Report::new(&record, &policy, "chaos").with_calls(sim.call_counts());
    let mut mismatches = Vec::new();
    if let Some(returns) = scenario.region_returns {
        if returns {
            sim.set_region_outage(Vec::<String>::new());
        }
        mismatches.extend(fence_on_return(&sim, &policy, &scenario.expect, &mut record).await);
    }
    let mutations = sim.mutations();
    mismatches.extend(compare(&scenario.expect, &record, &mutations));
    if let Some(n) = scenario.expect.calls_to_primary {
        let got = report.calls_to(&policy.regions.primary);
        if got != n {
            mismatches.push(format!(
                "expected {n} call(s) to {} or Route 53's control plane, got {got}",
                policy.regions.primary
            ));
        }
    }
    Ok(Outcome {
        name: scenario.name.clone(),
        mismatches,
        record,
        mutations,
    })
}

/// Tries the fence of the old primary once and compares it with what the
/// scenario expects.
async fn fence_on_return(
    sim: &SimCloud,
    policy: &crate::policy::Policy,
    expect: &Expect,
    record: &mut ExecutionRecord,
) -> Vec<String> {
    let Some(mut state) = record.fence_old_primary.clone() else {
        return vec!["expected a fence of the old primary, the execution planned none".into()];
    };
    let fence = crate::model::Fence {
        execution_id: record.id.clone(),
        epoch: crate::model::Epoch::default(),
    };
    execute::fence_return::try_fence(sim, policy, &fence, &mut state, "chaos".into()).await;
    let mut out = Vec::new();
    if let Some(want) = expect.fence_old_primary {
        if state.status != want {
            out.push(format!(
                "expected fence-old-primary {}, got {}: {}",
                want.label(),
                state.status.label(),
                state.line()
            ));
        }
    }
    for text in &expect.fence_contains {
        let all = state.outcome.join("; ") + state.waiting_for.as_deref().unwrap_or("");
        if !all.contains(text.as_str()) {
            out.push(format!(
                "expected the fence to mention {text:?}, it says {}",
                state.line()
            ));
        }
    }
    record.fence_old_primary = Some(state);
    out
}

fn compare(
    expect: &Expect,
    record: &ExecutionRecord,
    mutations: &std::collections::BTreeMap<String, u32>,
) -> Vec<String> {
    let mut out = Vec::new();
    let want = match expect.outcome {
        ExpectedOutcome::Completed => ExecutionStatus::Completed,
        ExpectedOutcome::Failed => ExecutionStatus::Failed,
        ExpectedOutcome::Refused => ExecutionStatus::Refused,
        ExpectedOutcome::PreflightFailed => ExecutionStatus::PreflightFailed,
    };
    if record.status != want {
        out.push(format!(
            "expected {:?}, got {:?} ({})",
            want,
            record.status,
            record.summary.as_deref().unwrap_or("")
        ));
    }
    let status = |id: &str| record.step(id).map(|s| s.status);
    if let Some(id) = &expect.failed_step {
        if status(id) != Some(StepStatus::Failed) {
            out.push(format!(
                "expected step {id} to fail, it is {:?}",
                status(id)
            ));
        }
    }
    for id in &expect.not_run {
        if status(id) != Some(StepStatus::NotRun) {
            out.push(format!(
                "expected step {id} not to run, it is {:?}",
                status(id)
            ));
        }
    }
    for id in &expect.done {
        if !status(id).is_some_and(StepStatus::succeeded) {
            out.push(format!(
                "expected step {id} to succeed, it is {:?}",
                status(id)
            ));
        }
    }
    for (id, n) in &expect.attempts {
        let got = record.step(id).map(|s| s.attempts);
        if got != Some(*n) {
            out.push(format!(
                "expected step {id} to take {n} attempt(s), it took {got:?}"
            ));
        }
    }
    for (op, n) in &expect.mutations {
        let got = mutations.get(op).copied().unwrap_or(0);
        if got != *n {
            out.push(format!("expected {n} accepted {op} call(s), got {got}"));
        }
    }
    if let Some(text) = &expect.decision_contains {
        if !record
            .decisions
            .iter()
            .any(|d| d.what.contains(text.as_str()))
        {
            out.push(format!(
                "expected a decision mentioning {text:?}, got {:?}",
                record.decisions
            ));
        }
    }
    for (id, text) in &expect.outcome_contains {
        let outcome = record
            .step(id)
            .and_then(|s| s.outcome.as_deref())
            .unwrap_or("");
        if !outcome.contains(text.as_str()) {
            out.push(format!(
                "expected step {id}'s outcome to mention {text:?}, it says {outcome:?}"
            ));
        }
    }
    if let Some(text) = &expect.summary_contains {
        let summary = record.summary.as_deref().unwrap_or("");
        if !summary.contains(text.as_str()) {
            out.push(format!(
                "expected the summary to mention {text:?}, it says {summary:?}"
            ));
        }
    }
    out
}
