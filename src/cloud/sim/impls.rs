//! The cloud traits, implemented on the simulated world.

use super::world::key;
use super::SimCloud;
use crate::cloud::*;
use crate::model::Fence;
use crate::model::Op;

impl Database for SimCloud {
    async fn get_database(&self, region: &str, id: &str) -> CloudResult<Option<DatabaseState>> {
        let k = key(&[region, id]);
        let w = self.call(Op::DescribeDbInstances, region, &k).await?;
        let busy = w.busy_status(&k, tokio::time::Instant::now());
        Ok(w.databases.get(&k).map(|d| DatabaseState {
            id: id.to_string(),
            status: match (&busy, d.replica_source.is_some()) {
                (Some(b), true) => b.clone(),
                _ => d.status.clone(),
            },
            replica_source: d.replica_source.clone(),
            tags: d.tags.clone(),
        }))
    }

    async fn ensure_renamed(
        &self,
        region: &str,
        id: &str,
        renamed: &str,
        tags: &[(String, String)],
        fence: &Fence,
    ) -> CloudResult<()> {
        let (old, new) = (key(&[region, id]), key(&[region, renamed]));
        {
            let w = self.call(Op::DescribeDbInstances, region, &old).await?;
            if !w.databases.contains_key(&old) {
                return if w.databases.contains_key(&new) {
                    Ok(())
                } else {
                    Err(CloudError::not_found(Op::ModifyDbInstance, old))
                };
            }
        }
        {
            let mut w = self.call(Op::AddTagsToResource, region, &old).await?;
            *w.mutations
                .entry(Op::AddTagsToResource.to_string())
                .or_default() += 1;
            w.log_mutation(Op::AddTagsToResource, &old, fence, self.caller.as_deref());
            if let Some(db) = w.databases.get_mut(&old) {
                db.tags.extend(tags.iter().cloned());
            }
        }
        let mut w = self.call(Op::ModifyDbInstance, region, &old).await?;
        *w.mutations
            .entry(Op::ModifyDbInstance.to_string())
            .or_default() += 1;
        w.log_mutation(Op::ModifyDbInstance, &old, fence, self.caller.as_deref());
        if let Some(db) = w.databases.remove(&old) {
            w.databases.insert(new, db);
        }
        Ok(())
    }

    async fn ensure_read_replica(
        &self,
        region: &str,
        id: &str,
        source_region: &str,
        source_id: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let (k, src) = (key(&[region, id]), key(&[source_region, source_id]));
        self.real_read_replica(region, &k, source_region, &src)
            .await?;
        self.sim_read_replica(region, id, source_region, source_id, fence)
            .await
    }

    async fn ensure_promoted(&self, region: &str, id: &str, fence: &Fence) -> CloudResult<()> {
        let k = key(&[region, id]);
        if let Some(b) = self.postgres_in(region) {
            let acts = self
                .world()
                .databases
                .get(&k)
                .is_some_and(|db| db.replica_source.is_some() && db.pending.is_none());
            if acts {
                crate::probe::promote_postgres(
                    &b.replica,
                    b.password.clone(),
                    super::BACKING_TIMEOUT,
                )
                .await
                .map_err(|e| {
                    CloudError::new(
                        ErrorKind::Retryable,
                        Op::PromoteReadReplica,
                        &k,
                        e.to_string(),
                    )
                })?;
            }
        }
        let sent = tokio::time::Instant::now();
        let mut w = self.call(Op::PromoteReadReplica, region, &k).await?;
        let Some(db) = w.databases.get(&k) else {
            return Err(CloudError::not_found(Op::PromoteReadReplica, k));
        };
        if db.status == super::reprotect::CREATING_DB {
            let msg = format!(
                "DB instance {id} is creating; it cannot be promoted now (InvalidDBInstanceState)"
            );
            return Err(CloudError::new(
                ErrorKind::Conflict,
                Op::PromoteReadReplica,
                k,
                msg,
            ));
        }
        // Standalone already, or a promotion is in flight: nothing to send.
        if db.replica_source.is_none() || db.pending.is_some() {
            return Ok(());
        }
        if let Some(status) = w.busy_status(&k, tokio::time::Instant::now()) {
            let (op, resource) = (Op::PromoteReadReplica, format!("rds:{k}"));
            w.log_refused(sent, op, &resource, fence, self.caller.as_deref());
            let msg = format!(
                "DB instance {id} is {status}; it cannot be promoted now (InvalidDBInstanceState)"
            );
            return Err(CloudError::new(
                ErrorKind::Conflict,
                Op::PromoteReadReplica,
                k,
                msg,
            ));
        }
        let span = w.latency.database_promotion;
        let pending = w.start(Op::PromoteReadReplica, format!("rds:{k}"), span);
        let resource = w.transitions[pending.transition].resource.clone();
        w.log_mutation(
            Op::PromoteReadReplica,
            &resource,
            fence,
            self.caller.as_deref(),
        );
        let db = w.databases.get_mut(&k).expect("checked above");
        db.status = "modifying".into();
        db.pending = Some(pending);
        Ok(())
    }
}

