//! `drctl reprotect` and `drctl failback` without `--controller`: run here,
//! as `drctl failover` without one does, against the configured cloud (AWS
//! through the SDK's standard environment, or `--sim URL`) with the local
//! journal.
//!
//! The policy's roles are read from that journal, as the controller
//! cluster reads them from its replicated state: a finished failover leaves
//! the platform unprotected, and the last reprotect or failback whose
//! `switch-roles` step is done says which way the policy file is read and
//! what is protected. A dry run prints the plan against live state; with
//! `--confirm` the plan runs, journaled (an interrupted run resumes).

use std::path::Path;
use std::sync::Arc;

use super::roles_cmd::RoleArgs;
use super::{exit_for, Exit, Output};
use crate::cloud::aws::AwsCloud;
use crate::cloud::sim::remote::RemoteSim;
use crate::cloud::Cloud;
use crate::consensus::state::roles as roles_state;
use crate::consensus::state::PolicyState;
use crate::execute::{self, ExecutionRecord, ExecutionStatus, FileJournal, RunOptions};
use crate::model::ExecutionKind;
use crate::plan::{self, Plan};
use crate::policy::Policy;

/// What a failback adds to the common arguments.
#[derive(Debug, Default)]
pub(super) struct FailbackInputs {
    /// `--accept-data-loss`.
    pub accept_data_loss: Option<std::time::Duration>,
    /// `--divergence-reviewed`.
    pub divergence_reviewed: Option<String>,
}

/// The policy's roles as the journal in `dir` leaves them, and its records
/// (oldest first).
fn journal_roles(dir: &Path, policy: &str) -> Result<(PolicyState, Vec<ExecutionRecord>), Exit> {
    let records = match super::recorded::journal_records(dir) {
        Ok(all) => all.unwrap_or_default(),
        Err(super::recorded::Failure(exit, why)) => {
            eprintln!("error: {why}");
            return Err(exit);
        }
    };
    let mine: Vec<ExecutionRecord> = records.into_iter().filter(|r| r.policy == policy).collect();
    Ok((roles_state::from_journal(&mine), mine))
}

/// `written` read as the journal in `dir` leaves its roles (as written
/// when nothing switched them).
pub(super) fn working_policy(dir: &Path, written: &Policy) -> Result<Arc<Policy>, Exit> {
    let (state, _) = journal_roles(dir, &written.name)?;
    Ok(Arc::new(crate::controller::orient(
        written,
        state.orientation,
        &state.names,
    )))
}

/// One line for people: where the platform runs, its protection and how
/// the policy is read.
pub fn roles_line(state: &PolicyState, working: &Policy) -> String {
    let active = state
        .active_region
        .as_deref()
        .unwrap_or(&working.regions.primary);
    let replicas = match state.protection {
        crate::model::Protection::Protected => {
            format!(", replicas in {}", working.regions.secondary)
        }
        _ => String::new(),
    };
    format!(
        "roles: {active} active, {}{replicas}; policy read {}",
        state.protection, state.orientation
    )
}

/// Runs `kind` here (see the module documentation).
pub(super) fn run(c: &RoleArgs, kind: ExecutionKind, extra: FailbackInputs) -> Exit {
    let written = match c.policy.load() {
        Ok(p) => p,
        Err(e) => return e,
    };
    if let Some(name) = c.policy_name.as_deref().filter(|n| *n != written.name) {
        eprintln!(
            "error: --policy-name {name} is not the policy in {} ({}); without --controller the policy is --policy's",
            c.policy.policy.display(),
            written.name
        );
        return Exit::BadInput;
    }
    let rt = match super::live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        // A run that may act holds the journal's lock until it ends.
        let journal = if c.confirm {
            match FileJournal::open_exclusive(&c.journal_dir) {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Io;
                }
            }
        } else {
            FileJournal::new(&c.journal_dir)
        };
        if let Some(url) = &c.sim {
            let cloud = Arc::new(RemoteSim::new(url));
            return run_with(cloud, &written, journal, c, kind, extra).await;
        }
        let timeouts = (
            written.execution.connect_timeout,
            written.execution.call_timeout,
        );
        match AwsCloud::from_env(timeouts).await {
            Ok(cloud) => run_with(Arc::new(cloud), &written, journal, c, kind, extra).await,
            Err(e) => {
                eprintln!("error: {}", e.message);
                Exit::for_cloud_start(&e)
            }
        }
    })
}

