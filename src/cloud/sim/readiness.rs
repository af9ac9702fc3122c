//! The simulated cloud's capacity figures and IAM simulator, with switches
//! that turn each readiness check to fail: a lower vCPU quota, more vCPUs
//! in use, a node group's maximum lowered, an action denied.

use std::collections::{BTreeMap, BTreeSet};

use super::remote::SimCall;
use super::{world, SimCloud};
use crate::cloud::{Capacity, CloudResult, Permissions, Simulated};
use crate::model::Op;

/// The simulated vCPU quota of every region unless set: AWS's default for
/// a new account is lower, a production account's is usually this order.
pub const DEFAULT_VCPU_QUOTA: f64 = 640.0;
/// The simulated vCPUs in use in every region unless set.
pub const DEFAULT_VCPUS_IN_USE: f64 = 96.0;
/// The vCPUs of one simulated node (an `m5.xlarge`).
pub const DEFAULT_NODE_VCPUS: u32 = 4;
/// The principal the simulated cloud calls as.
pub const SIM_PRINCIPAL: &str = "arn:aws:iam::123456789012:role/drctl-executor";

/// Capacity and permission state of the simulated world.
#[derive(Debug, Default)]
pub(super) struct SimReadiness {
    quota: BTreeMap<String, f64>,
    in_use: BTreeMap<String, f64>,
    denied: BTreeSet<String>,
    /// Principal (other than [`SIM_PRINCIPAL`]) → the actions it is
    /// allowed; every other action is denied to it.
    pub(super) grants: BTreeMap<String, BTreeSet<String>>,
    /// Target group ARN → its targets' health.
    pub(super) targets: BTreeMap<String, crate::cloud::TargetHealth>,
    /// `region/replicator` → its state.
    pub(super) replicators: BTreeMap<String, String>,
}

impl SimCloud {
    /// Sets the vCPU quota of `region`.
    pub fn set_vcpu_quota(&self, region: &str, vcpus: f64) {
        self.world()
            .readiness
            .quota
            .insert(region.to_string(), vcpus);
    }

    /// Sets the vCPUs in use in `region`.
    pub fn set_vcpus_in_use(&self, region: &str, vcpus: f64) {
        self.world()
            .readiness
            .in_use
            .insert(region.to_string(), vcpus);
    }

    /// Makes IAM's simulator deny `action` (like `rds:PromoteReadReplica`)
    /// to the simulated principal.
    pub fn deny_action(&self, action: &str) {
        self.world().readiness.denied.insert(action.to_string());
    }

    /// Makes IAM's simulator allow `action` to `principal` (another role
    /// than the one the simulated cloud calls as, such as the witness's,
    /// to which nothing is allowed until granted).
    pub fn grant_action(&self, principal: &str, action: &str) {
        let mut w = self.world();
        let grants = w.readiness.grants.entry(principal.to_string()).or_default();
        grants.insert(action.to_string());
    }

    /// Sets a node group's scaling as the world holds it (no call counted),
    /// as if someone had changed it outside the failover.
    ///
    /// # Errors
    ///
    /// When no such node group exists.
    pub fn set_node_group_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        scaling: crate::cloud::Scaling,
    ) -> Result<(), String> {
        let mut w = self.world();
        let group = w
            .node_groups
            .get_mut(&world::key(&[region, cluster, name]))
            .ok_or_else(|| format!("no simulated node group {region}/{cluster}/{name}"))?;
        group.scaling = scaling;
        Ok(())
    }
}

impl Capacity for SimCloud {
    async fn get_vcpu_quota(&self, region: &str) -> CloudResult<Option<f64>> {
        let w = self.call(Op::GetServiceQuota, region, region).await?;
        Ok(Some(
            w.readiness
                .quota
                .get(region)
                .copied()
                .unwrap_or(DEFAULT_VCPU_QUOTA),
        ))
    }

