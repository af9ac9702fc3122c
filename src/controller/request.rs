//! What an execution request is (a failover, a reprotect or a failback)
//! and how it was answered: the API and the detector ask the
//! [`Runner`](super::runner::Runner) through these.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::consensus::state::roles::DivergenceShown;
use crate::consensus::NodeId;
use crate::model::ExecutionKind;
use crate::plan::{Plan, RpoEvaluation};

/// An execution asked of this node: a failover (by the detector or an
/// operator), a reprotect or a failback (by an operator only).
#[derive(Debug)]
pub struct FailoverRequest {
    /// What to execute.
    pub kind: ExecutionKind,
    /// Only build and answer the plan ([`FailoverAnswer::Planned`]):
    /// nothing is recorded or changed.
    pub dry_run: bool,
    /// The failover whose divergence report the operator reviewed (a
    /// failback requires it when that report is not empty).
    pub divergence_reviewed: Option<String>,
    /// The policy's name.
    pub policy: String,
    /// Data loss accepted above the RPO.
    pub accept_data_loss: Option<Duration>,
    /// Tiers whose unknown exposure is accepted (unbounded).
    pub accept_unknown: Vec<crate::model::DataTier>,
    /// Who asked.
    pub operator: String,
    /// Why.
    pub reason: Option<String>,
    /// When the fault was first seen and confirmed, for a failover the
    /// detector starts (recorded with the execution).
    pub phases: Option<crate::history::Phases>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<FailoverAnswer>,
}

/// How a failover request was answered.
#[derive(Debug, Clone)]
pub enum FailoverAnswer {
    /// Started; the leader runs it.
    Accepted {
        /// The new execution.
        execution_id: String,
    },
    /// Everything already holds; recorded, nothing changed.
    AlreadyComplete {
        /// The recorded execution.
        execution_id: String,
    },
    /// Another execution of the policy is running.
    Conflict {
        /// The running execution.
        execution_id: String,
    },
    /// The RPO gate refused; recorded, nothing changed.
    Refused {
        /// The recorded execution.
        execution_id: String,
        /// The gate's evaluation.
        rpo: RpoEvaluation,
    },
    /// Preflight found problems; recorded, nothing changed.
    Preflight {
        /// The recorded execution.
        execution_id: String,
        /// What is wrong.
        problems: Vec<String>,
    },
    /// A dry run: the plan as it would run now; nothing recorded.
    Planned {
        /// The plan.
        plan: Box<Plan>,
        /// The divergence report of the failover a failback comes back
        /// from, when it is not empty.
        divergence: Option<DivergenceShown>,
    },
    /// The policy is not in a state this kind of execution applies to
    /// (a reprotect before any failover, a failback before a reprotect);
    /// nothing recorded.
    WrongState {
        /// Why, naming the state.
        message: String,
    },
    /// A failback whose failover left a divergence report that the
    /// request does not say was reviewed; nothing recorded.
    Unreviewed {
        /// The report.
        divergence: DivergenceShown,
    },
    /// This node is not the leader.
    NotLeader,
    /// This node was in the region being left and handed leadership to
    /// the region being activated: ask the new leader.
    HandedOff {
        /// The new leader.
        leader: NodeId,
    },
    /// The cluster cannot act now.
    Unavailable {
        /// Why.
        message: String,
    },
}

/// The answer's label in the `drctl_failover_requests` metric.
pub(super) fn answer_label(a: &FailoverAnswer) -> &'static str {
    match a {
        FailoverAnswer::Accepted { .. } => "accepted",
        FailoverAnswer::AlreadyComplete { .. } => "already_complete",
        FailoverAnswer::Conflict { .. } => "conflict",
        FailoverAnswer::Refused { .. } => "refused",
        FailoverAnswer::Preflight { .. } => "preflight_failed",
        FailoverAnswer::Planned { .. } => "planned",
        FailoverAnswer::WrongState { .. } => "wrong_state",
        FailoverAnswer::Unreviewed { .. } => "divergence_not_reviewed",
        FailoverAnswer::NotLeader => "not_leader",
        FailoverAnswer::HandedOff { .. } => "handed_off",
        FailoverAnswer::Unavailable { .. } => "unavailable",
    }
}
