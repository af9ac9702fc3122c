//! Authenticated routes: failover and maintenance, forwarded to the leader
//! when they land on a follower. A failover asked of a leader in the region
//! the policy leaves is forwarded to the leader it hands leadership to (see
//! `controller/placement.rs`), so the answer comes from the node that
//! decides and executes it.

// an early HTTP response is the natural error of a request check; handlers return it as is.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openraft::ServerState;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use super::messages::UnfenceBody;
use super::views::{AcknowledgeBody, FailoverBody, MaintenanceBody};
use super::{error, error_with};
use crate::consensus::transport::Call;
use crate::consensus::{Command, Reply};
use crate::controller::{Context, FailoverAnswer, FailoverRequest};

/// Set on a request forwarded by a follower, so it is never forwarded twice.
pub const FORWARDED_HEADER: &str = "x-drctl-forwarded-by";

/// How long a forwarded request or a failover decision may take.
const DECISION_TIMEOUT: Duration = Duration::from_secs(60);

/// Checks the bearer token in constant time.
fn authorize(ctx: &Context, headers: &HeaderMap) -> Result<(), Response> {
    let Some(value) = headers.get("authorization") else {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "missing bearer token: send Authorization: Bearer <token> (the api.token_file of the cluster, or DRCTL_API_TOKEN)",
        );
        r.headers_mut()
            .insert("www-authenticate", "Bearer".parse().expect("valid header"));
        return Err(r);
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim();
    if bool::from(given.as_bytes().ct_eq(ctx.token.as_bytes())) {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "the bearer token is not valid for this cluster",
        ))
    }
}

pub(super) fn is_leader(ctx: &Context) -> bool {
    ctx.raft.metrics().borrow().state == ServerState::Leader
}

/// Sends the request on to the leader and relays its answer.
async fn forward(ctx: &Context, path: &str, headers: &HeaderMap, body: Bytes) -> Response {
    if headers.contains_key(FORWARDED_HEADER) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "forwarded to a node that is not the leader (leadership is changing): retry in a few seconds",
        );
    }
    forward_again(ctx, path, headers, body).await
}

/// Sends the request on to the leader, even when it was forwarded here:
/// for a node that handed leadership on because of it (the new leader runs
/// in the region being activated, so it never hands the same request back).
async fn forward_again(ctx: &Context, path: &str, headers: &HeaderMap, body: Bytes) -> Response {
    let Some((id, leader)) = ctx.leader().filter(|(id, _)| *id != ctx.id) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no leader: this node cannot reach a majority of the sites; retry, or ask another site's controller",
        );
    };
    if !ctx.links.up(ctx.id, id) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "leader node {id} at {} is unreachable from here",
                leader.addr
            ),
        );
    }
    let mut call = Call::post(&leader.addr, path, body, DECISION_TIMEOUT)
        .header(FORWARDED_HEADER, ctx.id.to_string());
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        call = call.header("authorization", auth);
    }
    match ctx.transport.send(ctx.id, call).await {
        Ok(resp) => {
            let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [("content-type", "application/json")], resp.body).into_response()
        }
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("leader node {id} at {} did not answer: {e}", leader.addr),
        ),
    }
}

/// The request's body, once its token and content type have been checked
/// and its fields passed [`super::input::checked_body`].
pub(super) fn authorized<T: serde::de::DeserializeOwned>(
    ctx: &Context,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Response> {
    authorize(ctx, headers)?;
    super::input::json_content_type(headers)?;
    let bad = |e: String| {
        error(
            StatusCode::BAD_REQUEST,
            format!("{e}; see GET /v1/openapi.yaml"),
        )
    };
    let v = super::input::checked_body(body).map_err(bad)?;
    serde_json::from_value(v).map_err(|e| bad(format!("request body: {e}")))
}

pub(super) async fn failover(
    State(ctx): State<Context>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: FailoverBody = match authorized(&ctx, &headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !b.confirm {
        return error(
            StatusCode::BAD_REQUEST,
            "confirm: must be true: a failover promotes the DR database and moves traffic; send \"confirm\": true to execute it",
        );
    }
    let accept = match accept_data_loss(b.accept_data_loss.as_deref()) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut accept_unknown = Vec::new();
    for t in &b.accept_unknown_loss {
        match crate::model::DataTier::parse(t) {
            Some(tier) => accept_unknown.push(tier),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("accept_unknown_loss: {t:?} is not a data tier; expected database, cache or stream"),
                )
            }
        }
    }
    let policy = match pick_policy(&ctx, b.policy.as_ref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let req = |reply| FailoverRequest {
        kind: crate::model::ExecutionKind::Failover,
        dry_run: false,
        divergence_reviewed: None,
        policy,
        accept_data_loss: accept,
        accept_unknown,
        operator: b.operator.unwrap_or_else(|| "api".into()),
        reason: b.reason,
        phases: None,
        reply,
    };
    submit(&ctx, req, "/v1/failover", &headers, body).await
}

/// The `accept_data_loss` field as a duration.
pub(super) fn accept_data_loss(field: Option<&str>) -> Result<Option<Duration>, Response> {
    let Some(d) = field else {
        return Ok(None);
    };
    if !super::input::is_plain_duration(d) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("accept_data_loss: {d:?} is not a duration like 90s, 20m or 1h30m"),
        ));
    }
    crate::duration::parse(d)
        .map(Some)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("accept_data_loss: {e}")))
}

