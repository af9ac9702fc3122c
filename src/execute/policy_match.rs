//! Whether a journaled step can run under this node's policy.
//!
//! Each site loads its policy from its own file, and nothing compares them:
//! a plan journaled by one leader may hold a step the next leader's policy
//! has no tier for (a stream switch where this site's policy has no stream
//! tier). Such a step fails with a sentence that says so, instead of
//! running on settings that are not there.

use crate::plan::{Action, Step};
use crate::policy::Policy;

/// Why `step` cannot run under `policy`, as a sentence naming the step and
/// the missing part; `None` when it can.
pub(super) fn mismatch(policy: &Policy, step: &Step) -> Option<String> {
    let tiers = &policy.tiers;
    let routing = |r: &Option<_>| r.is_some() && policy.routing_control.is_none();
    let missing = match &step.action {
        Action::Preflight
        | Action::RpoGate
        | Action::Verify
        | Action::PreflightReprotect
        | Action::PreflightFailback
        | Action::WaitReplication
        | Action::Drain { .. }
        | Action::SwitchRoles { .. } => None,
        Action::QuiesceWriters { .. } | Action::LiftQuiesce { .. } | Action::UndoQuiesce { .. } => {
            policy.fencing.is_none().then_some("fencing section")
        }
        Action::PromoteDatabase { .. }
        | Action::CreateReplicaDatabase { .. }
        | Action::RenameOldPrimary { .. } => tiers.database.is_none().then_some("database tier"),
        Action::AddCacheSecondary { .. } => tiers.cache.is_none().then_some("cache tier"),
        Action::CreateReverseReplicator { .. } => tiers.stream.is_none().then_some("stream tier"),
        Action::ScaleNodeGroup { .. } => tiers.node_groups.is_none().then_some("node_groups tier"),
        Action::FailoverCache { .. } => tiers.cache.is_none().then_some("cache tier"),
        Action::SwitchStream { routing: r, .. } => {
            if tiers.stream.is_none() {
                Some("stream tier")
            } else {
                routing(r).then_some("routing_control section")
            }
        }
        Action::FlipDns { routing: r, .. } => {
            if tiers.dns.is_none() {
                Some("dns tier")
            } else {
                routing(r).then_some("routing_control section")
            }
        }
    }?;
    Some(format!(
        "step {} was planned with a {missing} that policy {} on this node does not have: \
         the policies differ between sites; make every site's policy file the same, then start a new failover",
        step.id, policy.name
    ))
}
