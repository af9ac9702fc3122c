//! The simulated world's state and its clock-driven transitions.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rand::rngs::SmallRng;
use serde::Serialize;
use tokio::time::Instant;

use super::faults::{Fault, FaultKind};
use super::latency::{LatencyModel, Span};
use crate::cloud::{
    CacheMember, ErrorKind, MemberRole, Record, RecordTarget, RecordType, Scaling,
    StreamClusterState,
};
use crate::model::DataTier;
use crate::model::Exposure;
use crate::model::Op;
use crate::policy::Policy;

mod build;

/// One state transition: a mutation accepted at `started` that settles at
/// `completed` (`None` while it has not, or never will).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The resource, named as `Action::resource` names it.
    pub resource: String,
    /// The operation that started it.
    pub op: String,
    /// When the call was accepted.
    #[serde(skip)]
    pub started: Instant,
    /// When the resource reached its new state.
    #[serde(skip)]
    pub completed: Option<Instant>,
}

/// A fault with its remaining budget.
#[derive(Debug)]
pub(super) struct ActiveFault {
    fault: Fault,
    left: Option<u32>,
}

impl ActiveFault {
    pub(super) fn new(fault: Fault) -> Self {
        Self {
            left: fault.times,
            fault,
        }
    }

    fn hits(&self, op: Op, resource: &str) -> bool {
        self.fault.op == op.as_str()
            && self.left != Some(0)
            && self
                .fault
                .resource
                .as_deref()
                .is_none_or(|r| resource.contains(r))
    }
}

/// Something in flight: it settles at `until` (never when `None`).
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub until: Option<Instant>,
    pub transition: usize,
}

#[derive(Debug)]
pub(super) struct SimDatabase {
    pub status: String,
    pub replica_source: Option<String>,
    pub pending: Option<Pending>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub(super) struct SimNodeGroup {
    pub scaling: Scaling,
    pub status: String,
    pub pending: Option<Pending>,
}

#[derive(Debug)]
pub(super) struct SimDatastore {
    pub status: String,
    pub members: Vec<CacheMember>,
    pub pending: Option<Pending>,
    /// The member becoming primary while `pending`.
    pub promoting: Option<String>,
}

/// A replication group of a Global Datastore member, in its own region.
#[derive(Debug)]
pub(super) struct SimReplicationGroup {
    pub status: String,
    /// The Global Datastore it belongs to (`None` once disassociated).
    pub global: Option<String>,
    pub pending: Option<Pending>,
}

/// One routing control: its state, and when DNS answers follow it.
#[derive(Debug, Clone)]
pub(super) struct SimRoutingControl {
    pub on: bool,
    /// DNS answers follow `on` from this instant; before it, `before`.
    pub effective_at: Instant,
    pub before: bool,
}

impl SimRoutingControl {
    /// The state DNS answers follow at `now`.
    pub fn effective(&self, now: Instant) -> bool {
        if now >= self.effective_at {
            self.on
        } else {
            self.before
        }
    }
}

/// A pre-created failover record pair whose health checks follow routing
/// controls: DNS answers with the primary target while its control is on,
/// else with the secondary's while that one is on, else (everything
/// unhealthy) with the primary's, as Route 53 does.
#[derive(Debug, Clone)]
pub(super) struct RoutedRecord {
    pub primary_target: String,
    pub secondary_target: String,
    pub primary_control: String,
    pub secondary_control: String,
}

/// A resource that reports a status and refuses an operation until a time.
#[derive(Debug, Clone)]
pub(super) struct Busy {
    pub resource: Option<String>,
    pub status: String,
    pub until: Instant,
}

#[derive(Debug)]
pub(super) struct World {
    pub rng: SmallRng,
    pub latency: LatencyModel,
    pub faults: Vec<ActiveFault>,
    pub lag: BTreeMap<DataTier, Exposure>,
    pub databases: BTreeMap<String, SimDatabase>,
    pub node_groups: BTreeMap<String, SimNodeGroup>,
    /// zone name → (record name, type) → record.
    pub zones: BTreeMap<String, BTreeMap<(String, RecordType), Record>>,
    /// Route 53 change id → the propagation still in flight (`None` once INSYNC).
    pub changes: BTreeMap<String, Option<Pending>>,
    pub datastores: BTreeMap<String, SimDatastore>,
    pub streams: BTreeMap<String, StreamClusterState>,
    pub mutations: BTreeMap<String, u32>,
    /// Every accepted mutation, in order, with who made it.
    pub mutation_log: Vec<MutationRecord>,
    /// Every mutating call that reached the cloud and was refused because
    /// its resource was busy (a replica backing up), stamped when the call
    /// was sent.
    pub refused_log: Vec<MutationRecord>,
    /// `region/tier` whose application writers are fenced.
    pub fenced_writers: std::collections::BTreeSet<String>,
    /// Region → since when its application writes have been stopped (some
    /// of its writers fenced): the replicas of its data catch up from then.
    pub quiesced: BTreeMap<String, Instant>,
    pub calls: BTreeMap<String, u32>,
    pub transitions: Vec<Transition>,
    route53_window: VecDeque<Instant>,
    /// What the sites cannot reach.
    pub outage: super::reach::Outage,
    /// The policy's primary and secondary regions.
    pub primary_region: String,
    pub replication_groups: BTreeMap<String, SimReplicationGroup>,
    pub routing_controls: BTreeMap<String, SimRoutingControl>,
    /// Record name (lower case) → its failover pair.
    pub routed_records: BTreeMap<String, RoutedRecord>,
    /// Gating safety rules that are closed: every routing-control update is refused.
    pub closed_gating_rules: Vec<String>,
    pub busy: Vec<Busy>,
    /// Calls per service, region and plane.
    pub call_sites: BTreeMap<crate::cloud::CallSite, u32>,
    /// Capacity figures and denied actions (readiness checks).
    pub readiness: super::readiness::SimReadiness,
    /// MSK Replicators by `region/name`.
    pub replicators: BTreeMap<String, super::reprotect::SimReplicator>,
    /// Resources being created (a reprotect's replicas), until they settle.
    pub creations: Vec<super::reprotect::Creation>,
}

/// The key of a regional resource.
pub(super) fn key(parts: &[&str]) -> String {
    parts.join("/")
}

impl World {
    pub(super) fn put_record(&mut self, zone: &str, record: Record) {
        let k = (record.name.to_ascii_lowercase(), record.rtype());
        self.zones
            .entry(zone.to_string())
            .or_default()
            .insert(k, record);
    }

