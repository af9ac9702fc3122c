//! `drctl drill`: a full failover on the simulated cloud.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{modeled_runtime, progress, DrillArgs, Exit, Output};
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::execute::{self, MemoryJournal, RunOptions};
use crate::report::Report;

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
    let rt = modeled_runtime();
    let record = rt.block_on(async {
        let (tx, rx) = mpsc::unbounded_channel();
        let shown = progress::spawn(rx);
        let options = RunOptions {
            execution_id: Some(format!("drill-{}-seed{}", policy.name, args.seed)),
            accept_data_loss: args.accept_data_loss,
            operator: "drill".into(),
            sequential: args.sequential,
            events: Some(tx),
        };
        let mut journal = MemoryJournal::default();
        let r = execute::execute(sim, policy.clone(), &mut journal, options).await;
        let _ = shown.await;
        r
    });
    let record = match record {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Io;
        }
    };
    let report = Report::new(&record, &policy, &target);
    match args.output {
        Output::Text => print!("{}", report.render_text()),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
    }
    super::failover::exit_for(record.status)
}
