//! The execution journal under consensus: every write goes through raft.
//!
//! Before a mutating step the leader confirms it still leads (a
//! linearizable read: a round of heartbeats acknowledged by a majority) and
//! records the step's intent; the state machine answers with the epoch the
//! step acts under, or refuses when this node no longer owns the execution.
//! Any refusal or failure to commit stops the executor at that boundary.

use std::time::Duration;

use super::Context;
use crate::consensus::{Command, Reply};
use crate::execute::{now_rfc3339 as now, ExecutionRecord, Journal, JournalError};
use crate::model::{Epoch, SwitchedRoles};

/// How long a leadership check or a log write may take before this node
/// treats itself as cut off and stops acting.
pub(super) const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct RaftJournal {
    pub ctx: Context,
}

/// Proposes `cmd` and waits for it to be applied.
pub(super) async fn propose(ctx: &Context, cmd: Command) -> Result<Reply, String> {
    match tokio::time::timeout(COMMIT_TIMEOUT, ctx.raft.client_write(cmd)).await {
        Ok(Ok(r)) => Ok(r.data),
        Ok(Err(e)) => Err(format!("not committed: {e}")),
        Err(_) => Err(format!(
            "not committed within {}s: this node cannot reach a majority",
            COMMIT_TIMEOUT.as_secs()
        )),
    }
}

/// Confirms this node still leads, with a majority's acknowledgement.
pub(super) async fn confirm_leader(ctx: &Context) -> Result<(), String> {
    match tokio::time::timeout(COMMIT_TIMEOUT, ctx.raft.ensure_linearizable()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("not the leader: {e}")),
        Err(_) => Err(format!(
            "leadership not confirmed within {}s: this node cannot reach a majority",
            COMMIT_TIMEOUT.as_secs()
        )),
    }
}

/// Proposes `cmd` for the journal: a refusal because this node does not
/// lead is [`JournalError::Fenced`]; a write not committed in time (or that
/// failed otherwise) is [`JournalError::Unavailable`].
async fn journal_propose(ctx: &Context, cmd: Command) -> Result<Reply, JournalError> {
    match tokio::time::timeout(COMMIT_TIMEOUT, ctx.raft.client_write(cmd)).await {
        Ok(Ok(r)) => Ok(r.data),
        Ok(Err(e)) if e.forward_to_leader().is_some() => {
            Err(JournalError::Fenced(format!("not the leader: {e}")))
        }
        Ok(Err(e)) => Err(JournalError::Unavailable(format!("not committed: {e}"))),
        Err(_) => Err(JournalError::Unavailable(format!(
            "not committed within {}s: this node cannot reach a majority",
            COMMIT_TIMEOUT.as_secs()
        ))),
    }
}

/// [`confirm_leader`] for the journal: another leader is
/// [`JournalError::Fenced`], no answer in time [`JournalError::Unavailable`].
async fn journal_confirm(ctx: &Context) -> Result<(), JournalError> {
    match tokio::time::timeout(COMMIT_TIMEOUT, ctx.raft.ensure_linearizable()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.forward_to_leader().is_some() => {
            Err(JournalError::Fenced(format!("not the leader: {e}")))
        }
        Ok(Err(e)) => Err(JournalError::Unavailable(format!(
            "leadership not confirmed: {e}"
        ))),
        Err(_) => Err(JournalError::Unavailable(format!(
            "leadership not confirmed within {}s: this node cannot reach a majority",
            COMMIT_TIMEOUT.as_secs()
        ))),
    }
}

impl Journal for RaftJournal {
    async fn last(&self, policy: &str) -> Result<Option<ExecutionRecord>, JournalError> {
        let a = self.ctx.applied.read().expect("state lock");
        Ok(a.state.latest(policy).map(|e| e.record.clone()))
    }

    async fn writer_restore(
        &self,
        policy: &str,
    ) -> Result<crate::execute::WriterRestore, JournalError> {
        let a = self.ctx.applied.read().expect("state lock");
        Ok(a.state
            .policies
            .get(policy)
            .map(|p| p.writer_restore.clone())
            .unwrap_or_default())
    }

    async fn save(&mut self, record: &ExecutionRecord) -> Result<(), JournalError> {
        let cmd = Command::save(record, now());
        match journal_propose(&self.ctx, cmd).await? {
            Reply::Ok => Ok(()),
            Reply::Fenced { reason } => Err(JournalError::Fenced(reason)),
            other => Err(JournalError::Fenced(format!(
                "journal write refused: {other:?}"
            ))),
        }
    }

    async fn begin_step(
        &mut self,
        record: &ExecutionRecord,
        step: &str,
    ) -> Result<Epoch, JournalError> {
        journal_confirm(&self.ctx).await?;
        let cmd = Command::Intent {
            execution_id: record.id.clone(),
            step: step.to_string(),
            at: now(),
        };
        match journal_propose(&self.ctx, cmd).await? {
            Reply::Epoch { epoch } => Ok(epoch),
            Reply::Fenced { reason } => Err(JournalError::Fenced(reason)),
            other => Err(JournalError::Fenced(format!(
                "step intent refused: {other:?}"
            ))),
        }
    }

    async fn switch_roles(
        &mut self,
        record: &ExecutionRecord,
        roles: &SwitchedRoles,
    ) -> Result<(), JournalError> {
        journal_confirm(&self.ctx).await?;
        let cmd = Command::SwitchRoles {
            execution_id: record.id.clone(),
            orientation: roles.orientation,
            active_region: roles.active_region.clone(),
            names: roles.names.clone(),
            at: now(),
        };
        match journal_propose(&self.ctx, cmd).await? {
            Reply::Ok => Ok(()),
            Reply::Fenced { reason } => Err(JournalError::Fenced(reason)),
            other => Err(JournalError::Fenced(format!(
                "role switch refused: {other:?}"
            ))),
        }
    }
}
