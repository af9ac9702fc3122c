//! The policy's roles in the replicated state: which way the policy file is
//! read ([`Orientation`]), whether the active region is protected
//! ([`Protection`]) and the names a reprotect gave the resources it made.
//!
//! A finished failover leaves the platform unprotected. A reprotect shows
//! its progress while it runs and, in its last step, switches the roles
//! ([`Command::SwitchRoles`](super::Command::SwitchRoles)): only the
//! execution's owner may, as for a journal write. Every node then reads the
//! policy the other way round, so the detector, the probes and automatic
//! failover protect the region that is active now.

use serde::{Deserialize, Serialize};

use super::{fenced, ClusterState, PolicyState, Reply};
use crate::execute::{ExecutionRecord, ExecutionStatus, StepStatus};
use crate::model::ExecutionKind;
pub use crate::model::RecordedNames;
use crate::model::{Orientation, Protection};

/// Steps that rebuild a tier's replica in the standby region: a reprotect's
/// progress counts them.
pub const REPLICA_STEPS: [&str; 3] = [
    "create-replica-database",
    "add-cache-secondary",
    "create-reverse-replicator",
];

/// The step that switches the roles; after it the platform is protected.
pub const SWITCH_ROLES_STEP: &str = "switch-roles";

/// The step of a failback after which the standby region serves writes.
pub const PROMOTE_STEP: &str = "promote-database";

fn done(record: &ExecutionRecord, prefix: &str) -> bool {
    record
        .steps
        .iter()
        .filter(|s| s.id.starts_with(prefix))
        .any(|s| matches!(s.status, StepStatus::Done | StepStatus::AlreadyDone))
}

/// `done of of` replica steps of `record`, as a [`Protection::Reprotecting`].
pub fn reprotecting(record: &ExecutionRecord) -> Protection {
    let steps = record
        .steps
        .iter()
        .filter(|s| REPLICA_STEPS.iter().any(|k| s.id.starts_with(k)));
    let (mut done, mut of) = (0, 0);
    for s in steps {
        of += 1;
        if matches!(s.status, StepStatus::Done | StepStatus::AlreadyDone) {
            done += 1;
        }
    }
    Protection::Reprotecting { done, of }
}

/// Updates a policy's roles after its execution's journal `record` was
/// saved (see [`ClusterState::apply`]).
pub(super) fn after_save(p: &mut PolicyState, record: &ExecutionRecord) {
    let switched = done(record, SWITCH_ROLES_STEP);
    match (record.plan.kind, record.status) {
        (
            ExecutionKind::Failover,
            ExecutionStatus::Completed | ExecutionStatus::AlreadyComplete,
        ) => {
            p.active_region = Some(record.plan.to_region.clone());
            p.protection = Protection::Unprotected;
        }
        (ExecutionKind::Failover, _) => {}
        (ExecutionKind::Reprotect, ExecutionStatus::Running) => {
            if !switched {
                p.protection = reprotecting(record);
            }
        }
        (ExecutionKind::Reprotect, _) => {
            if !switched && p.protection != Protection::Protected {
                p.protection = Protection::Unprotected;
            }
        }
        (ExecutionKind::Failback, status) => {
            let promoted = done(record, PROMOTE_STEP);
            if switched || !promoted {
                return;
            }
            // The standby took the writes: it is active, without a replica
            // until the failback's reprotect half switches the roles.
            p.active_region = Some(record.plan.to_region.clone());
            p.protection = if status.is_finished() {
                Protection::Unprotected
            } else {
                reprotecting(record)
            };
        }
    }
}

