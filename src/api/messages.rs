//! The JSON answers of the routes whose shape is not a view of the state
//! (`views.rs` holds those): the actions' replies, the error object every
//! route answers with, the execution list and the liveness answer. The
//! server builds these shapes and the typed client ([`super::client`])
//! reads them.

use serde::{Deserialize, Serialize};

use super::views::ExecutionSummary;
use crate::consensus::{Maintenance, NodeId};

/// Any error answer: `{"error": "..."}`, with the execution concerned when
/// there is one (a `409` to a failover names the running execution).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong and what to do, as a sentence.
    #[serde(default)]
    pub error: String,
    /// The execution the error is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

/// `POST /v1/failover` answered `202` (started) or `200` (nothing to do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverReply {
    /// The execution started, or the one that already completed.
    pub execution_id: String,
    /// `running` or `already_complete`.
    pub status: String,
    /// The leader that took the request.
    pub leader: NodeId,
}

/// `POST /v1/acknowledge` answered `200`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcknowledgeReply {
    /// The policy.
    pub policy: String,
    /// The execution acknowledged.
    pub acknowledged: Option<String>,
}

/// `POST /v1/maintenance` answered `200`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaintenanceReply {
    /// The flag as now replicated.
    pub maintenance: Maintenance,
}

/// `POST /v1/unfence` answered `200`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfenceReply {
    /// The policy.
    pub policy: String,
    /// The node that lifted its fence.
    pub node: NodeId,
    /// What was given back, one sentence each.
    pub unfenced: Vec<String>,
}

/// `POST /v1/unfence` body; an unknown field is refused, as in the other
/// bodies.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnfenceBody {
    /// The policy (optional when the node has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Must be true.
    #[serde(default)]
    pub confirm: bool,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /v1/executions`: the executions kept, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionList {
    /// Each in brief.
    pub executions: Vec<ExecutionSummary>,
}

/// `GET /healthz`: the process is alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
}