    pub(super) fn api_latency(&mut self) -> Duration {
        let span = self.latency.api_call;
        span.sample(&mut self.rng)
    }

    pub(super) fn count_call(&mut self, op: Op, region: &str) {
        *self.calls.entry(op.to_string()).or_default() += 1;
        let site = super::faults::call_site(op, region);
        *self.call_sites.entry(site).or_default() += 1;
    }

    /// Switches `fault` on from `now`: a busy fault makes its resource
    /// report its status, and refuse the operation, from now on for its
    /// length.
    pub(super) fn add_fault(&mut self, fault: Fault, now: Instant) {
        if fault.fault == FaultKind::Busy {
            let until = now + fault.stuck_for().expect("validated when switched on");
            self.busy.push(Busy {
                resource: fault.resource.clone(),
                status: fault.status.clone().unwrap_or_default(),
                until,
            });
        }
        self.faults.push(ActiveFault::new(fault));
    }

    /// The status a busy resource reports now, if any.
    pub(super) fn busy_status(&self, resource: &str, now: Instant) -> Option<String> {
        self.busy
            .iter()
            .find(|b| now < b.until && b.resource.as_deref().is_none_or(|r| resource.contains(r)))
            .map(|b| b.status.clone())
    }

    /// Admits a Route 53 call under the per-second limit.
    pub(super) fn route53_admit(&mut self, now: Instant) -> bool {
        while self
            .route53_window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.route53_window.pop_front();
        }
        if self.route53_window.len() >= super::ROUTE53_CALLS_PER_SECOND_MAX {
            return false;
        }
        self.route53_window.push_back(now);
        true
    }

    /// Consumes one hit of a `fail` or `throttle` fault on this call.
    pub(super) fn take_failure(&mut self, op: Op, resource: &str) -> Option<ErrorKind> {
        let f = self.faults.iter_mut().find(|f| {
            matches!(f.fault.fault, FaultKind::Fail | FaultKind::Throttle) && f.hits(op, resource)
        })?;
        if let Some(left) = &mut f.left {
            *left -= 1;
        }
        Some(match f.fault.fault {
            FaultKind::Throttle => ErrorKind::Throttled,
            _ => f.fault.error.unwrap_or(ErrorKind::Retryable),
        })
    }

    /// Notes that the call `op` on `resource` under `fence`, from a site in `caller`,
    /// changed something.
    pub(super) fn log_mutation(
        &mut self,
        op: Op,
        resource: &str,
        fence: &crate::model::Fence,
        caller: Option<&str>,
    ) {
        let record = MutationRecord::new(Instant::now(), op, resource, fence, caller);
        self.mutation_log.push(record);
    }