impl ClusterState {
    /// Switches `execution_id`'s policy to `orientation`, protected, with
    /// `active_region` serving traffic and the recorded `names`; refused
    /// unless proposed by the execution's owner while it runs.
    pub(super) fn switch_roles(
        &mut self,
        (execution_id, term, index, at): (&str, u64, u64, &str),
        orientation: Orientation,
        active_region: String,
        names: RecordedNames,
    ) -> Reply {
        let Some(e) = self.executions.get(execution_id) else {
            return Reply::NotFound {
                execution_id: execution_id.to_string(),
            };
        };
        if let Some(reason) = fenced(e, term) {
            return Reply::Fenced { reason };
        }
        let policy = e.record.policy.clone();
        let p = self.policies.entry(policy.clone()).or_default();
        let what = format!(
            "execution {execution_id}: roles of {policy} switched: {active_region} active and protected, policy read {orientation} (was {})",
            p.orientation
        );
        p.orientation = orientation;
        p.protection = Protection::Protected;
        p.active_region = Some(active_region);
        p.names = names;
        self.audit(index, term, at, "leader", what);
        Reply::Ok
    }
}

/// Why `kind` may not start on a policy in state `p` (`None`: it may).
/// `primary` is the active region the policy names in its current
/// orientation.
pub fn refusal(kind: ExecutionKind, p: Option<&PolicyState>, primary: &str) -> Option<String> {
    let default = PolicyState::default();
    let p = p.unwrap_or(&default);
    let active = p.active_region.as_deref().unwrap_or(primary);
    let state = format!(
        "the platform runs in {active}, {}, policy read {}",
        p.protection, p.orientation
    );
    match kind {
        ExecutionKind::Failover => None,
        ExecutionKind::Reprotect if p.protection == Protection::Unprotected && active != primary => {
            None
        }
        ExecutionKind::Reprotect => Some(format!(
            "reprotect applies after a failover, while the platform is unprotected: {state}"
        )),
        ExecutionKind::Failback
            if p.protection == Protection::Protected
                && p.orientation == Orientation::Reversed
                && active == primary =>
        {
            None
        }
        ExecutionKind::Failback => Some(format!(
            "failback applies after a reprotect, while the platform runs protected in the DR region: {state}"
        )),
    }
}

/// The divergence report of the failover a failback would come back
/// from: what the old primary accepted after the fork, or why it could not
/// be measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivergenceShown {
    /// The failover.
    pub execution_id: String,
    /// One line per tier measured, or not measurable.
    pub lines: Vec<String>,
}

impl ClusterState {
    /// The divergence report of `policy`'s newest completed failover, when
    /// it is not empty (a divergence measured, or a tier that could not
    /// be measured). A failback requires it reviewed.
    pub fn failover_divergence(&self, policy: &str) -> Option<DivergenceShown> {
        let p = self.policies.get(policy)?;
        divergence(
            p.history
                .iter()
                .filter_map(|id| self.executions.get(id))
                .map(|e| &e.record),
        )
    }
}

/// [`ClusterState::failover_divergence`] over one policy's `records`,
/// oldest first (a local journal's).
pub fn divergence<'a>(
    records: impl DoubleEndedIterator<Item = &'a ExecutionRecord>,
) -> Option<DivergenceShown> {
    let failover = records.rev().find(|r| {
        r.plan.kind == ExecutionKind::Failover && r.status == ExecutionStatus::Completed
    })?;
    let f = failover.fence_old_primary.as_ref()?;
    let mut lines: Vec<String> = f.divergence.iter().map(|d| d.to_string()).collect();
    lines.extend(f.divergence_errors.iter().cloned());
    (!lines.is_empty()).then(|| DivergenceShown {
        execution_id: failover.id.clone(),
        lines,
    })
}

/// A policy's roles as one executor's journal leaves them: its `records`,
/// oldest first, applied as the controller cluster applies them (each save,
/// and the roles an execution's `switch-roles` step switched). `drctl
/// reprotect` and `drctl failback` without a controller read them so.
pub fn from_journal<'a>(records: impl IntoIterator<Item = &'a ExecutionRecord>) -> PolicyState {
    let mut p = PolicyState::default();
    for r in records {
        after_save(&mut p, r);
        let switched = r.roles.as_ref().filter(|_| done(r, SWITCH_ROLES_STEP));
        if let Some(roles) = switched {
            p.orientation = roles.orientation;
            p.protection = roles.protection;
            p.active_region = Some(roles.active_region.clone());
            p.names = roles.names.clone();
        }
        p.running = (r.status == ExecutionStatus::Running).then(|| r.id.clone());
    }
    p
}
