//! The JSON shapes of the API, shared by the server and `drctl status`.

use serde::{Deserialize, Serialize};

use crate::consensus::{Execution, Maintenance, NodeId};
use crate::execute::{DataLossOverride, ExecutionStatus, StepRecord};
use crate::model::Epoch;
use crate::plan::RpoEvaluation;

/// `GET /v1/status`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    /// The node that answered.
    pub node: NodeView,
    /// The leader it follows, if any.
    pub leader: Option<MemberView>,
    /// Every voter.
    pub members: Vec<MemberView>,
    /// Raft progress as this node sees it.
    pub raft: RaftView,
    /// The maintenance flag.
    pub maintenance: Maintenance,
    /// Each policy the cluster owns.
    pub policies: Vec<PolicyView>,
}

/// The answering node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeView {
    /// Its id.
    pub id: NodeId,
    /// Its site.
    pub site: String,
    /// Whether it is the witness.
    pub witness: bool,
    /// Its address.
    pub addr: String,
    /// leader, follower, candidate, learner or shutdown.
    pub state: String,
    /// Its current term.
    pub term: u64,
}

/// One member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberView {
    /// Its id.
    pub id: NodeId,
    /// Its site.
    pub site: String,
    /// Its address.
    pub addr: String,
    /// Whether it is the witness.
    pub witness: bool,
    /// Whether it answered its health check just now.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// The last log index known replicated to it (on the leader only).
    #[serde(default)]
    pub matched_index: Option<u64>,
}

/// Raft progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RaftView {
    /// The current term.
    pub term: u64,
    /// The last log index.
    pub last_log_index: Option<u64>,
    /// The last index applied to the state machine.
    pub last_applied: Option<u64>,
    /// The index the latest snapshot covers.
    pub snapshot_index: Option<u64>,
}

/// One policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyView {
    /// Its name.
    pub name: String,
    /// The primary region.
    pub primary_region: String,
    /// The DR region.
    pub secondary_region: String,
    /// The region serving traffic, as far as the cluster knows.
    pub active_region: String,
    /// How the policy file is read now: `as_written`, or `reversed` once
    /// a reprotect made the DR region the protected primary.
    #[serde(default)]
    pub orientation: crate::model::Orientation,
    /// Where the active region's replicas are (the policy's roles now).
    #[serde(default)]
    pub standby_region: String,
    /// `protected`, `unprotected` or `reprotecting (n of m tiers)`.
    #[serde(default)]
    pub protection: String,
    /// Replication lag per data tier in milliseconds, `null` when it
    /// cannot be measured (the measurement behind `exposure`).
    #[serde(default)]
    pub lag_ms: std::collections::BTreeMap<crate::model::DataTier, Option<u64>>,
    /// Each site's newest probe round, as this node holds it.
    pub probes: Vec<SiteProbes>,
    /// Each data tier's measured exposure against the RPO.
    pub exposure: Vec<TierExposureView>,
    /// The detector's verdict and its reason.
    pub verdict: crate::detect::Verdict,
    /// The running execution, else the last one.
    pub execution: Option<ExecutionSummary>,
    /// This node fenced its region's writers (cut off from the majority):
    /// when, why and what. Lifted only by `drctl unfence --confirm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_fenced: Option<crate::controller::self_fence::SelfFenced>,
    /// After a failover: why the old primary still accepts writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_primary_writable: Option<String>,
    /// The leader's newest readiness evaluation (`None` until the first,
    /// one `readiness.interval` after a leader is elected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<crate::readiness::Readiness>,
}

/// One site's newest probe round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteProbes {
    /// The site.
    pub site: String,
    /// The node that probed.
    pub node: u64,
    /// Its round number.
    pub round: u64,
    /// When the round started (RFC 3339).
    pub at: String,
    /// Failed rounds in a row up to this one.
    pub consecutive_failures: u32,
    /// Each probe.
    pub results: Vec<crate::detect::ProbeResult>,
}

