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
use crate::policy::{CacheTopology, Policy};

/// `policy` as written, read in `orientation` with the names a reprotect
/// recorded.
pub fn orient(policy: &Policy, orientation: Orientation, names: &RecordedNames) -> Policy {
    let topology = CacheTopology {
        global_datastore: names.global_datastore.clone(),
        home_member: names.cache_member.clone(),
    };
    policy.with_cache_topology(&topology).oriented(orientation)
}

impl Context {
    /// The policy named `name` as it reads now (see the module
    /// documentation); `None` when the cluster does not own it.
    pub fn policy(&self, name: &str) -> Option<Arc<Policy>> {
        let written = self.policies.get(name)?;
        let (orientation, names) = self.roles(name);
        if orientation == Orientation::AsWritten && names.is_empty() {
            return Some(written.clone());
        }
        Some(Arc::new(orient(written, orientation, &names)))
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
        if e.orientation == Orientation::AsWritten && e.names.is_empty() {
            return Some(written.clone());
        }
        Some(Arc::new(orient(written, e.orientation, &e.names)))
    }
}
