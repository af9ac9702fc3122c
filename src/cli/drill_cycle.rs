//! `drctl drill --cycle`: the way home on the simulated cloud. A failover,
//! the fence of the old primary once its region answers, then a reprotect
//! from the new primary; a report per phase, the orientation carried from
//! one phase to the next.

use std::sync::Arc;

use serde::Serialize;

use super::{exit_for, Exit, Output};
use crate::cloud::sim::SimCloud;
use crate::execute::{self, ExecutionRecord, MemoryJournal, RunOptions};
use crate::model::{Epoch, Fence, Orientation, Protection};
use crate::plan::reprotect::{self, Context};
use crate::policy::Policy;

/// One phase of the cycle, as reported.
#[derive(Debug, Serialize)]
struct Phase {
    /// `failover`, `reprotect`.
    phase: &'static str,
    /// How the policy was read during the phase.
    orientation: Orientation,
    /// How it is read after the phase.
    orientation_after: Orientation,
    /// The protection after the phase.
    protection_after: Protection,
    /// The phase's execution.
    execution: ExecutionRecord,
}

/// Runs the cycle on `sim` and prints a report per phase. The exit code is
/// the first phase's that did not complete (then the cycle stops there).
pub(super) fn run(sim: Arc<SimCloud>, policy: Arc<Policy>, seed: u64, output: Output) -> Exit {
    let phases = crate::bench::modeled_runtime().block_on(cycle(sim, policy, seed));
    match output {
        Output::Json => match serde_json::to_string_pretty(&phases) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot write the report: {e}");
                return Exit::Io;
            }
        },
        Output::Text => {
            for p in &phases {
                print_phase(p);
            }
        }
    }
    phases
        .iter()
        .map(|p| exit_for(p.execution.status))
        .find(|e| *e != Exit::Ok)
        .unwrap_or(Exit::Ok)
}

async fn cycle(sim: Arc<SimCloud>, policy: Arc<Policy>, seed: u64) -> Vec<Phase> {
    let mut phases = Vec::new();
    let mut journal = MemoryJournal::default();
    let options = |phase: &str| RunOptions {
        execution_id: Some(format!("drill-{}-{phase}-seed{seed}", policy.name)),
        operator: "drill".into(),
        ..RunOptions::default()
    };
    let failover = execute::execute(
        sim.clone(),
        policy.clone(),
        &mut journal,
        options("failover"),
    )
    .await;
    let Ok(mut failover) = failover else {
        return phases;
    };
    // The old primary's region answers again: the fence on return renames
    // it, which frees its name for the new replica.
    if let Some(mut state) = failover.fence_old_primary.clone() {
        let fence = Fence {
            execution_id: failover.id.clone(),
            epoch: Epoch::default(),
        };
        let now = execute::now_rfc3339();
        execute::fence_return::try_fence(sim.as_ref(), &policy, &fence, &mut state, now).await;
        failover.fence_old_primary = Some(state);
    }
    let done = failover.status == execute::ExecutionStatus::Completed;
    phases.push(Phase {
        phase: "failover",
        orientation: Orientation::AsWritten,
        orientation_after: Orientation::AsWritten,
        protection_after: Protection::Unprotected,
        execution: failover,
    });
    if !done {
        return phases;
    }
    let ctx = Context {
        orientation: Orientation::AsWritten,
        protection: Protection::Unprotected,
        reprotects: 0,
    };
    let observed = execute::observe_reprotect(sim.as_ref(), &policy).await;
    let plan = reprotect::build(&policy, &observed, &ctx);
    let record = execute::execute_plan(
        sim,
        policy.clone(),
        &mut journal,
        &plan,
        options("reprotect"),
    )
    .await;
    let Ok(record) = record else {
        return phases;
    };
    let (orientation_after, protection_after) =
        execute::switched_roles(&record).unwrap_or((ctx.orientation, ctx.protection));
    phases.push(Phase {
        phase: "reprotect",
        orientation: ctx.orientation,
        orientation_after,
        protection_after,
        execution: record,
    });
    phases
}

fn print_phase(p: &Phase) {
    let r = &p.execution;
    println!(
        "== {}: {} ({} → {}) ==",
        p.phase,
        r.status.label(),
        r.plan.from_region,
        r.plan.to_region
    );
    for s in &r.steps {
        println!(
            "  {:<32} {:<13} {}",
            s.id,
            s.status.label(),
            s.outcome.as_deref().unwrap_or("")
        );
    }
    if let Some(f) = &r.fence_old_primary {
        println!("  old primary fence: {}", f.line());
    }
    println!("  {}", r.summary.as_deref().unwrap_or(""));
    println!(
        "  orientation: {} → {}, protection after: {}",
        p.orientation, p.orientation_after, p.protection_after
    );
}
