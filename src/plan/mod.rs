//! The failover plan: a pure function from (policy, observed state) to a DAG.
//!
//! Nothing here does I/O. [`build`] takes the policy and what was observed
//! of the cloud ([`Observed`], gathered by `execute::observe`) and returns the
//! exact [`Plan`]: which steps, which depend on which, which are already done,
//! what preflight found and what the RPO gate says. Tests assert the whole
//! plan for both shipped policies.
//!
//! The DAG's shape: `preflight` → `rpo-gate` → every tier step in parallel
//! (`promote-database`, one `scale-node-group:<name>` per group,
//! `failover-cache`, `switch-stream`) → `flip-dns` once everything traffic
//! needs is ready → `verify`. Node groups do not wait for the database; the
//! public record moves only when the database, cache, stream and capacity
//! are in place.

mod calls;
pub mod failback;
mod preflight;
pub mod reprotect;
pub mod rpo;
mod step;

pub use crate::model::ExecutionKind;
pub use calls::RECORD_MODE_RUNBOOK;
pub use preflight::preflight;
pub use rpo::{Acceptance, ExposureBasis, RpoEvaluation, RpoVerdict, TierExposure};
pub use step::{Action, Step, StepKind};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cloud::{
    DatabaseState, GlobalDatastoreState, MemberRole, NodeGroupState, Record, RecordTarget,
    ReplicationGroupState, StreamClusterState,
};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::policy::{Policy, StreamTier, TrafficSwitch, WhenPrimaryDown};

/// What was seen of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "seen", content = "value")]
pub enum Seen<T> {
    /// It exists, in this state.
    Present(T),
    /// It does not exist.
    Absent,
    /// It could not be read; the message says why.
    Unreadable(String),
}

impl<T> Seen<T> {
    /// The state, when present.
    pub fn present(&self) -> Option<&T> {
        match self {
            Self::Present(t) => Some(t),
            _ => None,
        }
    }
}

/// The observed state of every resource the policy names (DR side only:
/// during a real failover the primary region may not answer at all).
/// A field is `None` when the policy has no such tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The read replica.
    pub database: Option<Seen<DatabaseState>>,
    /// Each DR node group, by name.
    pub node_groups: BTreeMap<String, Seen<NodeGroupState>>,
    /// The Global Datastore.
    pub cache: Option<Seen<GlobalDatastoreState>>,
    /// The DR member's replication group, read in the DR region.
    #[serde(default)]
    pub cache_member: Option<Seen<ReplicationGroupState>>,
    /// The DR MSK cluster.
    pub stream_cluster: Option<Seen<StreamClusterState>>,
    /// The stream clients' record (record mode, through Route 53's API).
    pub stream_record: Option<Seen<Record>>,
    /// The stream clients' switch (routing-control mode, data plane).
    #[serde(default)]
    pub stream_routing: Option<Seen<RoutingView>>,
    /// The public record (record mode, through Route 53's API).
    pub dns_record: Option<Seen<Record>>,
    /// The public switch (routing-control mode, data plane).
    #[serde(default)]
    pub dns_routing: Option<Seen<RoutingView>>,
    /// Each data tier's exposure.
    pub exposures: BTreeMap<DataTier, Exposure>,
    /// Where each tier's exposure figure comes from.
    #[serde(default)]
    pub exposure_sources: BTreeMap<DataTier, String>,
    /// Whether the application's writers in the DR region are fenced (a
    /// failback quiesced them there when it left); `None` when the policy
    /// has no fencing section or this was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_writers_fenced: Option<Seen<bool>>,
}

/// A traffic switch in routing-control mode, as the data plane shows it:
/// the routing controls' states and what DNS answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingView {
    /// Whether the primary region's routing control is on.
    pub primary_on: bool,
    /// Whether the secondary region's routing control is on.
    pub secondary_on: bool,
    /// Whether the record resolves to the secondary region's target.
    pub answers_secondary: bool,
    /// What the record resolved to, for people.
    pub answer: String,
}

impl RoutingView {
    /// Whether traffic is on the secondary region: its control on, the
    /// primary's off, and DNS answering with the secondary's target.
    pub fn switched(&self) -> bool {
        self.secondary_on && !self.primary_on && self.answers_secondary
    }
}

