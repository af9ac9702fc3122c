//! Fencing the old primary of a finished execution, through the log: the
//! intent gives the epoch the fence acts under; the result is kept on the
//! execution record and audited.

use super::{ClusterState, Reply};
use crate::execute::fence_return::{FenceOldPrimary, STEP};
use crate::execute::StepStatus;
use crate::model::Epoch;

impl ClusterState {
    pub(super) fn fence_old_primary(
        &mut self,
        execution_id: &str,
        state: FenceOldPrimary,
        term: u64,
        index: u64,
        at: String,
    ) -> Reply {
        let Some(e) = self.executions.get_mut(execution_id) else {
            return Reply::NotFound {
                execution_id: execution_id.to_string(),
            };
        };
        let Some(before) = e.record.fence_old_primary.as_ref() else {
            return Reply::Fenced {
                reason: format!("execution {execution_id} has no old primary to fence"),
            };
        };
        if !e.record.status.is_finished() {
            return Reply::Fenced {
                reason: format!("execution {execution_id} is still running"),
            };
        }
        if !before.is_open() {
            return Reply::Fenced {
                reason: format!("the old primary of execution {execution_id} is fenced already"),
            };
        }
        let what = match state.status {
            StepStatus::Running => None,
            StepStatus::Done | StepStatus::AlreadyDone => Some(format!(
                "execution {execution_id}: {STEP} {}: {}{}",
                state.status.label(),
                state.outcome.join("; "),
                divergence(&state)
            )),
            StepStatus::Failed => Some(format!(
                "execution {execution_id}: {STEP} failed, tried again: {}",
                state.outcome.join("; ")
            )),
            _ if before.waiting_for != state.waiting_for => Some(format!(
                "execution {execution_id}: {STEP} still pending: waiting for {}",
                state.waiting_for.as_deref().unwrap_or("its region")
            )),
            _ => None,
        };
        let policy = e.record.policy.clone();
        let restore = state.writer_restore.clone();
        e.record.fence_old_primary = Some(state);
        let p = self.policies.entry(policy).or_default();
        crate::execute::merge_writer_restore(&mut p.writer_restore, &restore);
        if let Some(what) = what {
            self.audit(index, term, &at, "leader", what);
        }
        Reply::Epoch {
            epoch: Epoch { term, index },
        }
    }
}

/// What the old primary accepted after the fork, for the audit line:
/// `; divergence: database: 48 KiB of WAL …` (empty when nothing was
/// measured).
fn divergence(state: &FenceOldPrimary) -> String {
    let lines: Vec<String> = state
        .divergence
        .iter()
        .map(ToString::to_string)
        .chain(state.divergence_errors.iter().cloned())
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("; divergence: {}", lines.join("; "))
    }
}
