//! Scenarios of a later phase of the way home: the cycle runs on a healthy
//! simulated cloud up to the scenario's phase, the scenario breaks the
//! cloud just before that phase, and the expectation is checked against
//! that phase's execution.
//!
//! `expect.mutations` counts the accepted mutating calls of that phase
//! alone: the phases before it mutate the world as every cycle does, and
//! counting them would hide what the broken phase did.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{Outcome, Scenario, ScenarioError};
use crate::cloud::sim::SimCloud;
use crate::execute::cycle::{run_cycle, CyclePhase, PhaseReport};
use crate::execute::{MemoryJournal, RunOptions};
use crate::model::Exposure;

/// Runs the cycle up to the scenario's phase and compares that phase with
/// the expectation.
pub(super) async fn run(
    scenario: &Scenario,
    sim: Arc<SimCloud>,
    options: &RunOptions,
) -> Result<Outcome, ScenarioError> {
    let target = scenario.phase.cycle_phase();
    let policy = scenario.load_policy()?;
    let lags = scenario.lags()?;
    let broke: Mutex<Option<Result<BTreeMap<String, u32>, String>>> = Mutex::new(None);
    let before = |phase: CyclePhase| {
        if phase == CyclePhase::Failover && !scenario.failover_faults.is_empty() {
            for f in &scenario.failover_faults {
                // Validated when the scenario was loaded.
                let _ = sim.inject(f.clone());
            }
        }
        if phase == target {
            sim.clear_faults();
            *broke.lock().unwrap() = Some(break_cloud(scenario, &sim, &lags));
        }
    };
    let run = |phase: CyclePhase| RunOptions {
        execution_id: Some(format!("chaos-{}-{}", scenario.name, phase.name())),
        ..options.clone()
    };
    let mut journal = MemoryJournal::default();
    let phases = run_cycle(sim.clone(), &policy, &mut journal, target, run, before)
        .await
        .map_err(|e| scenario.error(e.to_string()))?;
    let last = phases.last().expect("the cycle runs at least the failover");
    let base = match broke.into_inner().unwrap() {
        Some(result) => result.map_err(|e| scenario.error(e))?,
        None => {
            return Err(scenario.error(format!(
                "phase: the cycle stopped at {} ({}) before reaching {}",
                last.phase.name(),
                last.execution.summary.as_deref().unwrap_or(""),
                target.name()
            )))
        }
    };
    let mutations = during(&sim.mutations(), &base);
    let mut mismatches = super::compare(&scenario.expect, &last.execution, &mutations);
    mismatches.extend(compare_roles(scenario, last));
    mismatches.extend(writers(scenario, &sim).await);
    Ok(Outcome {
        name: scenario.name.clone(),
        mismatches,
        record: last.execution.clone(),
        mutations,
    })
}

/// Applies the scenario's faults, removals, outage and lag; returns the
/// accepted mutations so far, to count the phase's own from.
fn break_cloud(
    scenario: &Scenario,
    sim: &SimCloud,
    lags: &BTreeMap<crate::model::DataTier, Exposure>,
) -> Result<BTreeMap<String, u32>, String> {
    for (i, f) in scenario.faults.iter().enumerate() {
        sim.inject(f.clone())
            .map_err(|e| format!("faults[{i}].{e}"))?;
    }
    for r in &scenario.remove {
        sim.remove(r).map_err(|e| format!("remove: {e}"))?;
    }
    for (tier, e) in lags {
        sim.set_lag(*tier, *e);
    }
    sim.set_region_outage(scenario.outage.iter().cloned());
    sim.set_routing_endpoints_down(scenario.routing_endpoints_down.iter().cloned());
    for rule in &scenario.closed_gating_rules {
        sim.close_gating_rule(rule);
    }
    Ok(sim.mutations())
}

/// The accepted mutations since `base`.
fn during(now: &BTreeMap<String, u32>, base: &BTreeMap<String, u32>) -> BTreeMap<String, u32> {
    now.iter()
        .map(|(op, n)| (op.clone(), n - base.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn compare_roles(scenario: &Scenario, phase: &PhaseReport) -> Vec<String> {
    let expect = &scenario.expect;
    let roles = &phase.roles_after;
    let mut out = Vec::new();
    if let Some(want) = expect.orientation_after {
        if roles.orientation != want {
            out.push(format!(
                "expected the policy read {want} after the {}, it is read {}",
                phase.phase.name(),
                roles.orientation
            ));
        }
    }
    if let Some(want) = expect.protection_after {
        if !want.matches(roles.protection) {
            out.push(format!(
                "expected protection {} after the {}, it is {}",
                want.name(),
                phase.phase.name(),
                roles.protection
            ));
        }
    }
    out
}

async fn writers(scenario: &Scenario, sim: &SimCloud) -> Vec<String> {
    let mut out = Vec::new();
    for (key, want) in &scenario.expect.writers_quiesced {
        let (region, tier) = key.split_once('/').unwrap_or((key, ""));
        match sim.writers_fenced(region, tier).await {
            Ok(got) if got == *want => {}
            Ok(got) => out.push(format!(
                "expected the writers of {key} {}, they are {}",
                quiesced(*want),
                quiesced(got)
            )),
            Err(e) => out.push(format!("cannot read the writers of {key}: {e}")),
        }
    }
    out
}

fn quiesced(q: bool) -> &'static str {
    if q {
        "quiesced"
    } else {
        "writing"
    }
}