impl NodeGroups for SimCloud {
    async fn get_node_group(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<NodeGroupState>> {
        let k = key(&[region, cluster, name]);
        let w = self.call(Op::DescribeNodegroup, region, &k).await?;
        Ok(w.node_groups.get(&k).map(|g| NodeGroupState {
            name: name.to_string(),
            status: g.status.clone(),
            scaling: g.scaling,
        }))
    }

    async fn ensure_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        scaling: Scaling,
        fence: &Fence,
    ) -> CloudResult<()> {
        let k = key(&[region, cluster, name]);
        let mut w = self.call(Op::UpdateNodegroupConfig, region, &k).await?;
        let Some(g) = w.node_groups.get(&k) else {
            return Err(CloudError::not_found(Op::UpdateNodegroupConfig, k));
        };
        if g.scaling == scaling {
            return Ok(());
        }
        if g.pending.is_some() {
            // EKS refuses a second update while one is in progress.
            let msg =
                "An update is already in progress for this node group (ResourceInUseException)";
            return Err(CloudError::new(
                ErrorKind::Conflict,
                Op::UpdateNodegroupConfig,
                k,
                msg,
            ));
        }
        let span = w.latency.node_group_scaling;
        let pending = w.start(Op::UpdateNodegroupConfig, format!("eks:{k}"), span);
        let resource = w.transitions[pending.transition].resource.clone();
        w.log_mutation(
            Op::UpdateNodegroupConfig,
            &resource,
            fence,
            self.caller.as_deref(),
        );
        let g = w.node_groups.get_mut(&k).expect("checked above");
        g.scaling = scaling;
        g.status = "UPDATING".into();
        g.pending = Some(pending);
        Ok(())
    }
}

impl Dns for SimCloud {
    async fn get_record(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
    ) -> CloudResult<Option<Record>> {
        let resource = format!("{zone}/{name}");
        let w = self
            .call(
                Op::ListResourceRecordSets,
                ROUTE53_CONTROL_REGION,
                &resource,
            )
            .await?;
        let z = w.zones.get(zone).ok_or_else(|| {
            CloudError::not_found(Op::ListResourceRecordSets, format!("hosted zone {zone}"))
        })?;
        Ok(z.get(&(name.to_ascii_lowercase(), rtype)).cloned())
    }

    async fn ensure_record(
        &self,
        zone: &str,
        want: &Record,
        fence: &Fence,
    ) -> CloudResult<Option<ChangeId>> {
        let resource = format!("{zone}/{}", want.name);
        let mut w = self
            .call(
                Op::ChangeResourceRecordSets,
                ROUTE53_CONTROL_REGION,
                &resource,
            )
            .await?;
        let z = w.zones.get(zone).ok_or_else(|| {
            CloudError::not_found(Op::ChangeResourceRecordSets, format!("hosted zone {zone}"))
        })?;
        if z.get(&(want.name.to_ascii_lowercase(), want.rtype()))
            .is_some_and(|r| r.points_like(want))
        {
            return Ok(None);
        }
        let span = w.latency.dns_propagation;
        let pending = w.start(
            Op::ChangeResourceRecordSets,
            format!("route53:{resource}"),
            span,
        );
        let resource = w.transitions[pending.transition].resource.clone();
        w.log_mutation(
            Op::ChangeResourceRecordSets,
            &resource,
            fence,
            self.caller.as_deref(),
        );
        let id = format!("C{:08}SIM", w.changes.len() + 1);
        w.changes.insert(id.clone(), Some(pending));
        w.put_record(zone, want.clone());
        Ok(Some(ChangeId(id)))
    }

    async fn get_change(&self, id: &ChangeId) -> CloudResult<ChangeStatus> {
        let w = self
            .call(Op::GetChange, ROUTE53_CONTROL_REGION, &id.0)
            .await?;
        match w.changes.get(&id.0) {
            None => Err(CloudError::not_found(Op::GetChange, format!("change {id}"))),
            Some(None) => Ok(ChangeStatus::InSync),
            Some(Some(_)) => Ok(ChangeStatus::Pending),
        }
    }
}