/// A plan: a failover, a reprotect or a failback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// What the plan does (plans journaled before there were three kinds
    /// read as failovers).
    #[serde(default)]
    pub kind: ExecutionKind,
    /// The policy's name.
    pub policy: String,
    /// The region traffic leaves.
    pub from_region: String,
    /// The region traffic moves to.
    pub to_region: String,
    /// The steps, in an order where every step comes after its dependencies.
    pub steps: Vec<Step>,
    /// What preflight found wrong; the plan cannot run while this is not empty.
    pub preflight_problems: Vec<String>,
    /// The RPO gate's evaluation on the observed exposures.
    pub rpo: RpoEvaluation,
}

impl Plan {
    /// Whether every mutating step's postcondition already holds: the
    /// failover has already happened and executing it changes nothing.
    pub fn is_complete(&self) -> bool {
        self.steps
            .iter()
            .filter(|s| s.kind.mutates())
            .all(|s| s.already_done)
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// The public record as it must be after the failover: an alias to the DR
/// load balancer.
pub fn dns_target(policy: &Policy) -> Option<(String, Record)> {
    let dns = policy.tiers.dns.as_ref()?;
    let record = Record {
        name: dns.record.clone(),
        target: RecordTarget::Alias {
            dns_name: dns.secondary.dns_name.clone(),
            hosted_zone_id: dns.secondary.hosted_zone_id.clone(),
        },
    };
    Some((dns.zone.clone(), record))
}

/// The stream clients' record as it must be after the failover: a CNAME to
/// the first of the DR cluster's bootstrap brokers (a bootstrap address only
/// needs one reachable broker; clients learn the rest from it).
pub fn stream_target(tier: &StreamTier, dr: &StreamClusterState) -> Option<Record> {
    let host = dr.bootstrap_hosts.first()?;
    Some(Record {
        name: tier.client_record.name.clone(),
        target: RecordTarget::Cname {
            value: host.clone(),
            ttl: tier.client_record.ttl,
        },
    })
}

/// Whether the stream clients' record already points at the DR cluster.
fn stream_switched(tier: &StreamTier, observed: &Observed) -> bool {
    if let TrafficSwitch::RoutingControl(_) = tier.switch {
        return observed
            .stream_routing
            .as_ref()
            .and_then(Seen::present)
            .is_some_and(RoutingView::switched);
    }
    let dr = observed.stream_cluster.as_ref().and_then(Seen::present);
    let want = dr.and_then(|c| stream_target(tier, c));
    let have = observed.stream_record.as_ref().and_then(Seen::present);
    matches!((want, have), (Some(w), Some(h)) if w.points_like(h))
}

/// Whether the DR cache member already serves writes: the Global
/// Datastore's primary, or standalone after a disassociation.
pub fn cache_serves_writes(observed: &Observed, dr_member: &str) -> bool {
    let member = observed.cache_member.as_ref().and_then(Seen::present);
    if let Some(m) = member {
        return m.serves_writes();
    }
    observed
        .cache
        .as_ref()
        .and_then(Seen::present)
        .is_some_and(|g| g.has_primary(dr_member))
}

/// Builds the plan. Pure: the same inputs always give the same plan.
pub fn build(policy: &Policy, observed: &Observed, accept: Acceptance) -> Plan {
    let to = policy.regions.secondary.clone();
    let tiers = &policy.tiers;
    let mut steps = Vec::new();
    let mut push = |id: String, kind, after: Vec<String>, action, summary: String, done| {
        let (calls, depends_on_primary) = calls::of(policy, &action);
        steps.push(Step {
            id,
            kind,
            after,
            action,
            summary,
            already_done: done,
            calls,
            depends_on_primary,
        });
    };
    let gate = vec![StepKind::RpoGate.name().to_string()];
    push(
        "preflight".into(),
        StepKind::Preflight,
        vec![],
        Action::Preflight,
        format!("check that every DR resource in {to} exists and is healthy"),
        false,
    );
    push(
        "rpo-gate".into(),
        StepKind::RpoGate,
        vec!["preflight".into()],
        Action::RpoGate,
        format!(
            "check each data tier's exposure against the RPO of {}",
            crate::duration::fmt(policy.rpo)
        ),
        false,
    );
    let mut before_flip = Vec::new();
    if let Some(db) = &tiers.database {
        let done = observed
            .database
            .as_ref()
            .and_then(Seen::present)
            .is_some_and(DatabaseState::is_promoted);
        push(
            "promote-database".into(),
            StepKind::PromoteDatabase,
            gate.clone(),
            Action::PromoteDatabase {
                region: to.clone(),
                replica: db.replica.clone(),
            },
            format!(
                "promote RDS read replica {} in {to} to a standalone primary",
                db.replica
            ),
            done,
        );
        if db.required_for_traffic {
            before_flip.push("promote-database".to_string());
        }
    }
    if let Some(ng) = &tiers.node_groups {
        for g in &ng.groups {
            let id = format!("scale-node-group:{}", g.name);
            let done = observed
                .node_groups
                .get(&g.name)
                .and_then(Seen::present)
                .is_some_and(|s| s.is_at(g.scaling));
            push(
                id.clone(),
                StepKind::ScaleNodeGroup,
                gate.clone(),
                Action::ScaleNodeGroup {
                    region: to.clone(),
                    cluster: ng.cluster.clone(),
                    name: g.name.clone(),
                    scaling: g.scaling,
                },
                format!(
                    "scale node group {} of EKS cluster {} to {}",
                    g.name, ng.cluster, g.scaling
                ),
                done,
            );
            before_flip.push(id);
        }
    }
    if let Some(c) = &tiers.cache {
        let done = cache_serves_writes(observed, &c.dr_member);
        let fallback = match c.when_primary_region_down {
            WhenPrimaryDown::Disassociate => format!(
                "; if {} cannot take part within {}, disassociate {} to serve as a standalone primary",
                policy.regions.primary,
                crate::duration::fmt(c.failover_timeout),
                c.dr_member
            ),
            WhenPrimaryDown::Wait => String::new(),
        };
        push(
            "failover-cache".into(),
            StepKind::FailoverCache,
            gate.clone(),
            Action::FailoverCache {
                global_datastore: c.global_datastore.clone(),
                region: to.clone(),
                member: c.dr_member.clone(),
            },
            format!(
                "fail Global Datastore {} over to {} in {to}{fallback}",
                c.global_datastore, c.dr_member
            ),
            done,
        );
        if c.required_for_traffic {
            before_flip.push("failover-cache".to_string());
        }
    }
    if let Some(s) = &tiers.stream {
        let done = stream_switched(s, observed);
        let (routing, summary) = match &s.switch {
            TrafficSwitch::Record => (
                None,
                format!(
                    "check MSK cluster {} is ACTIVE, then point {} at its bootstrap brokers",
                    s.dr_cluster, s.client_record.name
                ),
            ),
            TrafficSwitch::RoutingControl(pair) => (
                Some(pair.clone()),
                format!(
                    "check MSK cluster {} is ACTIVE, then turn the stream's routing controls to {to} \
                     (ARC data plane) and wait until {} answers with its bootstrap brokers",
                    s.dr_cluster, s.client_record.name
                ),
            ),
        };
        push(
            "switch-stream".into(),
            StepKind::SwitchStream,
            gate.clone(),
            Action::SwitchStream {
                region: to.clone(),
                cluster: s.dr_cluster.clone(),
                zone: s.client_record.zone.clone(),
                name: s.client_record.name.clone(),
                ttl: s.client_record.ttl,
                routing,
            },
            summary,
            done,
        );
        if s.required_for_traffic {
            before_flip.push("switch-stream".to_string());
        }
    }
    let mut last = before_flip.clone();
    if let (Some((zone, record)), Some(d)) = (dns_target(policy), &tiers.dns) {
        let routing = match &d.switch {
            TrafficSwitch::Record => None,
            TrafficSwitch::RoutingControl(pair) => Some(pair.clone()),
        };
        let done = match routing {
            None => observed
                .dns_record
                .as_ref()
                .and_then(Seen::present)
                .is_some_and(|r| r.points_like(&record)),
            Some(_) => observed
                .dns_routing
                .as_ref()
                .and_then(Seen::present)
                .is_some_and(RoutingView::switched),
        };
        let after = if before_flip.is_empty() {
            gate.clone()
        } else {
            before_flip
        };
        let target = match &record.target {
            RecordTarget::Alias { dns_name, .. } => dns_name.clone(),
            RecordTarget::Cname { value, .. } => value.clone(),
        };
        let summary = match routing {
            None => format!("flip {} to {target} and wait for INSYNC", record.name),
            Some(_) => format!(
                "turn routing control {to} on and {} off (ARC data plane), then wait until {} answers with {target}",
                policy.regions.primary, record.name
            ),
        };
        push(
            "flip-dns".into(),
            StepKind::FlipDns,
            after,
            Action::FlipDns {
                zone,
                record,
                routing,
                ttl: d.ttl,
            },
            summary,
            done,
        );
        last = vec!["flip-dns".into()];
    }
    if last.is_empty() {
        last = gate.clone();
    }
    // A failback left the writers of the region it left quiesced: once
    // that region's data tiers take the writes again, they are given back.
    if observed.target_writers_fenced == Some(Seen::Present(true)) {
        let took: Vec<String> = [
            ("promote-database", tiers.database.is_some()),
            ("failover-cache", tiers.cache.is_some()),
        ]
        .into_iter()
        .filter(|(_, has)| *has)
        .map(|(id, _)| id.to_string())
        .collect();
        push(
            "lift-quiesce".into(),
            StepKind::LiftQuiesce,
            if took.is_empty() { gate.clone() } else { took },
            Action::LiftQuiesce { region: to.clone() },
            format!("give the application its writes back in {to}: a failback quiesced them there"),
            false,
        );
    }
    push(
        "verify".into(),
        StepKind::Verify,
        last,
        Action::Verify,
        format!("re-check every postcondition with traffic on {to}"),
        false,
    );
    // Verify re-checks every postcondition, so it waits for every step that
    // changes something, not only those traffic waits for: a cache that is
    // not required for traffic may still be failing over (up to its
    // failover_timeout) when the flip is done.
    let before_verify = {
        let after: std::collections::BTreeMap<&str, &Vec<String>> =
            steps.iter().map(|s| (s.id.as_str(), &s.after)).collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut todo: Vec<&str> = steps
            .last()
            .map(|v| v.after.iter().map(String::as_str).collect())
            .unwrap_or_default();
        while let Some(id) = todo.pop() {
            if seen.insert(id.to_string()) {
                todo.extend(
                    after
                        .get(id)
                        .into_iter()
                        .flat_map(|a| a.iter().map(String::as_str)),
                );
            }
        }
        seen
    };
    let missing: Vec<String> = steps
        .iter()
        .filter(|s| s.kind.mutates() && !before_verify.contains(&s.id))
        .map(|s| s.id.clone())
        .collect();
    if let Some(verify) = steps.last_mut() {
        verify.after.extend(missing);
    }
    let rpo = rpo::evaluate(policy.rpo, tier_exposures(policy, observed), &accept);
    Plan {
        kind: ExecutionKind::Failover,
        policy: policy.name.clone(),
        from_region: policy.regions.primary.clone(),
        to_region: to,
        preflight_problems: preflight(policy, observed),
        steps,
        rpo,
    }
}

/// The exposure of each data tier the policy protects, marking tiers whose
/// failover has already happened.
pub fn tier_exposures(policy: &Policy, observed: &Observed) -> Vec<TierExposure> {
    let tiers = &policy.tiers;
    let exposure = |t| {
        observed
            .exposures
            .get(&t)
            .copied()
            .unwrap_or(Exposure::Unknown)
    };
    let source = |t| observed.exposure_sources.get(&t).cloned();
    let mut out = Vec::new();
    if tiers.database.is_some() {
        let done = observed
            .database
            .as_ref()
            .and_then(Seen::present)
            .is_some_and(|d| d.replica_source.is_none());
        out.push(TierExposure {
            tier: DataTier::Database,
            exposure: exposure(DataTier::Database),
            already_failed_over: done,
            source: source(DataTier::Database),
        });
    }
    if let Some(c) = &tiers.cache {
        let standalone_or_primary = observed
            .cache_member
            .as_ref()
            .and_then(Seen::present)
            .is_some_and(|m| {
                m.global_datastore.is_none() || m.global_role == Some(MemberRole::Primary)
            });
        let done = standalone_or_primary
            || observed
                .cache
                .as_ref()
                .and_then(Seen::present)
                .and_then(|g| g.member(&c.dr_member))
                .is_some_and(|m| m.role == MemberRole::Primary);
        out.push(TierExposure {
            tier: DataTier::Cache,
            exposure: exposure(DataTier::Cache),
            already_failed_over: done,
            source: source(DataTier::Cache),
        });
    }
    if let Some(s) = &tiers.stream {
        let done = stream_switched(s, observed);
        out.push(TierExposure {
            tier: DataTier::Stream,
            exposure: exposure(DataTier::Stream),
            already_failed_over: done,
            source: source(DataTier::Stream),
        });
    }
    out
}

#[cfg(test)]
mod tests;
