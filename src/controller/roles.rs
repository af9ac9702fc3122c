//! The working policy: each policy as the replicated roles read it.
//!
//! The policy file is written for the home direction. After a reprotect
//! the replicated state says the policy is read reversed; every node then
//! probes, heartbeats, judges and fails over with
//! `policy.with_cache_topology(names).oriented(orientation)`, so a loss of
//! the region active now is handled exactly as the first one was.

use std::sync::Arc;

use super::Context;
use crate::consensus::state::{PolicyState, RecordedNames};
use crate::model::Orientation;
use crate::policy::Policy;

/// `policy` as written, read in `orientation` with the names a reprotect
/// recorded.
pub fn orient(policy: &Policy, orientation: Orientation, names: &RecordedNames) -> Policy {
    policy.in_roles(orientation, names)
}

/// [`orient`], sharing the policy as written when the roles change nothing.
fn read_as(written: &Arc<Policy>, orientation: Orientation, names: &RecordedNames) -> Arc<Policy> {
    if orientation == Orientation::AsWritten && names.is_empty() {
        return written.clone();
    }
    Arc::new(orient(written, orientation, names))
}

/// The region `policy` (as its roles read it now) has failed over to,
/// when the replicated state `p` says traffic is away from its primary.
pub fn failed_over_to(p: Option<&PolicyState>, policy: &Policy) -> Option<String> {
    p.and_then(|p| p.active_region.clone())
        .filter(|r| *r != policy.regions.primary)
}

impl Context {
    /// The policy named `name` as it reads now (see the module
    /// documentation); `None` when the cluster does not own it.
    pub fn policy(&self, name: &str) -> Option<Arc<Policy>> {
        let written = self.policies.get(name)?;
        let (orientation, names) = self.roles(name);
        Some(read_as(written, orientation, &names))
    }

    /// Every policy the cluster owns, as it reads now.
    pub fn working_policies(&self) -> Vec<Arc<Policy>> {
        self.policies
            .keys()
            .filter_map(|name| self.policy(name))
            .collect()
    }

    /// How `name` is read now, and the names a reprotect recorded.
    pub fn roles(&self, name: &str) -> (Orientation, RecordedNames) {
        let a = self.applied.read().expect("state lock");
        a.state
            .policies
            .get(name)
            .map(|p| (p.orientation, p.names.clone()))
            .unwrap_or_default()
    }

    /// A copy of `name`'s replicated state (the default when nothing ran).
    pub fn policy_state(&self, name: &str) -> PolicyState {
        let a = self.applied.read().expect("state lock");
        a.state.policies.get(name).cloned().unwrap_or_default()
    }
}

impl Context {
    /// The policy of execution `e` as it read when `e` started: a leader
    /// resuming it reads it the same way, even after `e` switched roles.
    pub fn execution_policy(&self, e: &crate::consensus::Execution) -> Option<Arc<Policy>> {
        let written = self.policies.get(&e.record.policy)?;
        Some(read_as(written, e.orientation, &e.names))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};
    use std::path::Path;

    use super::*;
    use crate::detect::{self, Action, Observation, ProbeResult, Situation};
    use crate::model::Protection;

    fn written() -> Policy {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::policy::DEFAULT_POLICY);
        let mut p = crate::policy::load(&path).unwrap();
        p.mode = crate::policy::Mode::Automatic;
        p
    }

    /// Every site's rounds, one a second, all failing.
    fn down(policy: &Policy, now: u64) -> BTreeMap<String, VecDeque<Observation>> {
        let need = u64::from(policy.detection.consecutive_failures);
        ["us-east-1", "us-west-2", "us-east-2"]
            .iter()
            .map(|site| {
                let rounds = (0..need)
                    .map(|i| Observation {
                        policy: policy.name.clone(),
                        site: site.to_string(),
                        node: 1,
                        round: i + 1,
                        at_ms: now
                            - (need - 1 - i) * policy.detection.probe_interval.as_millis() as u64,
                        probes: vec![ProbeResult {
                            target: "http".into(),
                            ok: false,
                            inconclusive: false,
                            latency_ms: 1,
                            detail: Some("refused".into()),
                        }],
                        tiers: vec![],
                    })
                    .collect();
                (site.to_string(), rounds)
            })
            .collect()
    }

    fn action(policy: &Policy, state: &PolicyState) -> (Action, Option<String>) {
        let now = 10_000_000;
        let sites: Vec<String> = ["us-east-1", "us-east-2", "us-west-2"]
            .map(String::from)
            .into();
        let rounds = down(policy, now);
        let to = failed_over_to(Some(state), policy);
        let s = Situation {
            now_ms: now,
            sites: &sites,
            observations: Some(&rounds),
            maintenance: None,
            failed_over_to: to.clone(),
            running: None,
            unacknowledged: None,
            recommended_since_ms: None,
        };
        (detect::evaluate(policy, &s).action, to)
    }

    #[test]
    fn after_a_reprotect_a_loss_of_the_active_region_fails_over_back() {
        let written = written();
        // Failed over, unprotected: the policy as written sees its primary
        // gone elsewhere, and nothing starts.
        let after_failover = PolicyState {
            active_region: Some("us-west-2".into()),
            protection: Protection::Unprotected,
            ..PolicyState::default()
        };
        let (o, names) = (after_failover.orientation, &after_failover.names);
        let working = orient(&written, o, names);
        assert_eq!(
            action(&working, &after_failover),
            (Action::FailedOver, Some("us-west-2".into()))
        );
        // Reprotected: read reversed, us-west-2 is the protected primary,
        // and its confirmed loss is failed over to us-east-1.
        let reprotected = PolicyState {
            orientation: Orientation::Reversed,
            protection: Protection::Protected,
            ..after_failover
        };
        let working = orient(&written, reprotected.orientation, &reprotected.names);
        assert_eq!(
            (
                working.regions.primary.as_str(),
                working.regions.secondary.as_str()
            ),
            ("us-west-2", "us-east-1")
        );
        assert_eq!(action(&working, &reprotected), (Action::Failover, None));
        // The same state read as written would have started nothing.
        assert_eq!(action(&written, &reprotected).0, Action::FailedOver);
    }

    #[test]
    fn the_names_a_reprotect_recorded_are_read_into_the_policy() {
        let names = RecordedNames {
            global_datastore: Some("ldgnf-emr-platform-redis-r1".into()),
            cache_member: Some("emr-platform-redis-r1".into()),
            reprotects: 1,
        };
        let p = orient(&written(), Orientation::Reversed, &names);
        let cache = p.tiers.cache.as_ref().unwrap();
        assert_eq!(cache.global_datastore, "ldgnf-emr-platform-redis-r1");
        // Read reversed, the member made in the home region is the DR member.
        assert_eq!(cache.dr_member, "emr-platform-redis-r1");
    }
}