async fn run_with<C: Cloud + 'static>(
    cloud: Arc<C>,
    written: &Policy,
    mut journal: FileJournal,
    c: &RoleArgs,
    kind: ExecutionKind,
    extra: FailbackInputs,
) -> Exit {
    let (state, records) = match journal_roles(&c.journal_dir, &written.name) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let working = Arc::new(crate::controller::orient(
        written,
        state.orientation,
        &state.names,
    ));
    eprintln!("{}", roles_line(&state, &working));
    // An interrupted run of the same kind is resumed, whatever the roles
    // say of it while it is under way.
    let resuming = records
        .last()
        .filter(|r| r.status == ExecutionStatus::Running && r.plan.kind == kind);
    if resuming.is_none() {
        if let Some(why) = roles_state::refusal(kind, Some(&state), &working.regions.primary) {
            eprintln!("error: nothing changed: {why}");
            return Exit::Preflight;
        }
    }
    let divergence = match kind {
        ExecutionKind::Failback => roles_state::divergence(records.iter()),
        _ => None,
    };
    let accept = plan::Acceptance {
        data_loss: extra.accept_data_loss,
        unknown: Default::default(),
    };
    let id = execute::new_execution_id(&working.name);
    let ctx = plan::failback::Context {
        orientation: state.orientation,
        protection: state.protection,
        reprotects: state.names.reprotects,
        execution_id: id.clone(),
        divergence: divergence.as_ref().map(|d| d.execution_id.clone()),
        divergence_reviewed: extra.divergence_reviewed.clone(),
        accept,
    };
    let failback = kind == ExecutionKind::Failback;
    let cloud_ref = cloud.as_ref();
    let plan = execute::plan_way_home(cloud_ref, cloud_ref, &working, failback, &ctx).await;
    let what = kind_name(kind);
    if !c.confirm {
        print_dry_run(&plan, &working, c, what, divergence.as_ref(), resuming);
        return plan_exit(&plan);
    }
    if let (Some(d), None) = (&divergence, &resuming) {
        if extra.divergence_reviewed.as_deref() != Some(d.execution_id.as_str()) {
            eprintln!(
                "error: nothing changed: the divergence report of failover {} is not empty; review it (the dry run prints it), then pass --divergence-reviewed {}",
                d.execution_id, d.execution_id
            );
            return Exit::Refused;
        }
    }
    let options = RunOptions {
        execution_id: Some(id),
        accept: plan::Acceptance {
            data_loss: extra.accept_data_loss,
            unknown: Default::default(),
        },
        operator: c.operator.clone(),
        reason: c.reason.clone(),
        time_basis: execute::TimeBasis::Wall,
        ..RunOptions::default()
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let shown = super::progress::spawn(rx);
    let options = RunOptions {
        events: Some(tx),
        ..options
    };
    let record = execute::execute_plan(cloud, working.clone(), &mut journal, &plan, options).await;
    let _ = shown.await;
    let record = match record {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Io;
        }
    };
    let target = if c.sim.is_some() { "sim" } else { "aws" };
    let history = crate::history::HistoryStore::new(&c.history_dir);
    super::report_run::record_history(&history, &record, &working, target);
    let roles = match journal_roles(&c.journal_dir, &written.name) {
        Ok((after, _)) => {
            let now = crate::controller::orient(written, after.orientation, &after.names);
            roles_line(&after, &now)
        }
        Err(e) => return e,
    };
    match c.output {
        Output::Text => {
            print_record(&record);
            println!("{roles}");
        }
        Output::Json => {
            let report = crate::report::Report::new(&record, &working, target);
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("reports serialize")
            );
            eprintln!("{roles}");
        }
    }
    exit_for(record.status)
}

/// A dry run's plan: for people, with the divergence report and an
/// interrupted run's note; as JSON, the plan alone on standard output and
/// the notes on standard error.
fn print_dry_run(
    plan: &Plan,
    working: &Policy,
    c: &RoleArgs,
    what: &str,
    divergence: Option<&roles_state::DivergenceShown>,
    resuming: Option<&ExecutionRecord>,
) {
    let mut notes = Vec::new();
    if let Some(d) = divergence {
        notes.push(format!(
            "divergence report of failover {} (review it, then pass --divergence-reviewed {}):",
            d.execution_id, d.execution_id
        ));
        notes.extend(d.lines.iter().map(|line| format!("  {line}")));
    }
    if let Some(r) = resuming {
        notes.push(format!(
            "journal: execution {} was interrupted; --confirm resumes it",
            r.id
        ));
    }
    match c.output {
        Output::Text => {
            print!("{}", crate::report::render_plan(plan, working));
            for note in notes {
                println!("{note}");
            }
            println!(
                "\ndry run: nothing was changed. To execute: drctl {what} --confirm --policy {}",
                c.policy.policy.display()
            );
        }
        Output::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(plan).expect("plans serialize")
            );
            for note in notes {
                eprintln!("{note}");
            }
        }
    }
}

/// The command's name for `kind`.
fn kind_name(kind: ExecutionKind) -> &'static str {
    match kind {
        ExecutionKind::Failback => "failback",
        ExecutionKind::Reprotect => "reprotect",
        ExecutionKind::Failover => "failover",
    }
}

/// A dry run's exit code: 4 when preflight found problems, 3 when the
/// gate refuses, else 0.
fn plan_exit(plan: &Plan) -> Exit {
    if !plan.preflight_problems.is_empty() {
        Exit::Preflight
    } else if !plan.rpo.allows() && !plan.is_complete() {
        Exit::Refused
    } else {
        Exit::Ok
    }
}

/// An ended execution for people: each step, then how it ended.
fn print_record(r: &ExecutionRecord) {
    println!(
        "{} {} ({} → {}): {}",
        kind_name(r.plan.kind),
        r.id,
        r.plan.from_region,
        r.plan.to_region,
        r.status.label()
    );
    for s in &r.steps {
        let outcome = s.outcome.as_deref().unwrap_or("");
        println!("  {:<32} {:<13} {outcome}", s.id, s.status.label());
    }
    println!("  {}", r.summary.as_deref().unwrap_or(""));
}
