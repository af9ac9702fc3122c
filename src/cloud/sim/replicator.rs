//! MSK Replicators in the simulated world: the policy's forward one,
//! seeded RUNNING, and the reverse one a reprotect creates, `CREATING`
//! until the latency model's span has passed.

use super::reprotect::{conflict, Created, SimReplicator, ACCOUNT, CREATING_REPLICATOR};
use super::world::key;
use super::SimCloud;
use crate::cloud::*;
use crate::model::{Fence, Op};

impl SimCloud {
    /// CreateReplicator in `region`, the target cluster's.
    pub(super) async fn sim_create_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        fence: &Fence,
    ) -> CloudResult<()> {
        let op = Op::CreateReplicator;
        let k = key(&[region, &want.name]);
        let mut w = self.call(op, region, &k).await?;
        if let Some(r) = w.replicators.get(&k) {
            if r.source == want.source_cluster_arn && r.target == want.target_cluster_arn {
                return Ok(());
            }
            let msg = format!(
                "replicator {} exists in {region} copying {} to {}, not {} to {} (ConflictException)",
                want.name, r.source, r.target, want.source_cluster_arn, want.target_cluster_arn
            );
            return Err(conflict(op, k, msg));
        }
        let bad = |msg: String| CloudError::new(ErrorKind::Fatal, op, k.clone(), msg);
        if want.service_execution_role_arn.is_empty() {
            return Err(bad(
                "ServiceExecutionRoleArn is empty (BadRequestException)".into(),
            ));
        }
        for (what, arn) in [
            ("source", &want.source_cluster_arn),
            ("target", &want.target_cluster_arn),
        ] {
            let Some(c) = w.streams.values().find(|c| &c.arn == arn) else {
                return Err(CloudError::not_found(op, format!("{what} cluster {arn}")));
            };
            if !c.is_active() {
                let msg = format!("{what} cluster {arn} is {}, not ACTIVE", c.state);
                return Err(conflict(op, k, msg));
            }
        }
        if !want
            .target_cluster_arn
            .starts_with(&format!("arn:aws:kafka:{region}:"))
        {
            return Err(bad(format!(
                "target cluster {} is not in {region}, where the replicator runs (BadRequestException)",
                want.target_cluster_arn
            )));
        }
        let span = w.latency.replicator_creation;
        let caller = self.caller.as_deref();
        w.create(
            op,
            format!("kafka:{k}"),
            span,
            Created::Replicator(k.clone()),
            fence,
            caller,
        );
        let replicator = SimReplicator {
            arn: format!(
                "arn:aws:kafka:{region}:{ACCOUNT}:replicator/{}/sim",
                want.name
            ),
            source: want.source_cluster_arn.clone(),
            target: want.target_cluster_arn.clone(),
            state: CREATING_REPLICATOR.into(),
        };
        w.replicators.insert(k, replicator);
        Ok(())
    }

    /// DescribeReplicator by name in `region`.
    pub(super) async fn sim_replicator(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<ReplicatorState>> {
        let k = key(&[region, name]);
        let w = self.call(Op::DescribeReplicator, region, &k).await?;
        Ok(w.replicators.get(&k).map(|r| ReplicatorState {
            name: name.to_string(),
            arn: r.arn.clone(),
            // A state set by hand (readiness scenarios) wins.
            state: w.readiness.replicators.get(&k).unwrap_or(&r.state).clone(),
            source_cluster_arn: r.source.clone(),
            target_cluster_arn: r.target.clone(),
        }))
    }
}

impl crate::cloud::Stream for SimCloud {
    async fn get_stream_cluster(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<StreamClusterState>> {
        let k = key(&[region, name]);
        let w = self.call(Op::ListClustersV2, region, &k).await?;
        Ok(w.streams.get(&k).cloned())
    }

    async fn get_replicator(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<ReplicatorState>> {
        self.sim_replicator(region, name).await
    }

    async fn ensure_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.sim_create_replicator(region, want, fence).await
    }
}
