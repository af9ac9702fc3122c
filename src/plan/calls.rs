//! What each step calls, and whether it depends on the region being left.
//!
//! Pure: from the policy and the step's action to the list of service,
//! region and plane it calls, and the reasons it would fail with the primary
//! region gone (with what to do instead). The dry run and the report print
//! both; the simulated cloud counts the calls it answers the same way.

use super::Action;
use crate::cloud::{CallSite, Plane};
use crate::policy::{Policy, TrafficSwitch, WhenPrimaryDown};

/// The runbook section that says what to do when a step needs Route 53's
/// control plane and it is down.
pub const RECORD_MODE_RUNBOOK: &str = "runbooks/failover.md, \"Route 53's control plane is down\"";

/// The calls `action` makes under `policy`, and why it would fail with the
/// primary region gone (empty when it would not).
pub fn of(policy: &Policy, action: &Action) -> (Vec<CallSite>, Vec<String>) {
    let to = policy.regions.secondary.as_str();
    let from = policy.regions.primary.as_str();
    let control = |service: &str| CallSite::new(service, to, Plane::Control);
    let mut calls = Vec::new();
    let mut notes = Vec::new();
    match action {
        Action::Preflight | Action::Verify => {
            let t = &policy.tiers;
            if t.database.is_some() {
                calls.push(control("rds"));
            }
            if t.node_groups.is_some() {
                calls.push(control("eks"));
            }
            if t.cache.is_some() {
                calls.push(control("elasticache"));
            }
            if let Some(s) = &t.stream {
                calls.push(control("kafka"));
                calls.extend(switch_calls(&s.switch));
            }
            if let Some(d) = &t.dns {
                calls.extend(switch_calls(&d.switch));
            }
        }
        Action::RpoGate => {
            calls.push(control("monitoring"));
            if policy.tiers.database.is_some() {
                calls.push(control("rds"));
            }
            if policy.tiers.cache.is_some() {
                calls.push(control("elasticache"));
            }
            if policy.tiers.stream.is_some() {
                calls.push(control("kafka"));
            }
        }
        Action::PromoteDatabase { .. } => calls.push(control("rds")),
        Action::ScaleNodeGroup { .. } => calls.push(control("eks")),
        Action::FailoverCache { .. } => {
            calls.push(control("elasticache"));
            let waits = policy
                .tiers
                .cache
                .as_ref()
                .is_some_and(|c| c.when_primary_region_down == WhenPrimaryDown::Wait);
            if waits {
                notes.push(format!(
                    "FailoverGlobalReplicationGroup needs {from} to take part, and \
                     tiers.cache.when_primary_region_down is wait: set it to disassociate \
                     so that the DR member serves on its own when {from} cannot answer"
                ));
            }
        }
        Action::SwitchStream { routing, .. } => {
            calls.push(control("kafka"));
            calls.extend(route_calls(routing.is_some()));
        }
        Action::FlipDns { routing, .. } => calls.extend(route_calls(routing.is_some())),
        // The way home needs both regions by design: no note.
        _ => return (way_home(policy, action), Vec::new()),
    }
    calls.sort();
    calls.dedup();
    for c in &calls {
        if let Some(why) = c.depends_on(from) {
            let instead = if c.service == "route53" {
                format!(
                    "switch traffic with ARC routing controls instead (mode: routing_control); \
                     by hand: {RECORD_MODE_RUNBOOK}"
                )
            } else {
                format!("call {} in {to} instead", c.service)
            };
            let note = format!("{why}: {instead}");
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    (calls, notes)
}

fn switch_calls(switch: &TrafficSwitch) -> Vec<CallSite> {
    route_calls(matches!(switch, TrafficSwitch::RoutingControl(_)))
}

fn route_calls(routing_control: bool) -> Vec<CallSite> {
    if routing_control {
        vec![
            CallSite::new("route53-recovery-cluster", "any", Plane::Data),
            CallSite::new("dns", "global", Plane::Data),
        ]
    } else {
        vec![CallSite::route53_control()]
    }
}

/// The calls of a reprotect's or a failback's own steps. Both regions
/// answer by design (a reprotect builds in the old primary region, a
/// failback is planned), so none is noted as depending on the region left.
fn way_home(policy: &Policy, action: &Action) -> Vec<CallSite> {
    let active = policy.regions.primary.as_str();
    let standby = policy.regions.secondary.as_str();
    let t = &policy.tiers;
    let both = |service: &str| {
        [active, standby]
            .map(|r| CallSite::new(service, r, Plane::Control))
            .to_vec()
    };
    let mut calls = Vec::new();
    match action {
        Action::PreflightReprotect | Action::PreflightFailback | Action::WaitReplication => {
            if t.database.is_some() {
                calls.extend(both("rds"));
            }
            if t.cache.is_some() {
                calls.extend(both("elasticache"));
            }
            if t.stream.is_some() {
                calls.extend(both("kafka"));
            }
            if matches!(action, Action::WaitReplication) {
                calls.push(CallSite::new("monitoring", standby, Plane::Control));
            } else if t.node_groups.is_some() {
                calls.push(CallSite::new("eks", standby, Plane::Control));
            }
        }
        Action::CreateReplicaDatabase {
            region,
            source_region,
            ..
        } => {
            calls.push(CallSite::new("rds", region, Plane::Control));
            calls.push(CallSite::new("rds", source_region, Plane::Control));
        }
        Action::AddCacheSecondary {
            region,
            active_region,
            ..
        } => {
            calls.push(CallSite::new("elasticache", region, Plane::Control));
            calls.push(CallSite::new("elasticache", active_region, Plane::Control));
        }
        Action::CreateReverseReplicator {
            region,
            source_region,
            ..
        } => {
            calls.push(CallSite::new("kafka", region, Plane::Control));
            calls.push(CallSite::new("kafka", source_region, Plane::Control));
        }
        Action::QuiesceWriters { region }
        | Action::LiftQuiesce { region }
        | Action::UndoQuiesce { region } => {
            calls.push(CallSite::new("writers", region, Plane::Data));
        }
        Action::Drain { .. } => {
            calls.push(CallSite::new("heartbeat", active, Plane::Data));
            calls.push(CallSite::new("heartbeat", standby, Plane::Data));
        }
        Action::RenameOldPrimary { region, .. } => {
            calls.push(CallSite::new("rds", region, Plane::Control));
        }
        Action::SwitchRoles { .. } => {}
        Action::Preflight
        | Action::RpoGate
        | Action::Verify
        | Action::PromoteDatabase { .. }
        | Action::ScaleNodeGroup { .. }
        | Action::FailoverCache { .. }
        | Action::SwitchStream { .. }
        | Action::FlipDns { .. } => {}
    }
    calls.sort();
    calls.dedup();
    calls
}
