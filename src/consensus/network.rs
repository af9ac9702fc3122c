//! Node-to-node raft RPC: openraft clients that send through the node's
//! [`super::transport::Transport`] (HTTP in production, the in-memory
//! network in the simulation) on one side, an axum router on the other.
//! Every call is signed by the sending node's key
//! and carries the cluster secret (see [`super::auth`]).
//!
//! Every call has a timeout (openraft's per-RPC deadline, capped by the
//! configured `rpc_timeout`); a peer that does not answer in time is
//! reported unreachable and openraft backs off. The secret is compared in
//! constant time and the signature is verified with the claimed sender's
//! public keys, so nothing without a member's key can append, vote or
//! install a snapshot. [`Links`] lets tests and chaos drills cut links
//! between nodes.

// an early HTTP response is the natural error of a request check; handlers return it as is.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::auth::{Signer, Verifier};
use super::transport::{Call, SharedTransport, Transport};
use super::{Member, NodeId, Raft, TypeConfig};

/// The header carrying the cluster secret on raft RPC.
pub const SECRET_HEADER: &str = "x-drctl-cluster-secret";

/// Which links between nodes are cut. Empty in production; tests and chaos
/// drills cut links to partition a cluster running in one process.
#[derive(Debug, Clone, Default)]
pub struct Links {
    cut: Arc<RwLock<BTreeSet<(NodeId, NodeId)>>>,
}

impl Links {
    /// Whether `from` can reach `to`.
    pub fn up(&self, from: NodeId, to: NodeId) -> bool {
        !self.cut.read().expect("links lock").contains(&(from, to))
    }

