//! `GET /v1/history`: the replicated run summaries of a policy, the same
//! figures `drctl history` and the controller's predicted RTO rest on.
//! Read-only and unauthenticated like the other `GET` routes; every node
//! answers from its applied state.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error;
use super::input::ListQuery;
use crate::controller::Context;
use crate::history::{RunSummary, HISTORY_KEPT};

/// The answer: a policy's newest runs, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    /// The policy.
    pub policy: String,
    /// How many runs the cluster keeps for it (before `limit`).
    pub kept: usize,
    /// The newest `limit` runs, oldest first.
    pub runs: Vec<RunSummary>,
}

pub(super) async fn history(State(ctx): State<Context>, RawQuery(raw): RawQuery) -> Response {
    let q = match ListQuery::parse(raw.as_deref(), ctx.policies.keys()) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let limit = q.limit.min(HISTORY_KEPT);
    let policy = match q.policy {
        Some(p) => p,
        None if ctx.policies.len() == 1 => ctx.policies.keys().next().cloned().unwrap_or_default(),
        None => {
            let names: Vec<&str> = ctx.policies.keys().map(String::as_str).collect();
            return error(
                StatusCode::BAD_REQUEST,
                format!("policy: name one of {}", names.join(", ")),
            );
        }
    };
    let a = ctx.applied.read().expect("state lock");
    let kept = a.state.runs.get(&policy);
    let all: Vec<&RunSummary> = kept.into_iter().flatten().collect();
    let runs = all[all.len().saturating_sub(limit)..]
        .iter()
        .map(|r| (*r).clone())
        .collect();
    Json(HistoryView {
        policy,
        kept: all.len(),
        runs,
    })
    .into_response()
}