/// A data tier's exposure against the RPO.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TierExposureView {
    /// The tier.
    pub tier: crate::model::DataTier,
    /// The measured exposure in milliseconds; `null` when unknown.
    pub exposure_ms: Option<u64>,
    /// The policy's RPO in milliseconds.
    pub rpo_ms: u64,
    /// Whether a failover now would pass the RPO gate for this tier.
    pub within_rpo: bool,
    /// `heartbeat` (measured by drctl) or `cloud` (the provider's figure).
    pub source: String,
}

/// An execution in brief.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionSummary {
    /// Its id.
    pub id: String,
    /// Its policy.
    pub policy: String,
    /// Where it is.
    pub status: ExecutionStatus,
    /// When it started.
    pub started_at: String,
    /// Who asked.
    pub requested_by: String,
    /// Why.
    pub reason: Option<String>,
    /// How it ended, once it has.
    pub summary: Option<String>,
    /// Steps whose postcondition holds.
    pub steps_done: usize,
    /// Steps in the plan.
    pub steps_total: usize,
    /// The term of the leader that owns it.
    pub owner_term: u64,
    /// How many times a new leader resumed it.
    pub resumed: u32,
    /// How many times the leader owning it ran it again in the same term
    /// after its run there stopped.
    #[serde(default)]
    pub restarted: u32,
    /// Why its owner executes it from the region being left, when it does
    /// (the region being activated could not lead); `null` otherwise.
    #[serde(default)]
    pub placement: Option<String>,
}

/// `GET /v1/executions/{id}`: the whole journal of one execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionView {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    /// The region traffic leaves.
    pub from_region: String,
    /// The region traffic moves to.
    pub to_region: String,
    /// Every step with its timings, attempts and epoch.
    pub steps: Vec<StepRecord>,
    /// The RPO gate's evaluation.
    pub rpo: Option<RpoEvaluation>,
    /// Data-loss overrides used.
    pub overrides: Vec<DataLossOverride>,
    /// Fencing the old primary once its region answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_old_primary: Option<crate::execute::fence_return::FenceOldPrimary>,
    /// The replicas' positions the RPO gate recorded right before promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<crate::execute::fork::ForkPositions>,
    /// The plan as built when the execution started (`drctl report`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::plan::Plan>,
    /// Choices the executor made on its own (fallbacks), with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<crate::execute::Decision>,
    /// Whether the times are modeled or measured wall time.
    #[serde(default)]
    pub time_basis: crate::execute::TimeBasis,
    /// When the fault behind it was first seen and confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<crate::history::Phases>,
    /// The roles its `switch-roles` step committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<crate::model::SwitchedRoles>,
    /// The audit lines about this execution still kept, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<crate::consensus::state::AuditEntry>,
}

impl ExecutionSummary {
    /// The summary of a replicated execution.
    pub fn of(e: &Execution) -> Self {
        let r = &e.record;
        Self {
            id: r.id.clone(),
            policy: r.policy.clone(),
            status: r.status,
            started_at: r.started_at.clone(),
            requested_by: e.requested_by.clone(),
            reason: e.reason.clone(),
            summary: r.summary.clone(),
            steps_done: r.steps.iter().filter(|s| s.status.succeeded()).count(),
            steps_total: r.steps.len(),
            owner_term: e.owner_term,
            resumed: r.resumed,
            restarted: r.restarted,
            placement: e.placement.clone(),
        }
    }