    /// Cuts every link between `node` and `others`, both ways.
    pub fn isolate(&self, node: NodeId, others: &[NodeId]) {
        let mut cut = self.cut.write().expect("links lock");
        for &o in others {
            cut.insert((node, o));
            cut.insert((o, node));
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.cut.write().expect("links lock").clear();
    }

    /// Cuts exactly the links between members of different sites where
    /// either site is in `isolated` (a simulated partition, applied by
    /// every process of a local cluster alike), restoring the rest.
    pub fn partition(&self, members: &BTreeMap<NodeId, Member>, isolated: &BTreeSet<String>) {
        let mut cut = BTreeSet::new();
        for (&a, ma) in members {
            for (&b, mb) in members {
                let apart = isolated.contains(&ma.site) || isolated.contains(&mb.site);
                if a != b && ma.site != mb.site && apart {
                    cut.insert((a, b));
                }
            }
        }
        *self.cut.write().expect("links lock") = cut;
    }
}

/// Builds raft clients to the other members.
#[derive(Clone)]
pub struct Network {
    me: NodeId,
    transport: SharedTransport,
    signer: Signer,
    timeout: Duration,
    links: Links,
    peers: Arc<super::peer_log::PeerLog>,
    /// The clock offset of the node that built it: openraft calls it from
    /// tasks of its own, outside the node's scope ([`crate::clock`]).
    skew_ms: i64,
}

impl Network {
    /// A network for node `signer.id` over `transport`, signing every call
    /// with its key (stamped by the clock of the task that builds it); no
    /// call takes longer than `timeout`.
    pub fn new(
        signer: Signer,
        timeout: Duration,
        links: Links,
        transport: SharedTransport,
    ) -> Self {
        Self {
            me: signer.id,
            transport,
            signer,
            timeout,
            links,
            peers: Arc::default(),
            skew_ms: crate::clock::skew_ms(),
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Client;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> Client {
        Client {
            net: self.clone(),
            target,
            addr: node.addr.trim_end_matches('/').to_string(),
        }
    }
}

/// A raft client to one member.
pub struct Client {
    net: Network,
    target: NodeId,
    addr: String,
}

/// How one RPC failed, before openraft's error types are chosen. Transport
/// failures are all reported as unreachable, so openraft backs off instead
/// of retrying hot.
enum CallError<E> {
    /// The peer could not be reached in time.
    Unreachable(String),
    /// The peer answered with a raft error.
    Remote(E),
}

impl Client {
    /// One RPC, its outcome noted in the peer log.
    async fn call<Req: Serialize, Resp: DeserializeOwned, E: DeserializeOwned>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, CallError<E>> {
        let result = self.call_once(path, req, option).await;
        match &result {
            Err(CallError::Unreachable(msg)) => self.net.peers.failed(self.target, &self.addr, msg),
            _ => self.net.peers.answered(self.target, &self.addr),
        }
        result
    }

    async fn call_once<Req: Serialize, Resp: DeserializeOwned, E: DeserializeOwned>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, CallError<E>> {
        if !self.net.links.up(self.net.me, self.target) {
            return Err(CallError::Unreachable(format!(
                "link {} → {} is cut",
                self.net.me, self.target
            )));
        }
        let timeout = option.hard_ttl().min(self.net.timeout);
        let body = serde_json::to_vec(req)
            .map_err(|e| CallError::Unreachable(format!("cannot encode the request: {e}")))?;
        let call = Call::post(&self.addr, &format!("/raft/{path}"), body, timeout);
        let call = crate::clock::skewed_sync(self.net.skew_ms, || self.net.signer.sign(call));
        let resp = self
            .net
            .transport
            .send(self.net.me, call)
            .await
            .map_err(CallError::Unreachable)?;
        if !resp.is_success() {
            return Err(CallError::Unreachable(format!(
                "{} answered {}: {}",
                self.addr,
                resp.status,
                String::from_utf8_lossy(&resp.body)
            )));
        }
        let result: Result<Resp, E> = serde_json::from_slice(&resp.body)
            .map_err(|e| CallError::Unreachable(format!("{}: bad reply: {e}", self.addr)))?;
        result.map_err(CallError::Remote)
    }

    fn rpc_error<E: std::error::Error>(&self, e: CallError<E>) -> RPCError<NodeId, Member, E> {
        match e {
            CallError::Unreachable(msg) => {
                RPCError::Unreachable(Unreachable::new(&std::io::Error::other(msg)))
            }
            CallError::Remote(e) => RPCError::RemoteError(RemoteError::new(self.target, e)),
        }
    }
}

impl RaftNetwork<TypeConfig> for Client {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.call("append", &rpc, &option)
            .await
            .map_err(|e| self.rpc_error(e))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Member, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call("snapshot", &rpc, &option)
            .await
            .map_err(|e| self.rpc_error(e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Member, RaftError<NodeId>>> {
        self.call("vote", &rpc, &option)
            .await
            .map_err(|e| self.rpc_error(e))
    }
}

/// The largest body a `/raft/*` route reads. Snapshots travel as JSON, a
/// byte as up to four characters, in chunks of [`SNAPSHOT_CHUNK`]; appends
/// carry up to openraft's 300 entries. The API's own, much smaller limit
/// must not apply here, or a node behind the purged log could never
/// install a snapshot once the state outgrew a few hundred KB.
pub const RAFT_BODY_LIMIT: usize = 32 << 20;

/// The size of one snapshot chunk in bytes (openraft's default is 3 MiB,
/// 12 MiB once encoded).
pub const SNAPSHOT_CHUNK: u64 = 512 << 10;

/// What the raft RPC handlers need.
#[derive(Clone)]
pub struct RpcState {
    /// The local raft.
    pub raft: Raft,
    /// Checks incoming calls: cluster secret, sender's signature, time.
    pub verifier: Arc<Verifier>,
    /// Told when this node refuses a candidate whose log is behind its own
    /// (the witness uses it to step in at once; see `controller::witness`).
    pub refused_behind: Option<Arc<tokio::sync::Notify>>,
}

/// The raft RPC routes (`/raft/append`, `/raft/vote`, `/raft/snapshot`,
/// and `/raft/elect`, by which the witness hands leadership on).
pub fn router(state: RpcState) -> Router {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .route("/raft/elect", post(elect))
        .layer(DefaultBodyLimit::max(RAFT_BODY_LIMIT))
        .with_state(state)
}

/// Asks `addr` (an executing member) to campaign now.
///
/// # Errors
///
/// The member did not accept the request.
pub async fn ask_to_elect(
    transport: &dyn Transport,
    addr: &str,
    signer: &Signer,
    timeout: Duration,
) -> Result<(), String> {
    let call = signer.sign(Call::post(addr, "/raft/elect", Vec::new(), timeout));
    let r = transport.send(signer.id, call).await?;
    if r.is_success() {
        Ok(())
    } else {
        Err(format!("{addr} answered {}", r.status))
    }
}

async fn elect(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&s, "/raft/elect", &headers, &body) {
        return r;
    }
    match s.raft.trigger().elect().await {
        Ok(()) => Json(serde_json::json!({ "electing": true })).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// Whether `headers` carry one of `secrets`. Each is compared in constant
/// time, and all of them are always compared.
pub fn secret_ok(headers: &HeaderMap, secrets: &[Arc<str>]) -> bool {
    let Some(given) = headers.get(SECRET_HEADER) else {
        return false;
    };
    secrets.iter().fold(false, |ok, s| {
        let m: bool = given.as_bytes().ct_eq(s.as_bytes()).into();
        ok | m
    })
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": format!("raft RPC body: {e}") })),
        )
            .into_response()
    })
}

/// Verifies a call to `path`; the refusal names why, never a secret.
fn check(s: &RpcState, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<NodeId, Response> {
    s.verifier
        .verify("POST", path, headers, body, crate::clock::now_ms())
        .map_err(|e| {
            tracing::warn!(path, reason = e.metric_label(), error = %e, "node-to-node call refused");
            refused(&e)
        })
}

/// The answer to a call that failed authentication.
pub fn refused(e: &super::auth::AuthError) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": format!("node-to-node call refused: {e}") })),
    )
        .into_response()
}

async fn append(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&s, "/raft/append", &headers, &body) {
        return r;
    }
    let req: AppendEntriesRequest<TypeConfig> = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    Json(s.raft.append_entries(req).await).into_response()
}

async fn vote(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&s, "/raft/vote", &headers, &body) {
        return r;
    }
    let req: VoteRequest<NodeId> = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let behind = req.last_log_id;
    let resp = s.raft.vote(req).await;
    if let (Some(n), Ok(r)) = (&s.refused_behind, &resp) {
        if !r.vote_granted && r.last_log_id > behind {
            n.notify_one();
        }
    }
    Json(resp).into_response()
}

async fn snapshot(State(s): State<RpcState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&s, "/raft/snapshot", &headers, &body) {
        return r;
    }
    let req: InstallSnapshotRequest<TypeConfig> = match parse(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    Json(s.raft.install_snapshot(req).await).into_response()
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
