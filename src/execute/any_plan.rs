//! Running a plan of any kind (failover, reprotect, failback) built by the
//! caller: journaled and resumable like [`super::execute`], which builds a
//! failover plan itself.

use std::sync::Arc;

use tokio::time::Instant;

use super::{
    journal::{ExecutionRecord, Journal, JournalError},
    new_record, run_record, RunOptions,
};
use crate::cloud::Cloud;
use crate::model::{ExecutionKind, SwitchedRoles};
use crate::plan::{Plan, StepKind};
use crate::policy::Policy;

/// Runs `plan` against `cloud`, or resumes the policy's unfinished
/// execution of the same kind when the journal holds one (its own plan is
/// then run, not `plan`: steps already done are not done again). A plan
/// whose preflight found problems runs only up to its preflight step, which
/// fails and names them.
///
/// `policy` is the policy as oriented for this plan (the one it was built
/// from). Read the roles a completed reprotect switched to with
/// [`switched_roles`].
///
/// # Errors
///
/// Only when the journal cannot be read or written.
pub async fn execute_plan<C: Cloud + 'static, J: Journal>(
    cloud: Arc<C>,
    policy: Arc<Policy>,
    journal: &mut J,
    plan: &Plan,
    options: RunOptions,
) -> Result<ExecutionRecord, JournalError> {
    let clock = Instant::now();
    let resumed = super::resumable(journal, &policy.name, |r| r.plan.kind == plan.kind).await?;
    let mut record = resumed.unwrap_or_else(|| new_record(plan, &options));
    journal.save(&record).await?;
    run_record(cloud, policy, journal, &mut record, &options, clock).await?;
    Ok(record)
}

/// The roles a finished `switch-roles` step of `record` committed, `None`
/// when it has none or it has not succeeded. The controller cluster
/// commits them in its replicated state; a local run keeps them in the
/// record ([`ExecutionRecord::roles`]), where this reads them.
pub fn switched_roles(record: &ExecutionRecord) -> Option<&SwitchedRoles> {
    let switched = record
        .steps
        .iter()
        .any(|s| s.kind == StepKind::SwitchRoles && s.status.succeeded());
    record.roles.as_ref().filter(|_| switched)
}

/// The summary of an execution every step of which is done.
pub(super) fn completed_summary(plan: &Plan) -> String {
    match plan.kind {
        ExecutionKind::Failover => format!(
            "failed over to {}: every step done and verified",
            plan.to_region
        ),
        ExecutionKind::Reprotect => format!(
            "reprotected: {} active with replicas in {}, roles switched",
            plan.from_region, plan.to_region
        ),
        ExecutionKind::Failback => format!(
            "failed back to {}: every step done and verified",
            plan.to_region
        ),
    }
}
