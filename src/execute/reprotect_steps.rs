//! What each reprotect step checks and does (check → act → verify, as the
//! failover steps in `steps.rs`), and the check-only ones
//! (`preflight-reprotect` in [`check`], `switch-roles` in
//! [`switch_roles`]).

use super::retry::{with_retry, Budget};
use crate::cloud::{
    Cloud, CloudError, CloudResult, ExposureSource, MemberRole, ReplicatorSpec, StreamClusterState,
};
use crate::model::{Fence, Op, Orientation, Protection, RecordedNames, SwitchedRoles};
use crate::plan::reprotect::{self, Context};
use crate::plan::Action;
use crate::policy::Policy;

/// Whether the reprotect step's goal holds; `None` when `action` is not a
/// reprotect step this module runs.
pub async fn postcondition<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
) -> Option<CloudResult<bool>> {
    let holds = match action {
        Action::CreateReplicaDatabase {
            region,
            id,
            source_id,
            ..
        } => cloud
            .get_database(region, id)
            .await
            .map(|d| d.is_some_and(|d| reprotect::replicates(&d, source_id))),
        Action::AddCacheSecondary {
            global_datastore,
            suffix,
            region,
            member,
            ..
        } => cloud.get_replication_group(region, member).await.map(|g| {
            g.is_some_and(|g| {
                let joined = g.global_datastore.as_deref().is_some_and(|id| {
                    global_datastore
                        .as_deref()
                        .map_or(id.ends_with(suffix.as_str()), |want| id == want)
                });
                g.status == "available" && joined && g.global_role == Some(MemberRole::Secondary)
            })
        }),
        Action::CreateReverseReplicator {
            region,
            name,
            source_cluster,
            source_region,
            target_cluster,
            ..
        } => {
            replicator_holds(
                cloud,
                region,
                name,
                (source_region, source_cluster),
                target_cluster,
            )
            .await
        }
        Action::RenameOldPrimary {
            region,
            id,
            renamed,
        } => renamed_holds(cloud, region, id, renamed).await,
        Action::WaitReplication => {
            let observed = super::observe_reprotect(cloud, policy).await;
            Ok(reprotect::replicating(policy, &observed, &wait_context()))
        }
        _ => return None,
    };
    Some(holds)
}

/// The tag a renamed old primary carries: the execution that renamed it.
const FENCED_BY_TAG: &str = "drctl:fenced-by";

/// Whether the old primary `id` is gone from its name and kept as `renamed`.
async fn renamed_holds<C: Cloud>(
    cloud: &C,
    region: &str,
    id: &str,
    renamed: &str,
) -> CloudResult<bool> {
    Ok(cloud.get_database(region, id).await?.is_none()
        && cloud.get_database(region, renamed).await?.is_some())
}

/// The context `wait-replication` judges by: the replicas this reprotect
/// made under the policy's own names.
fn wait_context() -> Context {
    Context {
        orientation: Orientation::AsWritten,
        protection: Protection::Reprotecting { done: 0, of: 0 },
        reprotects: 0,
    }
}

async fn replicator_holds<C: Cloud>(
    cloud: &C,
    region: &str,
    name: &str,
    (source_region, source_cluster): (&str, &str),
    target_cluster: &str,
) -> CloudResult<bool> {
    let Some(r) = cloud.get_replicator(region, name).await? else {
        return Ok(false);
    };
    let source = cluster(cloud, source_region, source_cluster).await?;
    let target = cluster(cloud, region, target_cluster).await?;
    Ok(r.is_running() && r.connects(&source.arn, &target.arn))
}

async fn cluster<C: Cloud>(cloud: &C, region: &str, name: &str) -> CloudResult<StreamClusterState> {
    cloud
        .get_stream_cluster(region, name)
        .await?
        .ok_or_else(|| CloudError::not_found(Op::ListClustersV2, format!("{region}/{name}")))
}

