//! After a failover: fence the old primary as soon as its region answers.
//!
//! The failover itself never calls the region being left (guarantee 8), so
//! this is not one of its steps: it is kept pending on the execution record
//! and tried again (by the controller's leader, or `drctl fence`) until the
//! region answers. Then, once: the old primary is tagged with the execution
//! and renamed out of its endpoint (as ARC Region switch does), and the
//! primary region's named node groups are scaled to zero. The instance
//! keeps running with its data, for the divergence report and for a person
//! to recover what it accepted after the fork.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::fork::ForkPositions;
use super::journal::StepStatus;
use crate::cloud::{
    fenced_identifier, Cloud, CloudError, Scaling, FENCED_BY_TAG, FENCED_EPOCH_TAG,
};
use crate::fence::Divergence;
use crate::model::Fence;
use crate::policy::Policy;

pub mod divergence;
pub mod view;

/// How often the controller's leader tries a pending fence again.
pub const RETRY_EVERY: Duration = Duration::from_secs(30);

/// How an outcome line names a writer a method could not fence.
pub const NOT_FENCED: &str = "NOT FENCED";

/// The step's name, as reports and the API show it.
pub const STEP: &str = "fence-old-primary";

/// Fencing the old primary on return, as the execution records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceOldPrimary {
    /// `pending` until the region answers, then `done`, `already_done` or
    /// `failed` (tried again).
    pub status: StepStatus,
    /// What it waits for, while pending.
    pub waiting_for: Option<String>,
    /// How many times it was tried.
    pub attempts: u32,
    /// When it was last tried (RFC 3339).
    pub last_attempt: Option<String>,
    /// When it finished (RFC 3339).
    pub finished_at: Option<String>,
    /// What was done, a line per resource.
    pub outcome: Vec<String>,
    /// The replicas' positions at the fork, copied from the execution when
    /// the fence was planned: what the divergence is measured from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<ForkPositions>,
    /// What the old primary accepted after the fork, per tier, measured
    /// right after the fence; the fenced instance keeps it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divergence: Vec<Divergence>,
    /// Why a tier's divergence could not be measured, a line per tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divergence_errors: Vec<String>,
    /// What the writer fences returned for a later `unfence` to restore,
    /// per region (ElastiCache access strings from before the fence):
    /// kept as each fence returns, so a fence that fails part way loses
    /// nothing the others changed. A failback's lift at home gives them
    /// back.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub writer_restore: super::WriterRestore,
}

impl FenceOldPrimary {
    /// A fence that waits for its first try.
    pub fn pending(region: &str) -> Self {
        Self {
            status: StepStatus::Pending,
            waiting_for: Some(format!("{region} to answer")),
            attempts: 0,
            last_attempt: None,
            finished_at: None,
            outcome: Vec::new(),
            fork: None,
            divergence: Vec::new(),
            divergence_errors: Vec::new(),
            writer_restore: Default::default(),
        }
    }

    /// Whether it still has to run.
    pub fn is_open(&self) -> bool {
        !self.status.succeeded()
    }

    /// One line for reports: `fence-old-primary: pending — waiting for
    /// us-east-1 to answer (3 tries)`.
    pub fn line(&self) -> String {
        match (&self.status, &self.waiting_for) {
            (s, Some(w)) if !s.succeeded() => format!(
                "{STEP}: {} — waiting for {w} ({} {}); the controller's leader tries again every {}s, `drctl failover --confirm` tries again now",
                s.label(),
                self.attempts,
                if self.attempts == 1 { "try" } else { "tries" },
                RETRY_EVERY.as_secs()
            ),
            (s, _) => format!("{STEP}: {} — {}", s.label(), self.outcome.join("; ")),
        }
    }
}

/// Whether `policy` fences the old primary on return, and the record to
/// start from after a failover that promoted.
pub fn planned(policy: &Policy) -> Option<FenceOldPrimary> {
    let f = policy.fencing.as_ref()?;
    (f.on_return && (policy.tiers.database.is_some() || f.node_groups.is_some()))
        .then(|| FenceOldPrimary::pending(&policy.regions.primary))
}

/// Tries once: when the primary region does not answer within
/// `execution.call_timeout`, the fence stays pending with why; otherwise
/// the old primary is tagged and renamed and the node groups are scaled to
/// zero. Updates `state` in place.
pub async fn try_fence<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    fence: &Fence,
    state: &mut FenceOldPrimary,
    now: String,
) {
    state.attempts += 1;
    state.last_attempt = Some(now.clone());
    let region = policy.regions.primary.as_str();
    let timeout = policy.execution.call_timeout;
    match fence_all(cloud, policy, fence, timeout, state).await {
        Ok((lines, changed)) => {
            // A method that refused leaves a writer: tried again next round.
            state.status = if lines.iter().any(|l| l.contains(NOT_FENCED)) {
                StepStatus::Failed
            } else if changed {
                StepStatus::Done
            } else {
                StepStatus::AlreadyDone
            };
            state.waiting_for = None;
            state.finished_at = Some(now);
            state.outcome = lines;
        }
        Err(Wait(why)) => {
            state.status = StepStatus::Pending;
            state.waiting_for = Some(format!("{region} to answer: {why}"));
        }
    }
}

