//! The status HTTP API (axum), served by every controller node.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the status page, HTML (see `page`) |
//! | `GET /fragment` | the status page's live part, for its script |
//! | `GET /healthz` | the process is alive |
//! | `GET /readyz` | a member of a cluster that has a leader |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /v1/status` | this node, the leader, members, policies, the current or last execution |
//! | `GET /v1/executions`, `GET /v1/executions/{id}` | the journal, step by step |
//! | `GET /v1/history` | a policy's replicated run summaries (`?policy=`, `?limit=`) |
//! | `POST /v1/failover` | start a failover (bearer token) |
//! | `POST /v1/reprotect` | protect the active region again after a failover; a dry run without `confirm` (bearer token) |
//! | `POST /v1/failback` | planned switchover back, zero data loss or refused; a dry run without `confirm` (bearer token) |
//! | `POST /v1/maintenance` | maintenance on/off (bearer token) |
//! | `POST /v1/acknowledge` | acknowledge the last execution, ending the hold-down (bearer token) |
//! | `GET /v1/openapi.yaml` | the OpenAPI description of the above |
//!
//! Errors are JSON objects with an `error` sentence saying what to do,
//! including those axum makes itself (see `errors.rs`). Bodies on these
//! routes are limited to [`input::BODY_MAX_BYTES`]; requests without the
//! valid token are logged and slowed down per peer (see [`refusals`]).
//! Authenticated requests that land on a follower are forwarded to the
//! leader. The node-to-node routes (`/raft/*`) share the port and are
//! authenticated instead by the sending node's signature and the cluster
//! secret (see [`crate::consensus::auth`]); `/raft/observe` accepts only
//! a member's own rounds (see `observe.rs`).

mod actions;
pub mod client;
mod errors;
pub mod history;
pub mod input;
pub mod messages;
pub mod observe;
pub mod page;
pub mod refusals;
pub mod roles;
mod status;
pub mod views;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::consensus::auth::Verifier;
use crate::consensus::network::{self, RpcState};
use crate::controller::Context;

/// The OpenAPI description of the API.
pub const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

/// The node's whole HTTP surface: the API and the raft RPC.
pub fn router(
    ctx: Context,
    verifier: Arc<Verifier>,
    refused_behind: Option<Arc<tokio::sync::Notify>>,
) -> Router {
    let observe = Router::new()
        .route("/raft/observe", post(observe::observe))
        .with_state((ctx.clone(), verifier.clone()));
    let rpc = network::router(RpcState {
        raft: ctx.raft.clone(),
        verifier,
        refused_behind,
    });
    let guard = refusals::Guard {
        token: ctx.token.clone(),
        refusals: Arc::default(),
    };
    let actions = Router::new()
        .route("/v1/failover", post(actions::failover))
        .route("/v1/reprotect", post(roles::reprotect))
        .route("/v1/failback", post(roles::failback))
        .route("/v1/maintenance", post(actions::maintenance))
        .route("/v1/acknowledge", post(actions::acknowledge))
        .route("/v1/unfence", post(actions::unfence))
        .route_layer(axum::middleware::from_fn_with_state(guard, refusals::guard));
    Router::new()
        .route("/", get(page::page))
        .route("/fragment", get(page::fragment))
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .route("/metrics", get(status::metrics))
        .route("/v1/status", get(status::status))
        .route("/v1/executions", get(status::executions))
        .route("/v1/executions/{id}", get(status::execution))
        .route("/v1/history", get(history::history))
        .merge(actions)
        .route(
            "/v1/openapi.yaml",
            get(|| async { ([("content-type", "application/yaml")], OPENAPI) }),
        )
        .layer(DefaultBodyLimit::max(input::BODY_MAX_BYTES))
        .with_state(ctx)
        .merge(rpc)
        .merge(observe)
        .layer(axum::middleware::from_fn(errors::json_errors))
}

/// A JSON error with a status code and extra fields.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    error_with(status, message, serde_json::json!({}))
}

pub(crate) fn error_with(
    status: StatusCode,
    message: impl Into<String>,
    extra: serde_json::Value,
) -> Response {
    let mut body = serde_json::json!({ "error": message.into() });
    if let (Some(b), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    (status, Json(body)).into_response()
}