/// Makes the reprotect step's one idempotent call (for a cache whose Global
/// Datastore was disassociated: the new datastore first, then the member);
/// `None` when `action` is not a reprotect step this module runs.
pub async fn act<C: Cloud>(cloud: &C, action: &Action, fence: &Fence) -> Option<CloudResult<()>> {
    let done = match action {
        Action::CreateReplicaDatabase {
            region,
            id,
            source_region,
            source_id,
        } => {
            cloud
                .ensure_read_replica(region, id, source_region, source_id, fence)
                .await
        }
        Action::AddCacheSecondary {
            global_datastore,
            suffix,
            active_region,
            active_member,
            region,
            member,
        } => {
            let gds = match global_datastore {
                Some(g) => Ok(g.clone()),
                None => {
                    cloud
                        .ensure_global_datastore(active_region, suffix, active_member, fence)
                        .await
                }
            };
            match gds {
                Ok(g) => {
                    cloud
                        .ensure_secondary_member(&g, region, member, fence)
                        .await
                }
                Err(e) => Err(e),
            }
        }
        Action::CreateReverseReplicator {
            region,
            name,
            source_cluster,
            source_region,
            target_cluster,
            service_execution_role_arn,
        } => {
            let arns = async {
                let s = cluster(cloud, source_region, source_cluster).await?;
                let t = cluster(cloud, region, target_cluster).await?;
                Ok::<_, CloudError>((s.arn, t.arn))
            };
            match arns.await {
                Ok((source_cluster_arn, target_cluster_arn)) => {
                    let want = ReplicatorSpec {
                        name: name.clone(),
                        source_cluster_arn,
                        target_cluster_arn,
                        service_execution_role_arn: service_execution_role_arn.clone(),
                    };
                    cloud.ensure_replicator(region, &want, fence).await
                }
                Err(e) => Err(e),
            }
        }
        Action::RenameOldPrimary {
            region,
            id,
            renamed,
        } => {
            let tags = [(FENCED_BY_TAG.to_string(), fence.execution_id.clone())];
            cloud
                .ensure_renamed(region, id, renamed, &tags, fence)
                .await
        }
        Action::WaitReplication => Ok(()),
        _ => return None,
    };
    Some(done)
}

/// Runs `preflight-reprotect`: reads the standby region again and fails
/// naming every problem.
pub(super) async fn check<C: Cloud>(
    cloud: &C,
    exposures: &dyn ExposureSource,
    policy: &Policy,
    action: &Action,
) -> Result<String, String> {
    match action {
        Action::PreflightReprotect => {
            let observed = super::observe_reprotect_with(cloud, exposures, policy).await;
            let ctx = Context {
                orientation: Orientation::AsWritten,
                protection: Protection::Unprotected,
                reprotects: 0,
            };
            let problems = reprotect::preflight(policy, &observed, &ctx);
            if problems.is_empty() {
                Ok(format!(
                    "{} answers and every name is free",
                    policy.regions.primary
                ))
            } else {
                Err(problems.join("; "))
            }
        }
        other => Err(format!("{other:?} is not a check-only reprotect step")),
    }
}

/// Runs `switch-roles`: the roles the platform switches to, with the
/// Global Datastore the active cache member belongs to now (a reprotect
/// may have created one, whose id AWS prefixes). The executor commits them
/// through its journal (the controller cluster in its replicated state; a
/// local run in the record, read with [`super::switched_roles`]).
pub(super) async fn switch_roles<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    action: &Action,
) -> Result<(String, SwitchedRoles), String> {
    let Action::SwitchRoles {
        orientation,
        protection,
        reprotects,
        home_member,
    } = action
    else {
        return Err(format!("{action:?} is not a switch-roles step"));
    };
    let active = &policy.regions.secondary;
    let global_datastore = match &policy.tiers.cache {
        None => None,
        Some(c) => {
            let budget = Budget::read(policy.execution.call_timeout);
            let what = format!("elasticache.{active}");
            let read = || cloud.get_replication_group(active, &c.dr_member);
            let member = with_retry(budget, &what, read, |_, _| {})
                .await
                .map_err(|e| {
                    format!("cannot read cache member {} in {active}: {e}", c.dr_member)
                })?;
            let gds = member.and_then(|m| m.global_datastore).ok_or_else(|| {
                format!(
                    "cache member {} in {active} belongs to no Global Datastore",
                    c.dr_member
                )
            })?;
            Some(gds)
        }
    };
    let roles = SwitchedRoles {
        orientation: *orientation,
        protection: *protection,
        active_region: active.clone(),
        names: RecordedNames {
            global_datastore,
            cache_member: home_member.clone(),
            reprotects: *reprotects,
        },
    };
    let message = format!(
        "roles switched: {active} active, {} standby (orientation {orientation}, {protection})",
        policy.regions.primary
    );
    Ok((message, roles))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::model::Epoch;

    #[tokio::test(start_paused = true)]
    async fn rename_old_primary_keeps_it_under_the_new_name_and_acts_once() {
        let policy = crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap();
        let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
        let fence = Fence {
            execution_id: "fb-1".into(),
            epoch: Epoch::default(),
        };
        let action = Action::RenameOldPrimary {
            region: "us-east-1".into(),
            id: "emr-platform-prod".into(),
            renamed: "emr-platform-prod-fenced-1".into(),
        };
        let holds = postcondition(&sim, &policy, &action).await.unwrap();
        assert!(!holds.unwrap());
        act(&sim, &action, &fence).await.unwrap().unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        let holds = postcondition(&sim, &policy, &action).await.unwrap();
        assert!(holds.unwrap());
        let renames = sim.mutations().get("rds:ModifyDBInstance").copied();
        act(&sim, &action, &fence).await.unwrap().unwrap();
        assert_eq!(
            sim.mutations().get("rds:ModifyDBInstance").copied(),
            renames
        );
    }
}
