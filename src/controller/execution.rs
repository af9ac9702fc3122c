//! One execution on its owner: claimed first when taken over from an
//! earlier leader, run until it ends or this node is fenced, with its step
//! durations fed into the metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::info;

use super::journal::{propose, RaftJournal};
use super::runner::RunEnd;
use super::Context;
use crate::cloud::{Cloud, ExposureSource};
use crate::consensus::{Command, Execution, Reply};
use crate::execute::{
    self, now_rfc3339 as now, prepare_restart, prepare_resume, Event, ExecutionStatus, RunOptions,
    StepStatus, TimeBasis,
};
use crate::notify::EventKind;

/// How a leader comes to run an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Start {
    /// It just recorded the execution's start.
    New,
    /// It takes over an execution an earlier leader left running, with why
    /// it runs it from the region being left, if it does.
    TakeOver(Option<String>),
    /// It owns the execution in this term already and runs it again
    /// because its run here stopped: no claim, no new owner.
    Restart,
}

/// Runs one execution as its owner until it ends or this node is fenced;
/// first claims it when it takes it over. Says how it ended, for the
/// runner to decide whether and when to run it again.
pub(super) async fn run_execution<C: Cloud + 'static>(
    ctx: Context,
    cloud: Arc<C>,
    (exposures, time_basis): (Arc<dyn ExposureSource>, TimeBasis),
    e: Execution,
    start: Start,
) -> RunEnd {
    let clock = Instant::now();
    let Some(policy) = ctx.execution_policy(&e) else {
        return RunEnd::Declined(format!(
            "execution of policy {} that this node does not have",
            e.record.policy
        ));
    };
    let mut record = e.record;
    let id = record.id.clone();
    if start == Start::Restart {
        prepare_restart(&mut record);
    }
    if let Start::TakeOver(placement) = start {
        let cmd = Command::Claim {
            execution_id: id.clone(),
            node: ctx.id,
            at: now(),
            placement,
        };
        match propose(&ctx, cmd).await {
            Ok(Reply::Ok) => {}
            Ok(other) => return RunEnd::Fenced(format!("claim refused: {other:?}")),
            Err(error) => return RunEnd::Unavailable(format!("claim not committed: {error}")),
        }
        prepare_resume(&mut record);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let kinds: HashMap<String, String> = record
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.kind.to_string()))
        .collect();
    let watcher = crate::clock::spawn(observe_steps(
        ctx.clone(),
        (record.policy.clone(), id.clone()),
        kinds,
        rx,
    ));
    let options = RunOptions {
        execution_id: Some(id.clone()),
        accept: crate::plan::Acceptance {
            data_loss: e.accept_data_loss_ms.map(Duration::from_millis),
            unknown: e.accept_unknown.iter().copied().collect(),
        },
        exposures: Some(exposures),
        time_basis,
        operator: e.requested_by,
        reason: e.reason,
        sequential: false,
        events: Some(tx),
        primary_controller: ctx.primary_controller(&policy),
        phases: record.phases,
    };
    let mut journal = RaftJournal { ctx: ctx.clone() };
    let result =
        execute::run_record(cloud, policy, &mut journal, &mut record, &options, clock).await;
    drop(options);
    let _ = watcher.await;
    match result {
        Ok(()) => {
            info!(execution_id = %id, status = ?record.status, summary = record.summary.as_deref().unwrap_or(""), "execution ended");
            if record.status == ExecutionStatus::Completed {
                let sentence = format!(
                    "{} of {} to {} completed: {}",
                    record.plan.kind,
                    record.policy,
                    record.plan.to_region,
                    record.summary.as_deref().unwrap_or("every step done")
                );
                ctx.notify_execution(
                    EventKind::FailoverCompleted,
                    &record.policy,
                    &id,
                    None,
                    sentence,
                );
            }
            RunEnd::Ended
        }
        Err(error) => RunEnd::from(error),
    }
}

/// Step durations into the metrics, as steps end; a failed step notified.
async fn observe_steps(
    ctx: Context,
    (policy, execution_id): (String, String),
    kinds: HashMap<String, String>,
    mut rx: mpsc::UnboundedReceiver<Event>,
) {
    let mut started = HashMap::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::StepStarted { id, at_ms } => {
                started.insert(id, at_ms);
            }
            Event::StepFinished {
                id,
                status,
                at_ms,
                outcome,
            } => {
                if let (Some(kind), Some(t0)) = (kinds.get(&id), started.get(&id)) {
                    let secs = at_ms.saturating_sub(*t0) as f64 / 1000.0;
                    ctx.metrics.step(kind, status.label(), secs);
                }
                if status == StepStatus::Failed {
                    let sentence =
                        format!("step {id} of the failover of {policy} failed: {outcome}");
                    let kind = EventKind::FailoverStepFailed;
                    ctx.notify_execution(kind, &policy, &execution_id, Some(&id), sentence);
                }
            }
            _ => {}
        }
    }
}
