//! `drctl drill`: a full failover on the simulated cloud.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{execute_and_report, modeled_runtime, DrillArgs, Exit};
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::execute::{MemoryJournal, RunOptions};

pub(super) fn run(args: DrillArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => Arc::new(p),
        Err(e) => return e,
    };
    let options = SimOptions {
        seed: args.seed,
        lag: args.lag.iter().copied().collect::<BTreeMap<_, _>>(),
        ..SimOptions::default()
    };
    let sim = match SimCloud::new(&policy, options) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    let target = format!("the simulated cloud (seed {})", args.seed);
    eprintln!(
        "drill: policy {} ({} → {}) on {target}; durations are modeled",
        policy.name, policy.regions.primary, policy.regions.secondary
    );
    let options = RunOptions {
        execution_id: Some(format!("drill-{}-seed{}", policy.name, args.seed)),
        accept_data_loss: args.accept_data_loss,
        operator: "drill".into(),
        reason: None,
        sequential: args.sequential,
        events: None,
    };
    let mut journal = MemoryJournal::default();
    let run = execute_and_report(sim, policy, &mut journal, options, &target, args.output);
    modeled_runtime().block_on(run)
}