    /// What interrupted it and who carried on, as a phrase
    /// (`resumed 1 time(s) by a new leader; restarted 2 time(s) by the
    /// same leader after its run stopped`); `None` when nothing did.
    pub fn interruptions(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.resumed > 0 {
            parts.push(format!("resumed {} time(s) by a new leader", self.resumed));
        }
        if self.restarted > 0 {
            parts.push(format!(
                "restarted {} time(s) by the same leader after its run stopped",
                self.restarted
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

impl ExecutionView {
    /// The full view of a replicated execution.
    pub fn of(e: &Execution) -> Self {
        Self {
            summary: ExecutionSummary::of(e),
            from_region: e.record.plan.from_region.clone(),
            to_region: e.record.plan.to_region.clone(),
            steps: e.record.steps.clone(),
            rpo: e.record.rpo.clone(),
            overrides: e.record.overrides.clone(),
            fence_old_primary: e.record.fence_old_primary.clone(),
            fork: e.record.fork.clone(),
            plan: Some(e.record.plan.clone()),
            decisions: e.record.decisions.clone(),
            time_basis: e.record.time_basis,
            phases: e.record.phases,
            roles: e.record.roles.clone(),
            audit: Vec::new(),
        }
    }

    /// The same view with the audit lines of `audit` that name it.
    pub fn with_audit<'a>(
        mut self,
        audit: impl IntoIterator<Item = &'a crate::consensus::state::AuditEntry>,
    ) -> Self {
        let id = self.summary.id.clone();
        self.audit = audit
            .into_iter()
            .filter(|a| names_execution(&a.what, &id))
            .cloned()
            .collect();
        self
    }

    /// The journal record this view shows (the plan empty when the
    /// controller did not send it).
    pub fn into_record(self) -> crate::execute::ExecutionRecord {
        let s = self.summary;
        let plan = self.plan.unwrap_or_else(|| crate::plan::Plan {
            kind: Default::default(),
            policy: s.policy.clone(),
            from_region: self.from_region,
            to_region: self.to_region,
            steps: Vec::new(),
            preflight_problems: Vec::new(),
            rpo: self
                .rpo
                .clone()
                .unwrap_or_else(|| crate::plan::RpoEvaluation {
                    rpo_ms: 0,
                    tiers: Vec::new(),
                    accept_data_loss_ms: None,
                    accept_unknown: Vec::new(),
                    verdict: crate::plan::RpoVerdict::Pass,
                    basis: Default::default(),
                }),
        });
        crate::execute::ExecutionRecord {
            id: s.id,
            policy: s.policy,
            started_at: s.started_at,
            status: s.status,
            plan,
            steps: self.steps,
            rpo: self.rpo,
            overrides: self.overrides,
            resumed: s.resumed,
            restarted: s.restarted,
            summary: s.summary,
            decisions: self.decisions,
            time_basis: self.time_basis,
            fence_old_primary: self.fence_old_primary,
            fork: self.fork,
            phases: self.phases,
            roles: self.roles,
            writer_restore: Default::default(),
        }
    }

    /// The highest epoch any step acted under.
    pub fn last_epoch(&self) -> Option<Epoch> {
        self.steps.iter().filter_map(|s| s.epoch).max()
    }
}

/// Whether an audit sentence is about execution `id` (and not about one
/// whose id merely starts the same).
fn names_execution(what: &str, id: &str) -> bool {
    let needle = format!("execution {id}");
    what.match_indices(&needle).any(|(at, _)| {
        what[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| matches!(c, ':' | ' ' | ',' | ';' | ')'))
    })
}

/// `POST /v1/failover` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverBody {
    /// The policy (optional when the cluster has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Must be true.
    #[serde(default)]
    pub confirm: bool,
    /// Data loss accepted above the RPO, like "20m"; covers known exposures only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_data_loss: Option<String>,
    /// Data tiers whose unknown exposure is accepted, unbounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_unknown_loss: Vec<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// `POST /v1/acknowledge` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    /// The policy (optional when the cluster owns one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// `POST /v1/maintenance` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceBody {
    /// On or off.
    pub on: bool,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_audit_line_names_an_execution_only_by_its_whole_id() {
        let id = "drill-p-seed1";
        assert!(super::names_execution(
            "execution drill-p-seed1 started",
            id
        ));
        assert!(super::names_execution(
            "execution drill-p-seed1: step x done",
            id
        ));
        assert!(super::names_execution(
            "node 2 took over execution drill-p-seed1 (term 1 → 2)",
            id
        ));
        assert!(super::names_execution("execution drill-p-seed1", id));
        assert!(!super::names_execution(
            "execution drill-p-seed12 started",
            id
        ));
        assert!(!super::names_execution("maintenance on", id));
    }
}
