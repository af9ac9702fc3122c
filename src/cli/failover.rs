//! `drctl failover`: the plan against live AWS state, executed with --confirm.

use std::sync::Arc;

use super::{execute_and_report, Exit, FailoverArgs, Output};
use crate::cloud::aws::AwsCloud;
use crate::cloud::Cloud;
use crate::execute::{self, ExecutionStatus, FileJournal, Journal, RunOptions};
use crate::plan;
use crate::policy::Policy;
use crate::report::render_plan;

pub(super) fn run(args: FailoverArgs) -> Exit {
    if !args.controller.is_empty() {
        let c = crate::api::client::Controllers::new(&args.controller, args.timeout);
        return super::remote::failover(&args, &c);
    }
    // Validate everything before the first AWS call: a bad policy changes
    // nothing and costs no request.
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return e,
    };
    // Read as the journal's roles read it: after a reprotect, the failover
    // leaves the region it made active.
    let policy = match super::roles_local::working_policy(&args.journal_dir, &policy) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(super::WORKER_STACK)
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Io;
        }
    };
    rt.block_on(async {
        if let Some(url) = &args.sim {
            let cloud = Arc::new(crate::cloud::sim::remote::RemoteSim::new(url));
            let journal = match open_journal(&args) {
                Ok(j) => j,
                Err(e) => return e,
            };
            return run_with(cloud, policy, journal, &args).await;
        }
        let timeouts = (
            policy.execution.connect_timeout,
            policy.execution.call_timeout,
        );
        let cloud = match AwsCloud::from_env(timeouts).await {
            Ok(c) => Arc::new(c),
            Err(e) => {
                eprintln!("error: {}", e.message);
                return Exit::for_cloud_start(&e);
            }
        };
        let journal = match open_journal(&args) {
            Ok(j) => j,
            Err(e) => return e,
        };
        run_with(cloud, policy, journal, &args).await
    })
}

/// The local journal. A run that may act holds its lock until it ends:
/// two runs on one journal would each resume the other's execution.
fn open_journal(args: &FailoverArgs) -> Result<FileJournal, Exit> {
    if !args.confirm {
        return Ok(FileJournal::new(&args.journal_dir));
    }
    FileJournal::open_exclusive(&args.journal_dir).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Io
    })
}

/// The command against any cloud (tests use the simulated one).
pub(super) async fn run_with<C: Cloud + 'static>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    mut journal: impl Journal,
    args: &FailoverArgs,
) -> Exit {
    let accept = plan::Acceptance {
        data_loss: args.accept_data_loss,
        unknown: args.accept_unknown_loss.iter().copied().collect(),
    };
    if !args.confirm {
        return dry_run(cloud, &policy, &journal, args, accept).await;
    }
    // A failover that completed with its old primary not fenced yet: try
    // the fence again, and change nothing else.
    if let Ok(Some(last)) = journal.last(&policy.name).await {
        let open = last.fence_old_primary.as_ref().is_some_and(|f| f.is_open());
        if open && last.status == ExecutionStatus::Completed {
            eprintln!(
                "execution {} already failed over to {}; only its old primary is left to fence",
                last.id, policy.regions.secondary
            );
            let record = super::fence_on_return(cloud, &policy, &mut journal, last).await;
            let report = crate::report::Report::new(&record, &policy, "aws");
            match args.output {
                Output::Text => print!("{}", report.render_text()),
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("reports serialize")
                ),
            }
            return Exit::Ok;
        }
    }
    let options = RunOptions {
        accept,
        operator: args.operator.clone(),
        reason: args.reason.clone(),
        time_basis: execute::TimeBasis::Wall,
        ..RunOptions::default()
    };
    execute_and_report(
        cloud,
        policy,
        &mut journal,
        options,
        ("aws", &crate::history::HistoryStore::new(&args.history_dir)),
        args.output,
        Vec::new,
    )
    .await
}

async fn dry_run<C: Cloud + 'static>(
    cloud: Arc<C>,
    policy: &Policy,
    journal: &impl Journal,
    args: &FailoverArgs,
    accept: plan::Acceptance,
) -> Exit {
    let bound = execute::retry::Budget::read(policy.execution.call_timeout).bound();
    eprintln!(
        "observing the DR side in {} (every read ends within {}) ...",
        policy.regions.secondary,
        crate::duration::fmt(bound)
    );
    let notes = |note: String| eprintln!("  {note}");
    let observed = execute::observe(cloud.as_ref(), cloud.as_ref(), policy, &notes).await;
    let plan = plan::build(policy, &observed, accept);
    match args.output {
        Output::Text => {
            print!("{}", render_plan(&plan, policy));
            match journal.last(&policy.name).await {
                Ok(Some(r)) if r.status == ExecutionStatus::Running => println!(
                    "journal: execution {} was interrupted; --confirm resumes it",
                    r.id
                ),
                Ok(_) => {}
                Err(e) => eprintln!("warning: {e}"),
            }
            if plan.is_complete() {
                println!("\nalready failed over: every step's postcondition holds; --confirm would change nothing");
            } else {
                println!(
                    "\ndry run: nothing was changed. To execute: drctl failover --confirm --policy {}",
                    policy.source.display()
                );
            }
        }
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan).expect("plans serialize")
        ),
    }
    if !plan.preflight_problems.is_empty() {
        Exit::Preflight
    } else if !plan.rpo.allows() && !plan.is_complete() {
        Exit::Refused
    } else {
        Exit::Ok
    }
}
