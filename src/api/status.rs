//! Read-only routes: health, readiness, metrics, status, executions.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openraft::ServerState;

use super::error;
use super::input::ListQuery;
use super::views::{
    ExecutionSummary, ExecutionView, MemberView, NodeView, PolicyView, RaftView, SiteProbes,
    StatusView, TierExposureView,
};
use crate::controller::metrics_format::MetricsFormat;
use crate::controller::Context;

/// How long a member's health check may take when building the status.
const PEER_CHECK: Duration = Duration::from_millis(500);

pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub(super) async fn readyz(State(ctx): State<Context>) -> Response {
    let m = ctx.raft.metrics().borrow().clone();
    let member = m.membership_config.membership().get_node(&ctx.id).is_some();
    match (member, m.current_leader) {
        (true, Some(leader)) => {
            Json(serde_json::json!({ "ready": true, "leader": leader })).into_response()
        }
        (false, _) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not a member of a cluster yet: check that the other sites are reachable and share the cluster secret",
        ),
        (true, None) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no leader: fewer than two of the three sites are reachable from here",
        ),
    }
}

pub(super) async fn metrics(State(ctx): State<Context>, headers: HeaderMap) -> Response {
    let accept = headers.get("accept").and_then(|v| v.to_str().ok());
    let format = MetricsFormat::negotiate(accept);
    (
        [("content-type", format.content_type())],
        ctx.metrics.render(&ctx, format),
    )
        .into_response()
}