/// Hands the request `make` builds to this node's executor (forwarding it
/// to the leader when this node does not lead) and answers as it decides.
pub(super) async fn submit(
    ctx: &Context,
    make: impl FnOnce(oneshot::Sender<FailoverAnswer>) -> FailoverRequest,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let (Some(requests), true) = (ctx.requests.as_ref(), is_leader(ctx)) else {
        return forward(ctx, path, headers, body).await;
    };
    let (tx, rx) = oneshot::channel();
    let req = make(tx);
    let kind = req.kind;
    if requests.send(req).await.is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this node is shutting down (its executor has stopped): ask another member",
        );
    }
    let answer = match tokio::time::timeout(DECISION_TIMEOUT, rx).await {
        Ok(Ok(a)) => a,
        _ => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no decision in time: GET /v1/status shows whether an execution started",
            )
        }
    };
    let leader = ctx.id;
    match answer {
        FailoverAnswer::Accepted { execution_id } => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "execution_id": execution_id, "status": "running", "leader": leader
            })),
        )
            .into_response(),
        FailoverAnswer::AlreadyComplete { execution_id } => Json(serde_json::json!({
            "execution_id": execution_id, "status": "already_complete", "leader": leader
        }))
        .into_response(),
        FailoverAnswer::Conflict { execution_id } => error_with(
            StatusCode::CONFLICT,
            format!("execution {execution_id} of this policy is running: follow it with GET /v1/executions/{execution_id}"),
            serde_json::json!({ "execution_id": execution_id }),
        ),
        FailoverAnswer::Refused { execution_id, rpo } => error_with(
            StatusCode::PRECONDITION_FAILED,
            format!("RPO gate refused, nothing changed: {}. To accept the loss, send accept_data_loss (like \"30m\") at least as large as the exposure; it is recorded", rpo.refusal()),
            serde_json::json!({ "execution_id": execution_id, "rpo": rpo }),
        ),
        FailoverAnswer::Preflight { execution_id, problems } => error_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("preflight failed, nothing changed: {}", problems.join("; ")),
            serde_json::json!({ "execution_id": execution_id, "problems": problems }),
        ),
        FailoverAnswer::Planned { plan, divergence } => Json(super::roles::PlanReply {
            dry_run: true,
            kind,
            plan: *plan,
            divergence,
            leader,
        })
        .into_response(),
        FailoverAnswer::WrongState { message } => error(
            StatusCode::CONFLICT,
            format!("{kind} refused, nothing changed: {message}"),
        ),
        FailoverAnswer::Unreviewed { divergence } => error_with(
            StatusCode::PRECONDITION_FAILED,
            format!(
                "failback refused, nothing changed: failover {id} left a divergence report ({}); review it (GET /v1/executions/{id}) and send divergence_reviewed: \"{id}\"",
                divergence.lines.join("; "),
                id = divergence.execution_id
            ),
            serde_json::json!({ "execution_id": divergence.execution_id, "divergence": divergence.lines }),
        ),
        FailoverAnswer::NotLeader => forward(ctx, path, headers, body).await,
        FailoverAnswer::HandedOff { .. } => forward_again(ctx, path, headers, body).await,
        FailoverAnswer::Unavailable { message } => {
            error(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }
}

