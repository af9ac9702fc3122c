//! The simulated cloud's replication groups, ARC routing controls, DNS
//! answers and exposure figures.

use std::net::{IpAddr, Ipv4Addr};

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::world::key;
use super::SimCloud;
use crate::cloud::*;
use crate::model::Op;
use crate::model::{DataTier, Exposure};
use crate::policy::Policy;

impl SimCloud {
    /// Reads a replication group.
    pub(super) async fn sim_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<ReplicationGroupState>> {
        let k = key(&[region, id]);
        let w = self.call(Op::DescribeReplicationGroups, region, &k).await?;
        Ok(w.replication_groups.get(&k).map(|rg| {
            let role = rg.global.as_ref().and_then(|g| {
                w.datastores
                    .get(g)
                    .and_then(|d| d.members.iter().find(|m| m.replication_group_id == id))
                    .map(|m| m.role)
            });
            ReplicationGroupState {
                id: id.to_string(),
                status: rg.status.clone(),
                global_datastore: rg.global.clone(),
                global_role: role,
            }
        }))
    }

    /// Disassociates a member from its Global Datastore, in its own region.
    pub(super) async fn sim_disassociate(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let k = key(&[region, member]);
        let leaves = self
            .world()
            .replication_groups
            .get(&k)
            .is_some_and(|rg| rg.global.as_deref() == Some(id) && rg.pending.is_none());
        if leaves {
            self.real_cache_standalone(id, region).await?;
        }
        let mut w = self
            .call(Op::DisassociateGlobalReplicationGroup, region, id)
            .await?;
        let Some(rg) = w.replication_groups.get(&k) else {
            return Err(CloudError::not_found(
                Op::DisassociateGlobalReplicationGroup,
                k,
            ));
        };
        if rg.global.as_deref() != Some(id) || rg.pending.is_some() {
            return Ok(());
        }
        let span = w.latency.cache_disassociation;
        let pending = w.start(
            Op::DisassociateGlobalReplicationGroup,
            format!("elasticache:{k}"),
            span,
        );
        w.log_mutation(
            Op::DisassociateGlobalReplicationGroup,
            &k,
            fence,
            self.caller.as_deref(),
        );
        if let Some(gds) = w.datastores.get_mut(id) {
            gds.members.retain(|m| m.replication_group_id != member);
        }
        let rg = w.replication_groups.get_mut(&k).expect("checked above");
        rg.global = None;
        rg.status = "modifying".into();
        rg.pending = Some(pending);
        Ok(())
    }

    /// The answer DNS gives for `name` now.
    fn answer(&self, name: &str) -> Resolved {
        let w = self.world();
        let now = Instant::now();
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        let effective = |arn: &str| {
            w.routing_controls
                .get(arn)
                .is_some_and(|c| c.effective(now))
        };
        let target = if let Some(r) = w.routed_records.get(&lower) {
            Some(if effective(&r.primary_control) {
                r.primary_target.clone()
            } else if effective(&r.secondary_control) {
                r.secondary_target.clone()
            } else {
                r.primary_target.clone()
            })
        } else {
            w.zones.values().find_map(|z| {
                z.iter()
                    .find(|((n, _), _)| *n == lower)
                    .map(|(_, rec)| match &rec.target {
                        RecordTarget::Alias { dns_name, .. } => dns_name.clone(),
                        RecordTarget::Cname { value, .. } => value.clone(),
                    })
            })
        };
        match target {
            Some(t) => {
                let t = t.trim_end_matches('.').to_ascii_lowercase();
                Resolved {
                    addrs: vec![address(&t)],
                    names: vec![t],
                }
            }
            None => Resolved {
                names: Vec::new(),
                addrs: vec![address(&lower)],
            },
        }
    }
}

/// A stable, made-up address for a name.
fn address(name: &str) -> IpAddr {
    let h = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let [a, b, c, _] = h.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(10, a, b, c.max(1)))
}