fn state_name(s: ServerState) -> &'static str {
    match s {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

/// The status as this node sees it.
pub async fn build_status(ctx: &Context) -> StatusView {
    let m = ctx.raft.metrics().borrow().clone();
    let matched: HashMap<u64, u64> = m
        .replication
        .as_ref()
        .map(|r| {
            r.iter()
                .filter_map(|(id, l)| Some((*id, (*l)?.index)))
                .collect()
        })
        .unwrap_or_default();
    let mut checks = tokio::task::JoinSet::new();
    for &id in ctx.members.keys() {
        let ctx2 = ctx.clone();
        checks.spawn(crate::clock::inherit(async move {
            (id, id == ctx2.id || ctx2.peer_answers(id, PEER_CHECK).await)
        }));
    }
    let mut health = HashMap::new();
    while let Some(Ok((id, ok))) = checks.join_next().await {
        health.insert(id, ok);
    }
    let members: Vec<MemberView> = ctx
        .members
        .iter()
        .map(|(id, mem)| MemberView {
            id: *id,
            site: mem.site.clone(),
            addr: mem.addr.clone(),
            witness: mem.witness,
            healthy: health.get(id).copied(),
            matched_index: matched.get(id).copied(),
        })
        .collect();
    let leader = m
        .current_leader
        .and_then(|l| members.iter().find(|x| x.id == l).cloned());
    let me = ctx.me();
    // Judged as the replicated roles read each policy now.
    let working: std::collections::BTreeMap<String, _> = ctx
        .working_policies()
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    let mut detection: std::collections::BTreeMap<String, _> = working
        .iter()
        .map(|(name, p)| (name.clone(), detection_view(ctx, p)))
        .collect();
    let a = ctx.applied.read().expect("state lock");
    let policies = ctx
        .policies
        .iter()
        .map(|(name, p)| {
            let state = a.state.policies.get(name);
            let now = working.get(name).unwrap_or(p);
            let exposure = detection
                .get_mut(name)
                .map(|d| std::mem::take(&mut d.1))
                .unwrap_or_default();
            PolicyView {
                name: name.clone(),
                primary_region: p.regions.primary.clone(),
                secondary_region: p.regions.secondary.clone(),
                active_region: state
                    .and_then(|s| s.active_region.clone())
                    .unwrap_or_else(|| now.regions.primary.clone()),
                orientation: state.map(|s| s.orientation).unwrap_or_default(),
                standby_region: now.regions.secondary.clone(),
                protection: state.map(|s| s.protection).unwrap_or_default().to_string(),
                lag_ms: exposure.iter().map(|e| (e.tier, e.exposure_ms)).collect(),
                probes: detection
                    .get_mut(name)
                    .map(|d| std::mem::take(&mut d.0))
                    .unwrap_or_default(),
                exposure,
                verdict: detection
                    .remove(name)
                    .map(|d| d.2)
                    .expect("one view per policy"),
                execution: a.state.latest(name).map(ExecutionSummary::of),
                self_fenced: ctx
                    .detection
                    .read()
                    .expect("detection lock")
                    .self_fenced
                    .get(name)
                    .cloned(),
                old_primary_writable: ctx.old_primary_writable(name),
                readiness: a.state.readiness.get(name).cloned(),
            }
        })
        .collect();
    StatusView {
        node: NodeView {
            id: ctx.id,
            site: me.site.clone(),
            witness: me.witness,
            addr: me.addr.clone(),
            state: state_name(m.state).into(),
            term: m.current_term,
        },
        leader,
        members,
        raft: RaftView {
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
        },
        maintenance: a.state.maintenance.clone(),
        policies,
    }
}

pub(super) async fn status(State(ctx): State<Context>) -> Json<StatusView> {
    Json(build_status(&ctx).await)
}

pub(super) async fn executions(State(ctx): State<Context>, RawQuery(raw): RawQuery) -> Response {
    let q = match ListQuery::parse(raw.as_deref(), ctx.policies.keys()) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let a = ctx.applied.read().expect("state lock");
    let mut list: Vec<ExecutionSummary> = a
        .state
        .policies
        .iter()
        .filter(|(name, _)| q.policy.as_ref().is_none_or(|p| p == *name))
        .flat_map(|(_, p)| p.history.iter())
        .filter_map(|id| a.state.executions.get(id))
        .map(ExecutionSummary::of)
        .collect();
    list.sort_by(|x, y| y.started_at.cmp(&x.started_at));
    list.truncate(q.limit);
    Json(serde_json::json!({ "executions": list })).into_response()
}

pub(super) async fn execution(State(ctx): State<Context>, Path(id): Path<String>) -> Response {
    let a = ctx.applied.read().expect("state lock");
    match a.state.executions.get(&id) {
        Some(e) => Json(ExecutionView::of(e).with_audit(&a.state.audit)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no execution {id:?}: GET /v1/executions lists the ones kept"),
        ),
    }
}

/// A policy's newest round per site, exposures and verdict.
fn detection_view(
    ctx: &Context,
    p: &crate::policy::Policy,
) -> (
    Vec<SiteProbes>,
    Vec<TierExposureView>,
    crate::detect::Verdict,
) {
    let verdict = ctx.verdict(p);
    let probes = {
        let d = ctx.detection.read().expect("detection lock");
        d.rounds
            .get(&p.name)
            .into_iter()
            .flat_map(|sites| sites.values())
            .filter_map(|rounds| rounds.back())
            .map(|o| SiteProbes {
                site: o.site.clone(),
                node: o.node,
                round: o.round,
                at: crate::execute::rfc3339_ms(o.at_ms),
                consecutive_failures: verdict
                    .sites
                    .iter()
                    .find(|s| s.site == o.site)
                    .map_or(0, |s| s.consecutive_failures),
                results: o.probes.clone(),
            })
            .collect()
    };
    let exposure = ctx
        .exposures(p)
        .into_iter()
        .map(|(tier, (e, source))| {
            let ms = match e {
                crate::model::Exposure::Known(d) => Some(d.as_millis() as u64),
                crate::model::Exposure::Unknown => None,
            };
            TierExposureView {
                tier,
                exposure_ms: ms,
                rpo_ms: p.rpo.as_millis() as u64,
                within_rpo: ms.is_some_and(|m| m <= p.rpo.as_millis() as u64),
                source,
            }
        })
        .collect();
    (probes, exposure, verdict)
}
