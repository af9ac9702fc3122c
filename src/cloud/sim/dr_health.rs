//! The simulated DR load balancer's targets and MSK Replicator: seeded
//! from the policy (every target group it names, of either load
//! balancer, has three healthy
//! targets, its replicator is `RUNNING`), with switches that turn the
//! dr-resources check to warn or fail.

use super::remote::SimCall;
use super::{world, SimCloud};
use crate::cloud::{CloudResult, DrHealth, TargetHealth};
use crate::model::Op;
use crate::policy::Policy;

/// The healthy targets of each simulated target group unless set.
pub const DEFAULT_HEALTHY_TARGETS: u32 = 3;

/// The state of a replicator that replicates.
const RUNNING: &str = "RUNNING";

impl super::readiness::SimReadiness {
    /// The readiness state of a world built from `policy`.
    pub(super) fn seeded(policy: &Policy) -> Self {
        let mut r = Self::default();
        if let Some(d) = &policy.tiers.dns {
            let primary = d.primary_target_groups.iter().flatten();
            for arn in d.dr_target_groups.iter().chain(primary) {
                let healthy = TargetHealth {
                    healthy: DEFAULT_HEALTHY_TARGETS,
                    ..TargetHealth::default()
                };
                r.targets.insert(arn.clone(), healthy);
            }
        }
        if let Some(name) = policy
            .tiers
            .stream
            .as_ref()
            .and_then(|s| s.replicator.as_ref())
        {
            let k = world::key(&[&policy.regions.secondary, name]);
            r.replicators.insert(k, RUNNING.to_string());
        }
        r
    }
}

impl SimCloud {
    /// Sets the health of target group `arn`'s targets (creating it).
    pub fn set_target_health(&self, arn: &str, health: TargetHealth) {
        let mut w = self.world();
        w.readiness.targets.insert(arn.to_string(), health);
    }

    /// Sets the state of MSK Replicator `name` in `region` (creating it):
    /// `FAILED`, `UPDATING`, ... or `RUNNING`.
    pub fn set_replicator_state(&self, region: &str, name: &str, state: &str) {
        let k = world::key(&[region, name]);
        self.world()
            .readiness
            .replicators
            .insert(k, state.to_string());
    }
}

impl DrHealth for SimCloud {
    async fn get_target_health(
        &self,
        region: &str,
        arn: &str,
    ) -> CloudResult<Option<TargetHealth>> {
        let w = self.call(Op::DescribeTargetHealth, region, arn).await?;
        // A target group lives in the region its ARN names.
        let here = arn.split(':').nth(3) == Some(region);
        Ok(w.readiness.targets.get(arn).copied().filter(|_| here))
    }

    async fn get_replicator_state(&self, region: &str, name: &str) -> CloudResult<Option<String>> {
        let k = world::key(&[region, name]);
        let w = self.call(Op::DescribeReplicator, region, &k).await?;
        // A state set by hand wins over the replicator's own.
        Ok(w.readiness
            .replicators
            .get(&k)
            .cloned()
            .or_else(|| w.replicators.get(&k).map(|r| r.state.clone())))
    }
}

impl DrHealth for super::remote::RemoteSim {
    async fn get_target_health(
        &self,
        region: &str,
        arn: &str,
    ) -> CloudResult<Option<TargetHealth>> {
        let (region, arn) = (region.to_string(), arn.to_string());
        self.call(SimCall::GetTargetHealth { region, arn }).await
    }

    async fn get_replicator_state(&self, region: &str, name: &str) -> CloudResult<Option<String>> {
        let (region, name) = (region.to_string(), name.to_string());
        self.call(SimCall::GetReplicatorState { region, name })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::SimOptions;

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/emr-platform-dr/0123456789abcdef";

    fn sim() -> SimCloud {
        let policy = crate::policy::load(std::path::Path::new(crate::policy::DEFAULT_POLICY))
            .expect("the shipped policy is valid");
        SimCloud::new(&policy, SimOptions::default()).expect("no faults")
    }

    #[tokio::test(start_paused = true)]
    async fn the_policy_s_target_groups_start_healthy_and_follow_their_switch() {
        let sim = sim();
        let h = sim.get_target_health("us-west-2", TG).await.unwrap();
        assert_eq!(h.map(|h| (h.healthy, h.total())), Some((3, 3)));
        let sick = TargetHealth {
            healthy: 1,
            unhealthy: 2,
            ..TargetHealth::default()
        };
        sim.set_target_health(TG, sick);
        assert_eq!(
            sim.get_target_health("us-west-2", TG).await.unwrap(),
            Some(sick)
        );
        assert_eq!(sim.get_target_health("us-east-1", TG).await.unwrap(), None);
        assert!(sim.mutations().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_policy_s_replicator_runs_until_set_otherwise() {
        let sim = sim();
        let name = "emr-platform-kafka-replicator";
        let state = sim.get_replicator_state("us-west-2", name).await.unwrap();
        assert_eq!(state.as_deref(), Some(RUNNING));
        sim.set_replicator_state("us-west-2", name, "FAILED");
        let state = sim.get_replicator_state("us-west-2", name).await.unwrap();
        assert_eq!(state.as_deref(), Some("FAILED"));
        assert_eq!(
            sim.get_replicator_state("us-west-2", "nope").await.unwrap(),
            None
        );
    }
}