    async fn get_vcpus_in_use(&self, region: &str) -> CloudResult<Option<f64>> {
        let w = self.call(Op::GetMetricData, region, region).await?;
        Ok(Some(
            w.readiness
                .in_use
                .get(region)
                .copied()
                .unwrap_or(DEFAULT_VCPUS_IN_USE),
        ))
    }

    async fn get_node_vcpus(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<u32>> {
        let resource = world::key(&[region, cluster, name]);
        let w = self.call(Op::DescribeNodegroup, region, &resource).await?;
        Ok(w.node_groups
            .contains_key(&resource)
            .then_some(DEFAULT_NODE_VCPUS))
    }
}

impl Permissions for SimCloud {
    async fn simulate_actions(&self, actions: &[String]) -> CloudResult<Simulated> {
        let w = self
            .call(
                Op::SimulatePrincipalPolicy,
                crate::cloud::ROUTE53_CONTROL_REGION,
                SIM_PRINCIPAL,
            )
            .await?;
        let denied = actions
            .iter()
            .filter(|a| w.readiness.denied.contains(*a))
            .map(|a| (a.clone(), "implicitDeny".to_string()))
            .collect();
        Ok(Simulated {
            principal: SIM_PRINCIPAL.to_string(),
            denied,
        })
    }

    async fn simulate_actions_for(
        &self,
        principal: &str,
        actions: &[String],
    ) -> CloudResult<Simulated> {
        if principal == SIM_PRINCIPAL {
            return self.simulate_actions(actions).await;
        }
        let w = self
            .call(
                Op::SimulatePrincipalPolicy,
                crate::cloud::ROUTE53_CONTROL_REGION,
                principal,
            )
            .await?;
        let granted = w.readiness.grants.get(principal);
        let denied = actions
            .iter()
            .filter(|a| !granted.is_some_and(|g| g.contains(*a)))
            .map(|a| (a.clone(), "implicitDeny".to_string()))
            .collect();
        Ok(Simulated {
            principal: principal.to_string(),
            denied,
        })
    }
}

impl Capacity for super::remote::RemoteSim {
    async fn get_vcpu_quota(&self, region: &str) -> CloudResult<Option<f64>> {
        let region = region.to_string();
        self.call(SimCall::GetVcpuQuota { region }).await
    }

    async fn get_vcpus_in_use(&self, region: &str) -> CloudResult<Option<f64>> {
        let region = region.to_string();
        self.call(SimCall::GetVcpusInUse { region }).await
    }

    async fn get_node_vcpus(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<u32>> {
        self.call(SimCall::GetNodeVcpus {
            region: region.to_string(),
            cluster: cluster.to_string(),
            name: name.to_string(),
        })
        .await
    }
}

impl Permissions for super::remote::RemoteSim {
    async fn simulate_actions(&self, actions: &[String]) -> CloudResult<Simulated> {
        let actions = actions.to_vec();
        self.call(SimCall::SimulateActions { actions }).await
    }

    async fn simulate_actions_for(
        &self,
        principal: &str,
        actions: &[String],
    ) -> CloudResult<Simulated> {
        let principal = principal.to_string();
        let actions = actions.to_vec();
        self.call(SimCall::SimulateActionsFor { principal, actions })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::cloud::DrHealth;

    fn sim() -> SimCloud {
        let policy = crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY))
            .expect("the shipped policy is valid");
        SimCloud::new(&policy, SimOptions::default()).expect("no faults")
    }

