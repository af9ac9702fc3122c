//! `POST /v1/reprotect` and `POST /v1/failback`: the way home, with the
//! same tokens and input rules as `POST /v1/failover`.
//!
//! Without `"confirm": true` either answers the plan the leader would run
//! now (a dry run: nothing is recorded or changed). With it, the leader
//! checks the policy's replicated roles (a reprotect applies after a
//! failover, a failback after a reprotect), records the execution and runs
//! it like a failover: journaled, fenced, resumed by a new leader.

// an early HTTP response is the natural error of a request check; handlers return it as is.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::actions::{accept_data_loss, authorized, pick_policy, submit};
use crate::consensus::state::roles::DivergenceShown;
use crate::consensus::NodeId;
use crate::controller::{Context, FailoverRequest};
use crate::model::ExecutionKind;
use crate::plan::Plan;

/// `POST /v1/reprotect` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReprotectBody {
    /// The policy (optional when the cluster owns one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Execute; without it the answer is the plan (a dry run).
    #[serde(default)]
    pub confirm: bool,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// `POST /v1/failback` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailbackBody {
    /// The policy (optional when the cluster owns one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Execute; without it the answer is the plan (a dry run).
    #[serde(default)]
    pub confirm: bool,
    /// Data loss accepted when the exposure is not provably zero, like
    /// "30s"; recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_data_loss: Option<String>,
    /// The failover whose divergence report was reviewed; required when
    /// that report is not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence_reviewed: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// A dry run's answer: the plan the leader would run now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanReply {
    /// Always true: nothing was recorded or changed.
    pub dry_run: bool,
    /// What the plan is for.
    pub kind: ExecutionKind,
    /// The plan, step by step, with its preflight problems and gate.
    pub plan: Plan,
    /// For a failback: the failover's divergence report, when not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<DivergenceShown>,
    /// The leader that built it.
    pub leader: NodeId,
}

/// The longest execution id `divergence_reviewed` accepts.
pub const ID_MAX_CHARS: usize = 128;

/// Whether `s` can be an execution id (the pattern of
/// `divergence_reviewed` in docs/openapi.yaml).
pub fn is_execution_id(s: &str) -> bool {
    (1..=ID_MAX_CHARS).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

/// What `POST /v1/reprotect` and `POST /v1/failback` answer on success:
/// the plan (a dry run, `200`), or the execution started (`202`) or
/// already complete (`200`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoleReply {
    /// A dry run's plan.
    Planned(Box<PlanReply>),
    /// The execution.
    Execution(super::messages::FailoverReply),
}

/// What both routes ask of the executor.
struct Asked {
    kind: ExecutionKind,
    policy: Option<String>,
    confirm: bool,
    accept_data_loss: Option<std::time::Duration>,
    divergence_reviewed: Option<String>,
    reason: Option<String>,
    operator: Option<String>,
}

async fn ask(ctx: Context, a: Asked, path: &str, headers: HeaderMap, body: Bytes) -> Response {
    let policy = match pick_policy(&ctx, a.policy.as_ref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let req = |reply| FailoverRequest {
        kind: a.kind,
        dry_run: !a.confirm,
        divergence_reviewed: a.divergence_reviewed,
        policy,
        accept_data_loss: a.accept_data_loss,
        accept_unknown: Vec::new(),
        operator: a.operator.unwrap_or_else(|| "api".into()),
        reason: a.reason,
        phases: None,
        reply,
    };
    submit(&ctx, req, path, &headers, body).await
}

pub(super) async fn reprotect(
    State(ctx): State<Context>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: ReprotectBody = match authorized(&ctx, &headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let asked = Asked {
        kind: ExecutionKind::Reprotect,
        policy: b.policy,
        confirm: b.confirm,
        accept_data_loss: None,
        divergence_reviewed: None,
        reason: b.reason,
        operator: b.operator,
    };
    ask(ctx, asked, "/v1/reprotect", headers, body).await
}

pub(super) async fn failback(
    State(ctx): State<Context>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: FailbackBody = match authorized(&ctx, &headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let accept = match accept_data_loss(b.accept_data_loss.as_deref()) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Some(id) = &b.divergence_reviewed {
        if !is_execution_id(id) {
            return super::error(
                axum::http::StatusCode::BAD_REQUEST,
                format!("divergence_reviewed: {id:?} is not an execution id (1 to {ID_MAX_CHARS} letters, digits and . _ : -)"),
            );
        }
    }
    let asked = Asked {
        kind: ExecutionKind::Failback,
        policy: b.policy,
        confirm: b.confirm,
        accept_data_loss: accept,
        divergence_reviewed: b.divergence_reviewed,
        reason: b.reason,
        operator: b.operator,
    };
    ask(ctx, asked, "/v1/failback", headers, body).await
}
