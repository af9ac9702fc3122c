//! What a failover request is and how it was answered: the API and the
//! detector ask the [`Runner`](super::runner::Runner) through these.

use std::time::Duration;

use tokio::sync::oneshot;

use crate::consensus::NodeId;
use crate::plan::RpoEvaluation;

/// A failover asked of this node.
#[derive(Debug)]
pub struct FailoverRequest {
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
        FailoverAnswer::NotLeader => "not_leader",
        FailoverAnswer::HandedOff { .. } => "handed_off",
        FailoverAnswer::Unavailable { .. } => "unavailable",
    }
}