    #[tokio::test(start_paused = true)]
    async fn quota_and_usage_follow_their_switches() {
        let sim = sim();
        assert_eq!(
            sim.get_vcpu_quota("us-west-2").await.unwrap(),
            Some(DEFAULT_VCPU_QUOTA)
        );
        sim.set_vcpu_quota("us-west-2", 16.0);
        sim.set_vcpus_in_use("us-west-2", 8.0);
        assert_eq!(sim.get_vcpu_quota("us-west-2").await.unwrap(), Some(16.0));
        assert_eq!(sim.get_vcpus_in_use("us-west-2").await.unwrap(), Some(8.0));
        let vcpus = sim.get_node_vcpus("us-west-2", "emr-integration-dr", "app-nodes");
        assert_eq!(vcpus.await.unwrap(), Some(DEFAULT_NODE_VCPUS));
        let absent = sim.get_node_vcpus("us-west-2", "emr-integration-dr", "nope");
        assert_eq!(absent.await.unwrap(), None);
        assert!(sim.mutations().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_denied_action_is_reported_and_the_others_are_not() {
        let sim = sim();
        sim.deny_action("rds:PromoteReadReplica");
        let actions = vec![
            "rds:PromoteReadReplica".to_string(),
            "eks:DescribeNodegroup".to_string(),
        ];
        let s = sim.simulate_actions(&actions).await.unwrap();
        assert_eq!(s.principal, SIM_PRINCIPAL);
        assert_eq!(
            s.denied,
            vec![("rds:PromoteReadReplica".into(), "implicitDeny".into())]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn another_principal_may_call_only_what_it_was_granted() {
        let sim = sim();
        let witness = "arn:aws:iam::123456789012:role/drctl-witness";
        let actions = vec![
            "rds:PromoteReadReplica".to_string(),
            "eks:UpdateNodegroupConfig".to_string(),
        ];
        let s = sim.simulate_actions_for(witness, &actions).await.unwrap();
        assert_eq!((s.principal.as_str(), s.denied.len()), (witness, 2));
        sim.grant_action(witness, "rds:PromoteReadReplica");
        let s = sim.simulate_actions_for(witness, &actions).await.unwrap();
        assert_eq!(
            s.denied,
            vec![("eks:UpdateNodegroupConfig".into(), "implicitDeny".into())]
        );
        // The executing role is not affected by another's grants.
        let own = sim.simulate_actions_for(SIM_PRINCIPAL, &actions).await;
        assert!(own.unwrap().denied.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_remote_simulator_answers_the_readiness_reads_of_the_served_world() {
        let world = sim();
        world.set_vcpu_quota("us-west-2", 48.0);
        world.deny_action("eks:UpdateNodegroupConfig");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = world.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, crate::cloud::sim::remote::router(served)).await
        });
        let remote = crate::cloud::sim::remote::RemoteSim::new(&url);
        assert_eq!(
            remote.get_vcpu_quota("us-west-2").await.unwrap(),
            Some(48.0)
        );
        assert_eq!(
            remote.get_vcpus_in_use("us-west-2").await.unwrap(),
            Some(DEFAULT_VCPUS_IN_USE)
        );
        let vcpus = remote.get_node_vcpus("us-west-2", "emr-integration-dr", "app-nodes");
        assert_eq!(vcpus.await.unwrap(), Some(DEFAULT_NODE_VCPUS));
        let actions = vec!["eks:UpdateNodegroupConfig".to_string()];
        let s = remote.simulate_actions(&actions).await.unwrap();
        assert_eq!(s.denied.len(), 1, "{s:?}");
        let witness = "arn:aws:iam::123456789012:role/drctl-witness";
        world.grant_action(witness, "eks:UpdateNodegroupConfig");
        let s = remote.simulate_actions_for(witness, &actions).await;
        assert!(s.unwrap().denied.is_empty());
        let tg = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/emr-platform-dr/0123456789abcdef";
        let health = remote.get_target_health("us-west-2", tg);
        assert_eq!(health.await.unwrap().map(|h| h.healthy), Some(3));
        let state = remote.get_replicator_state("us-west-2", "emr-platform-kafka-replicator");
        assert_eq!(state.await.unwrap().as_deref(), Some("RUNNING"));
        assert!(world.mutations().is_empty());
        server.abort();
    }
}
