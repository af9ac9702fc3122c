//! The ElastiCache trait on the simulated world: the Global Datastore,
//! its failover, its members, and (for a reprotect) a new datastore and a
//! new secondary member.

use super::SimCloud;
use crate::cloud::*;
use crate::model::Fence;
use crate::model::Op;

impl Cache for SimCloud {
    async fn get_global_datastore(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<GlobalDatastoreState>> {
        let w = self
            .call(Op::DescribeGlobalReplicationGroups, region, id)
            .await?;
        Ok(w.datastores.get(id).map(|g| GlobalDatastoreState {
            id: id.to_string(),
            status: g.status.clone(),
            members: g.members.clone(),
        }))
    }

    async fn ensure_primary_member(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        // As the world decides below: no failover in flight, the member a
        // secondary, and the current primary's region taking part.
        let others = {
            let w = self.world();
            w.datastores.get(id).and_then(|g| {
                let primary_out = g
                    .members
                    .iter()
                    .any(|m| m.role == MemberRole::Primary && w.outage.regions.contains(&m.region));
                let acts = g.pending.is_none()
                    && !primary_out
                    && g.members.iter().any(|m| {
                        m.replication_group_id == member
                            && m.region == region
                            && m.role != MemberRole::Primary
                    });
                acts.then(|| {
                    g.members
                        .iter()
                        .filter(|m| m.region != region)
                        .map(|m| m.region.clone())
                        .collect::<Vec<_>>()
                })
            })
        };
        if let Some(others) = others {
            self.real_cache_failover(id, region, &others).await?;
        }
        let mut w = self
            .call(Op::FailoverGlobalReplicationGroup, region, id)
            .await?;
        let Some(g) = w.datastores.get(id) else {
            return Err(CloudError::not_found(
                Op::FailoverGlobalReplicationGroup,
                id,
            ));
        };
        // The failover needs the current primary's region to take part.
        let primary_out = g
            .members
            .iter()
            .find(|m| m.role == MemberRole::Primary)
            .filter(|m| w.outage.regions.contains(&m.region))
            .map(|m| m.region.clone());
        if let Some(out) = primary_out {
            let msg = format!(
                "Global Datastore {id} cannot fail over: its primary region {out} does not answer (InvalidGlobalReplicationGroupState)"
            );
            return Err(CloudError::new(
                ErrorKind::Conflict,
                Op::FailoverGlobalReplicationGroup,
                id,
                msg,
            ));
        }
        let Some(m) = g
            .members
            .iter()
            .find(|m| m.replication_group_id == member && m.region == region)
        else {
            let msg = format!("{member} in {region} is not a member (InvalidParameterValue)");
            return Err(CloudError::new(
                ErrorKind::Fatal,
                Op::FailoverGlobalReplicationGroup,
                id,
                msg,
            ));
        };
        if m.role == MemberRole::Primary || g.pending.is_some() {
            return Ok(());
        }
        let span = w.latency.cache_failover;
        let pending = w.start(
            Op::FailoverGlobalReplicationGroup,
            format!("elasticache:{id}"),
            span,
        );
        let resource = w.transitions[pending.transition].resource.clone();
        w.log_mutation(
            Op::FailoverGlobalReplicationGroup,
            &resource,
            fence,
            self.caller.as_deref(),
        );
        let g = w.datastores.get_mut(id).expect("checked above");
        g.status = "modifying".into();
        g.pending = Some(pending);
        g.promoting = Some(member.to_string());
        Ok(())
    }

    async fn get_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<ReplicationGroupState>> {
        self.sim_replication_group(region, id).await
    }

    async fn ensure_disassociated(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.sim_disassociate(id, region, member, fence).await
    }

    async fn ensure_global_datastore(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> CloudResult<String> {
        self.sim_create_datastore(region, suffix, primary_member, fence)
            .await
    }

    async fn ensure_secondary_member(
        &self,
        global_datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let primary_region = self.world().datastores.get(global_datastore).and_then(|g| {
            g.members
                .iter()
                .find(|m| m.role == MemberRole::Primary && m.region != region)
                .map(|m| m.region.clone())
        });
        if let Some(primary_region) = primary_region {
            self.real_cache_secondary(global_datastore, region, &primary_region)
                .await?;
        }
        self.sim_add_secondary(global_datastore, region, member, fence)
            .await
    }
}
