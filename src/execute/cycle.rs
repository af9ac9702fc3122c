//! The way home as one run: a failover, the fence of the old primary once
//! its region answers, a reprotect, a failback and a failover again, each
//! phase journaled and read in the roles the phase before left. What
//! `drctl drill --cycle` runs on the simulated cloud, and what chaos
//! scenarios of the new steps run up to the phase they break.
//!
//! The roles a phase leaves are carried as the controller cluster carries
//! them in its replicated state: the orientation, the protection and the
//! names a reprotect recorded ([`ExecutionRecord::roles`]).

use std::sync::Arc;

use serde::Serialize;

use super::{ExecutionRecord, ExecutionStatus, Journal, JournalError, RunOptions};
use crate::cloud::Cloud;
use crate::model::{Epoch, Fence, Orientation, Protection, RecordedNames};
use crate::plan::failback;
use crate::policy::Policy;

/// One phase of the way home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CyclePhase {
    /// The failover away from the policy's primary region.
    Failover,
    /// Replicas of the new primary in the old primary's region.
    Reprotect,
    /// The planned switchover home, then the reprotect the other way.
    Failback,
    /// A failover again, from home: the cycle ends where it started.
    FailoverAgain,
}

impl CyclePhase {
    /// Every phase, in order.
    pub const ALL: [CyclePhase; 4] = [
        Self::Failover,
        Self::Reprotect,
        Self::Failback,
        Self::FailoverAgain,
    ];

    /// The phase's name as reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Failover => "failover",
            Self::Reprotect => "reprotect",
            Self::Failback => "failback",
            Self::FailoverAgain => "failover-again",
        }
    }
}

/// The roles between phases: how the policy is read, its protection and
/// the names reprotects recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CycleRoles {
    /// How the policy file is read.
    pub orientation: Orientation,
    /// Whether the active region has replicas.
    pub protection: Protection,
    /// What reprotects named.
    #[serde(skip_serializing_if = "RecordedNames::is_empty")]
    pub names: RecordedNames,
}

/// One phase as it ran.
#[derive(Debug, Serialize)]
pub struct PhaseReport {
    /// Which phase.
    pub phase: CyclePhase,
    /// The roles it started in.
    pub roles_before: CycleRoles,
    /// The roles it left.
    pub roles_after: CycleRoles,
    /// Its execution.
    pub execution: ExecutionRecord,
}

/// Runs the phases of the way home on `cloud` up to and including `until`,
/// from the policy as `written` in its home roles, stopping after the
/// first phase that does not complete. `options` gives each phase's run
/// options (its execution id, the operator); `before` runs before each
/// phase (a chaos scenario breaks the cloud there).
///
/// # Errors
///
/// Only when the journal cannot be read or written.
pub async fn run_cycle<C: Cloud + 'static, J: Journal>(
    cloud: Arc<C>,
    written: &Policy,
    journal: &mut J,
    until: CyclePhase,
    options: impl Fn(CyclePhase) -> RunOptions,
    before: impl Fn(CyclePhase),
) -> Result<Vec<PhaseReport>, JournalError> {
    let mut roles = CycleRoles::default();
    let mut phases = Vec::new();
    for phase in CyclePhase::ALL.into_iter().filter(|p| *p <= until) {
        before(phase);
        let record = match phase {
            CyclePhase::Failover | CyclePhase::FailoverAgain => {
                let policy = Arc::new(written.in_roles(roles.orientation, &roles.names));
                failover(cloud.clone(), policy, journal, options(phase)).await?
            }
            CyclePhase::Reprotect | CyclePhase::Failback => {
                let mut run = options(phase);
                let (policy, plan) =
                    plan_way_home(cloud.as_ref(), written, &roles, phase, &mut run).await;
                super::execute_plan(cloud.clone(), policy, journal, &plan, run).await?
            }
        };
        let before_roles = roles.clone();
        roles = after(roles, &record);
        let done = record.status == ExecutionStatus::Completed;
        phases.push(PhaseReport {
            phase,
            roles_before: before_roles,
            roles_after: roles.clone(),
            execution: record,
        });
        if !done {
            break;
        }
    }
    Ok(phases)
}

/// The policy read in `roles` and the plan of a reprotect or a failback
/// (`phase`) built from what `cloud` shows now; the execution id is set
/// in `run` when it has none (a failback's plan names the old primary's
/// new name after it). Any phase but the failback gets a reprotect plan (a
/// failover builds its own).
pub async fn plan_way_home<C: Cloud>(
    cloud: &C,
    written: &Policy,
    roles: &CycleRoles,
    phase: CyclePhase,
    run: &mut RunOptions,
) -> (Arc<Policy>, crate::plan::Plan) {
    let policy = Arc::new(written.in_roles(roles.orientation, &roles.names));
    let id = run
        .execution_id
        .get_or_insert_with(|| super::new_execution_id(&policy.name))
        .clone();
    let ctx = failback::Context {
        orientation: roles.orientation,
        protection: roles.protection,
        reprotects: roles.names.reprotects,
        execution_id: id,
        divergence: None,
        divergence_reviewed: None,
        accept: run.accept.clone(),
    };
    let failback = phase == CyclePhase::Failback;
    let plan = super::plan_way_home(cloud, cloud, &policy, failback, &ctx).await;
    (policy, plan)
}

/// A failover of `policy`, then the fence of the old primary (its region
/// answers again on the simulated cloud), recorded in the record.
async fn failover<C: Cloud + 'static, J: Journal>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    journal: &mut J,
    options: RunOptions,
) -> Result<ExecutionRecord, JournalError> {
    let mut record = super::execute(cloud.clone(), policy.clone(), journal, options).await?;
    if let Some(mut state) = record.fence_old_primary.clone() {
        let fence = Fence {
            execution_id: record.id.clone(),
            epoch: Epoch::default(),
        };
        let now = super::now_rfc3339();
        super::fence_return::try_fence(cloud.as_ref(), &policy, &fence, &mut state, now).await;
        record.fence_old_primary = Some(state);
        journal.save(&record).await?;
    }
    Ok(record)
}

/// The roles `record` leaves: a completed failover leaves the platform
/// unprotected; a reprotect or failback whose `switch-roles` step is done
/// leaves the roles it switched to.
fn after(roles: CycleRoles, record: &ExecutionRecord) -> CycleRoles {
    if let Some(r) = super::switched_roles(record) {
        return CycleRoles {
            orientation: r.orientation,
            protection: r.protection,
            names: r.names.clone(),
        };
    }
    match (record.plan.kind, record.status) {
        (crate::model::ExecutionKind::Failover, ExecutionStatus::Completed) => CycleRoles {
            protection: Protection::Unprotected,
            ..roles
        },
        _ => roles,
    }
}