/// Why the fence waits.
struct Wait(String);

impl From<CloudError> for Wait {
    fn from(e: CloudError) -> Self {
        Wait(e.to_string())
    }
}

async fn within<T>(
    timeout: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T, CloudError>>,
) -> Result<T, Wait> {
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r.map_err(Wait::from),
        Err(_) => Err(Wait(format!(
            "{what}: no answer within {} (execution.call_timeout)",
            crate::duration::fmt(timeout)
        ))),
    }
}

async fn fence_all<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    fence: &Fence,
    timeout: Duration,
    state: &mut FenceOldPrimary,
) -> Result<(Vec<String>, bool), Wait> {
    let region = policy.regions.primary.as_str();
    let mut lines = Vec::new();
    let mut changed = false;
    // The writers first: once renamed, the old endpoint no longer answers.
    let writers = cloud
        .writer_fences(policy, &Default::default())
        .map_err(Wait)?;
    for w in writers {
        match tokio::time::timeout(timeout, w.fence()).await {
            Ok(Ok(o)) => {
                changed |= o.changed;
                lines.push(o.summary);
                super::writer_restore::keep_first(&mut state.writer_restore, region, o.restore);
            }
            Ok(Err(crate::fence::FenceError::Unreachable { detail, .. })) => {
                return Err(Wait(format!("{}: {detail}", w.describe())))
            }
            Ok(Err(e)) => lines.push(format!("{}: {NOT_FENCED}: {e}", w.describe())),
            Err(_) => {
                return Err(Wait(format!(
                    "{}: no answer within {} (execution.call_timeout)",
                    w.describe(),
                    crate::duration::fmt(timeout)
                )))
            }
        }
    }
    // What the old primary took after the fork, measured now that nothing
    // more is written there, and before the rename takes its endpoint.
    if state.divergence.is_empty() {
        divergence::measure_after_fence(policy, state).await;
    }
    if let Some(db) = &policy.tiers.database {
        let renamed = fenced_identifier(&db.primary, &fence.execution_id);
        let at = format!("rds.{region}");
        let old = within(timeout, &at, cloud.get_database(region, &db.primary)).await?;
        if old.is_some() {
            let tags = vec![
                (FENCED_BY_TAG.to_string(), fence.execution_id.clone()),
                (FENCED_EPOCH_TAG.to_string(), fence.epoch.to_string()),
            ];
            within(
                timeout,
                &at,
                cloud.ensure_renamed(region, &db.primary, &renamed, &tags, fence),
            )
            .await?;
            changed = true;
            lines.push(format!(
                "old primary {} tagged {FENCED_BY_TAG}={} and renamed to {renamed}: its endpoint no longer answers; it keeps running with its data",
                db.primary, fence.execution_id
            ));
        } else {
            match within(timeout, &at, cloud.get_database(region, &renamed)).await? {
                Some(_) => lines.push(format!("old primary already renamed to {renamed}")),
                None => {
                    return Err(Wait(format!(
                        "neither {} nor {renamed} exists in {region}",
                        db.primary
                    )))
                }
            }
        }
    }
    if let Some(ng) = policy.fencing.as_ref().and_then(|f| f.node_groups.as_ref()) {
        for group in &ng.groups {
            let at = format!("eks.{region}");
            let Some(state) = within(
                timeout,
                &at,
                cloud.get_node_group(region, &ng.cluster, group),
            )
            .await?
            else {
                lines.push(format!(
                    "node group {}/{group} not found; nothing to scale",
                    ng.cluster
                ));
                continue;
            };
            let zero = Scaling {
                min: 0,
                desired: 0,
                max: state.scaling.max.max(1),
            };
            if state.scaling.desired == 0 && state.scaling.min == 0 {
                lines.push(format!("node group {}/{group} already at zero", ng.cluster));
                continue;
            }
            match within(
                timeout,
                &at,
                cloud.ensure_scaling(region, &ng.cluster, group, zero, fence),
            )
            .await
            {
                Ok(()) => {
                    changed = true;
                    lines.push(format!(
                        "node group {}/{group} scaled from {} to 0",
                        ng.cluster, state.scaling.desired
                    ));
                }
                Err(Wait(why)) => return Err(Wait(why)),
            }
        }
    }
    Ok((lines, changed))
}

#[cfg(test)]
mod tests;
