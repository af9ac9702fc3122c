//! `POST /raft/observe`: a peer's probe round.
//!
//! The call must be signed by a member (see [`crate::consensus::auth`]),
//! and the round must be that member's own: its `site` the member's site
//! and its `node` the member's id, so no node (the read-only witness
//! included) can speak for another site. Rounds stamped further in the
//! future than the clock-skew bound would count as fresh forever, and
//! rounds of unknown policies or sites mean nothing here: all are refused.
//! Each refusal is logged and counted in `drctl_rounds_refused_total{reason}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::warn;

use crate::consensus::auth::Verifier;
use crate::consensus::NodeId;
use crate::controller::Context;
use crate::detect::Observation;

/// Why a round was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundRefusal {
    /// The call is not signed by a member.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// The body is not a round.
    #[error("not a probe round: {0}")]
    Malformed(String),
    /// No policy of that name on this node.
    #[error("unknown policy {0:?}")]
    UnknownPolicy(String),
    /// No member runs in that site.
    #[error("unknown site {0:?}")]
    UnknownSite(String),
    /// The round names another site or node than its sender's.
    #[error("node {sender} (site {sender_site}) sent a round as node {node} of site {site}")]
    WrongSite {
        /// The authenticated sender.
        sender: NodeId,
        /// Its site.
        sender_site: String,
        /// The node the round names.
        node: NodeId,
        /// The site the round names.
        site: String,
    },
    /// The round starts too far in the future.
    #[error("round stamped {ahead_ms} ms in the future (bound {skew_ms} ms)")]
    Future {
        /// How far ahead of this node's clock.
        ahead_ms: u64,
        /// The bound.
        skew_ms: u64,
    },
}

impl RoundRefusal {
    /// A bounded label for `drctl_rounds_refused_total{reason}`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Malformed(_) => "malformed",
            Self::UnknownPolicy(_) => "unknown_policy",
            Self::UnknownSite(_) => "unknown_site",
            Self::WrongSite { .. } => "wrong_site",
            Self::Future { .. } => "future",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::WrongSite { .. } => StatusCode::FORBIDDEN,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// Whether `o`, sent by the authenticated member `sender`, may be
/// recorded on the node of `ctx` at `now_ms`.
///
/// # Errors
///
/// Why it may not.
pub fn judge(
    ctx: &Context,
    sender: NodeId,
    o: &Observation,
    now_ms: u64,
    skew_ms: u64,
) -> Result<(), RoundRefusal> {
    if !ctx.policies.contains_key(&o.policy) {
        return Err(RoundRefusal::UnknownPolicy(o.policy.clone()));
    }
    if !ctx.members.values().any(|m| m.site == o.site) {
        return Err(RoundRefusal::UnknownSite(o.site.clone()));
    }
    let sender_site = ctx
        .members
        .get(&sender)
        .map(|m| m.site.clone())
        .unwrap_or_default();
    if o.site != sender_site || o.node != sender {
        return Err(RoundRefusal::WrongSite {
            sender,
            sender_site,
            node: o.node,
            site: o.site.clone(),
        });
    }
    if o.at_ms > now_ms.saturating_add(skew_ms) {
        return Err(RoundRefusal::Future {
            ahead_ms: o.at_ms - now_ms,
            skew_ms,
        });
    }
    Ok(())
}

/// The handler.
pub(super) async fn observe(
    State((ctx, verifier)): State<(Context, Arc<Verifier>)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = crate::clock::now_ms();
    let result = verifier
        .verify("POST", "/raft/observe", &headers, &body, now)
        .map_err(|e| RoundRefusal::Unauthenticated(e.to_string()))
        .and_then(|sender| {
            let o: Observation = serde_json::from_slice(&body)
                .map_err(|e| RoundRefusal::Malformed(e.to_string()))?;
            judge(&ctx, sender, &o, now, verifier.skew.as_millis() as u64).map(|()| o)
        });
    match result {
        Ok(o) => {
            ctx.record_observation(o);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => {
            warn!(reason = r.metric_label(), error = %r, "probe round refused");
            ctx.metrics.round_refused(r.metric_label());
            super::error(r.status(), format!("probe round refused: {r}"))
        }
    }
}