impl RoutingControl for SimCloud {
    async fn get_routing_control_state(
        &self,
        endpoint: &ClusterEndpoint,
        arn: &str,
    ) -> CloudResult<bool> {
        let w = self
            .call(Op::GetRoutingControlState, &endpoint.region, arn)
            .await?;
        w.routing_controls
            .get(arn)
            .map(|c| c.on)
            .ok_or_else(|| CloudError::not_found(Op::GetRoutingControlState, arn))
    }

    async fn update_routing_control_states(
        &self,
        endpoint: &ClusterEndpoint,
        states: &[(String, bool)],
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::UpdateRoutingControlStates;
        let resource = states
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let mut w = self.call(op, &endpoint.region, &resource).await?;
        if let Some(rule) = w.closed_gating_rules.first() {
            let msg = format!(
                "the change violates safety rule {rule}: a gating rule whose gating controls are off (ConflictException)"
            );
            return Err(CloudError::new(ErrorKind::Fatal, op, resource, msg));
        }
        for (arn, _) in states {
            if !w.routing_controls.contains_key(arn) {
                return Err(CloudError::not_found(op, arn.clone()));
            }
        }
        // The built-in assertion rule: at least one control of each routed
        // record stays on (no fail-open).
        let after = |arn: &str| {
            states
                .iter()
                .find(|(a, _)| a == arn)
                .map(|(_, on)| *on)
                .unwrap_or_else(|| w.routing_controls[arn].on)
        };
        let dark = w
            .routed_records
            .iter()
            .find(|(_, r)| !after(&r.primary_control) && !after(&r.secondary_control));
        if let Some((name, _)) = dark {
            let msg = format!(
                "the change violates safety rule at-least-one-region-on: {name} would have no healthy region (ConflictException)"
            );
            return Err(CloudError::new(ErrorKind::Fatal, op, resource, msg));
        }
        let changes = states.iter().any(|(a, on)| w.routing_controls[a].on != *on);
        if !changes {
            return Ok(());
        }
        let span = w.latency.routing_control_effect;
        let pending = w.start(op, format!("arc:{resource}"), span);
        let resource = w.transitions[pending.transition].resource.clone();
        w.log_mutation(op, &resource, fence, self.caller.as_deref());
        let effective_at = pending.until.unwrap_or_else(Instant::now);
        let now = Instant::now();
        for (arn, on) in states {
            let c = w.routing_controls.get_mut(arn).expect("checked above");
            let before = c.effective(now);
            c.before = before;
            c.on = *on;
            c.effective_at = effective_at;
        }
        let t = pending.transition;
        w.transitions[t].completed = Some(effective_at);
        Ok(())
    }
}

impl Resolver for SimCloud {
    async fn resolve(&self, name: &str) -> CloudResult<Resolved> {
        drop(self.call(Op::Resolve, "global", name).await?);
        Ok(self.answer(name))
    }
}

impl ExposureSource for SimCloud {
    fn exposure<'a>(
        &'a self,
        policy: &'a Policy,
        tier: DataTier,
    ) -> BoxFuture<'a, CloudResult<Measurement>> {
        Box::pin(self.sim_exposure(&policy.regions.secondary, tier))
    }
}

impl SimCloud {
    /// The simulated replication lag of `tier`, read in `region`.
    pub(super) async fn sim_exposure(
        &self,
        region: &str,
        tier: DataTier,
    ) -> CloudResult<Measurement> {
        let w = self.call(Op::ReplicationLag, region, tier.name()).await?;
        if let Some(why) = w.still_creating(region, tier) {
            return Ok(Measurement::unknown(why));
        }
        let e = w.lag.get(&tier).copied().unwrap_or(Exposure::Unknown);
        // Once the other region's application stops writing, the replicas
        // here catch up: the lag runs down to zero.
        let quiesced = w
            .quiesced
            .iter()
            .filter(|(r, _)| r.as_str() != region)
            .map(|(_, since)| since.elapsed())
            .max();
        let e = match (e, quiesced) {
            (Exposure::Known(lag), Some(stopped)) => Exposure::Known(lag.saturating_sub(stopped)),
            (e, _) => e,
        };
        Ok(Measurement::new(e, "simulated replication lag"))
    }
}
