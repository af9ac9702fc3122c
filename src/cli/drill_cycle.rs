//! `drctl drill --cycle`: the way home on the simulated cloud. A failover
//! (the old primary fenced once its region answers), a reprotect from the
//! new primary, the failback home with the reprotect the other way, and a
//! failover again; a report per phase, the roles carried from one phase to
//! the next (see [`crate::execute::cycle`]).

use std::sync::Arc;

use super::{exit_for, Exit, Output};
use crate::cloud::sim::SimCloud;
use crate::execute::cycle::{run_cycle, CyclePhase, PhaseReport};
use crate::execute::{MemoryJournal, RunOptions};
use crate::policy::Policy;

/// Runs the cycle on `sim` and prints a report per phase. The exit code is
/// the first phase's that did not complete (then the cycle stops there).
pub(super) fn run(sim: Arc<SimCloud>, policy: Arc<Policy>, seed: u64, output: Output) -> Exit {
    let mut journal = MemoryJournal::default();
    let options = |phase: CyclePhase| RunOptions {
        execution_id: Some(format!("drill-{}-{}-seed{seed}", policy.name, phase.name())),
        operator: "drill".into(),
        ..RunOptions::default()
    };
    let run = run_cycle(
        sim,
        &policy,
        &mut journal,
        CyclePhase::FailoverAgain,
        options,
        |_| {},
    );
    let phases = match crate::bench::modeled_runtime().block_on(run) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the drill's journal: {e}");
            return Exit::Io;
        }
    };
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

fn print_phase(p: &PhaseReport) {
    let r = &p.execution;
    println!(
        "== {}: {} ({} → {}) ==",
        p.phase.name(),
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
        p.roles_before.orientation, p.roles_after.orientation, p.roles_after.protection
    );
}