pub(super) async fn maintenance(
    State(ctx): State<Context>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: MaintenanceBody = match authorized(&ctx, &headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !is_leader(&ctx) {
        return forward(&ctx, "/v1/maintenance", &headers, body).await;
    }
    let cmd = Command::Maintenance {
        on: b.on,
        by: b.operator.unwrap_or_else(|| "api".into()),
        reason: b.reason,
        at: crate::execute::now_rfc3339(),
    };
    match commit(&ctx, cmd, "/v1/maintenance", &headers, body).await {
        Ok(Reply::Ok) => {
            let m = ctx
                .applied
                .read()
                .expect("state lock")
                .state
                .maintenance
                .clone();
            Json(serde_json::json!({ "maintenance": m })).into_response()
        }
        Ok(other) => error(StatusCode::CONFLICT, format!("refused: {other:?}")),
        Err(r) => r,
    }
}

/// Commits `cmd` through this node's raft (the leader). When this node
/// turns out not to lead, the request is forwarded to the leader; when no
/// majority commits it in time, the answer is 503.
async fn commit(
    ctx: &Context,
    cmd: Command,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Reply, Response> {
    match tokio::time::timeout(DECISION_TIMEOUT, ctx.raft.client_write(cmd)).await {
        Ok(Ok(r)) => Ok(r.data),
        Ok(Err(_)) => Err(forward(ctx, path, headers, body).await),
        Err(_) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not committed in time: this node cannot reach a majority",
        )),
    }
}

/// The policy a request names, or the cluster's only one.
pub(super) fn pick_policy(ctx: &Context, named: Option<&String>) -> Result<String, Response> {
    let policy = match (named, ctx.policies.len()) {
        (Some(p), _) => p.clone(),
        (None, 1) => ctx.policies.keys().next().expect("one policy").clone(),
        (None, _) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "policy: this cluster owns several policies; name one of {:?}",
                    ctx.policies.keys().collect::<Vec<_>>()
                ),
            ))
        }
    };
    if !ctx.policies.contains_key(&policy) {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!(
                "policy: {policy:?} is not owned by this cluster; it owns {:?}",
                ctx.policies.keys().collect::<Vec<_>>()
            ),
        ));
    }
    Ok(policy)
}

/// `POST /v1/acknowledge`: an operator acknowledges the policy's last
/// execution, which ends the hold-down on automatic failover.
pub(super) async fn acknowledge(
    State(ctx): State<Context>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: AcknowledgeBody = match authorized(&ctx, &headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let policy = match pick_policy(&ctx, b.policy.as_ref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !is_leader(&ctx) {
        return forward(&ctx, "/v1/acknowledge", &headers, body).await;
    }
    let cmd = Command::Acknowledge {
        policy: policy.clone(),
        by: b.operator.unwrap_or_else(|| "api".into()),
        reason: b.reason,
        at: crate::execute::now_rfc3339(),
    };
    match commit(&ctx, cmd, "/v1/acknowledge", &headers, body).await {
        Ok(Reply::Ok) => {
            let acknowledged = ctx
                .applied
                .read()
                .expect("state lock")
                .state
                .policies
                .get(&policy)
                .and_then(|p| p.acknowledged.clone());
            Json(serde_json::json!({ "policy": policy, "acknowledged": acknowledged }))
                .into_response()
        }
        Ok(_) => error(
            StatusCode::NOT_FOUND,
            format!("policy {policy:?} has no execution to acknowledge"),
        ),
        Err(r) => r,
    }
}

/// `POST /v1/unfence`: lifts this node's self-fence of a policy. Runs on
/// the node that fenced (never forwarded): only it holds what to give back.
pub(super) async fn unfence(
    State(ctx): State<Context>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b: UnfenceBody = match authorized(&ctx, &headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !b.confirm {
        return error(
            StatusCode::BAD_REQUEST,
            "unfence gives the application its writes back in this region: send confirm: true",
        );
    }
    let policy = match b.policy.or_else(|| {
        (ctx.policies.len() == 1).then(|| ctx.policies.keys().next().cloned().unwrap_or_default())
    }) {
        Some(p) => p,
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "policy: required (this node has several)",
            )
        }
    };
    let unfencer = ctx
        .detection
        .read()
        .expect("detection lock")
        .unfencer
        .clone();
    let Some(unfencer) = unfencer else {
        return error(
            StatusCode::CONFLICT,
            format!(
                "node {} ({}) fences nothing: it does not run in a policy's primary region",
                ctx.id,
                ctx.me().site
            ),
        );
    };
    match unfencer.unfence(policy.clone()).await {
        Ok(done) => {
            tracing::warn!(policy = %policy, operator = b.operator.as_deref().unwrap_or("api"), reason = b.reason.as_deref().unwrap_or(""), done = %done.join("; "), "unfenced by an operator");
            Json(serde_json::json!({ "policy": policy, "node": ctx.id, "unfenced": done }))
                .into_response()
        }
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}