    /// Notes that the call `op` on `resource` under `fence`, sent at `sent`
    /// from a site in `caller`, was refused because the resource was busy.
    pub(super) fn log_refused(
        &mut self,
        sent: Instant,
        op: Op,
        resource: &str,
        fence: &crate::model::Fence,
        caller: Option<&str>,
    ) {
        let record = MutationRecord::new(sent, op, resource, fence, caller);
        self.refused_log.push(record);
    }

    /// Starts a transition for an accepted mutation and returns when it
    /// settles, applying `stuck` and `never_converges` faults.
    pub(super) fn start(&mut self, op: Op, resource: String, span: Span) -> Pending {
        let now = Instant::now();
        *self.mutations.entry(op.to_string()).or_default() += 1;
        let mut until = Some(now + span.sample(&mut self.rng));
        for f in self.faults.iter().filter(|f| f.hits(op, &resource)) {
            match f.fault.fault {
                FaultKind::NeverConverges => until = None,
                FaultKind::Stuck => {
                    let extra = f.fault.stuck_for().expect("validated when injected");
                    until = until.map(|u| u + extra);
                }
                FaultKind::Fail | FaultKind::Throttle | FaultKind::Busy => {}
            }
        }
        self.transitions.push(Transition {
            resource,
            op: op.to_string(),
            started: now,
            completed: None,
        });
        Pending {
            until,
            transition: self.transitions.len() - 1,
        }
    }

    /// Applies every transition due by `now`.
    pub(super) fn settle(&mut self, now: Instant) {
        let mut done = Vec::new();
        let mut due = |p: &Option<Pending>| match p {
            Some(Pending {
                until: Some(u),
                transition,
            }) if *u <= now => {
                done.push((*transition, *u));
                true
            }
            _ => false,
        };
        for db in self.databases.values_mut() {
            if due(&db.pending) {
                db.pending = None;
                db.status = "available".into();
                db.replica_source = None;
            }
        }
        for ng in self.node_groups.values_mut() {
            if due(&ng.pending) {
                ng.pending = None;
                ng.status = "ACTIVE".into();
            }
        }
        for rg in self.replication_groups.values_mut() {
            if due(&rg.pending) {
                rg.pending = None;
                rg.status = "available".into();
            }
        }
        for gds in self.datastores.values_mut() {
            if due(&gds.pending) {
                let new_primary = gds.promoting.take();
                for m in &mut gds.members {
                    m.role = if Some(&m.replication_group_id) == new_primary.as_ref() {
                        MemberRole::Primary
                    } else {
                        MemberRole::Secondary
                    };
                }
                gds.status = "available".into();
                gds.pending = None;
            }
        }
        for change in self.changes.values_mut() {
            if due(change) {
                *change = None;
            }
        }
        for (i, at) in done {
            self.transitions[i].completed = Some(at);
        }
        self.settle_creations(now);
    }

    /// Removes a resource by its `Action::resource` name.
    pub(super) fn remove(&mut self, resource: &str) -> bool {
        let Some((service, rest)) = resource.split_once(':') else {
            return false;
        };
        match service {
            "rds" => self.databases.remove(rest).is_some(),
            "eks" => self.node_groups.remove(rest).is_some(),
            "elasticache" => {
                self.datastores.remove(rest).is_some()
                    || self.replication_groups.remove(rest).is_some()
            }
            "kafka" => self.streams.remove(rest).is_some(),
            "route53" => {
                let Some((zone, name)) = rest.split_once('/') else {
                    return false;
                };
                self.zones.get_mut(zone).is_some_and(|z| {
                    let before = z.len();
                    z.retain(|(n, _), _| n != &name.to_ascii_lowercase());
                    z.len() != before
                })
            }
            _ => false,
        }
    }
}

/// One mutating call the simulated cloud accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutationRecord {
    /// When (tokio's clock).
    pub at: Instant,
    /// The operation (`rds:PromoteReadReplica`).
    pub op: String,
    /// The resource it changed.
    pub resource: String,
    /// The execution it belongs to.
    pub execution: String,
    /// The epoch it acted under.
    pub epoch: crate::model::Epoch,
    /// The region of the site that called (`None`: no site named).
    pub caller: Option<String>,
}

impl MutationRecord {
    /// The call `op` on `resource` under `fence` at `at`, from a site in
    /// `caller`.
    fn new(
        at: Instant,
        op: Op,
        resource: &str,
        fence: &crate::model::Fence,
        caller: Option<&str>,
    ) -> Self {
        Self {
            at,
            op: op.to_string(),
            resource: resource.to_string(),
            execution: fence.execution_id.clone(),
            epoch: fence.epoch,
            caller: caller.map(str::to_string),
        }
    }
}
