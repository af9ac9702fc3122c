//! The status page: `GET /` on every node, server-rendered HTML.
//!
//! The page is read-only and needs no token. It shows what `GET /v1/status`
//! knows (the leader and members, each policy's verdict, probes, exposure
//! against the RPO and protection state), the current or last execution's
//! timeline and the recent audit lines. It is complete without JavaScript;
//! a small inline script replaces the live part with `GET /fragment` every
//! [`REFRESH_MS`] so a running failover's steps appear as they happen
//! (counting the updates in the element's `data-updates` attribute).
//!
//! The page is a list of sections (`CLUSTER_SECTIONS`, `POLICY_SECTIONS`):
//! a new one is a function writing HTML into a `String`, added to a list.
//! Every string from outside goes through [`html::esc`].

mod audit;
mod cluster;
mod detection;
pub mod html;
mod protection;
mod readiness;
mod timeline;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::views::{ExecutionView, PolicyView, StatusView};
use crate::consensus::AuditEntry;
use crate::controller::Context;
use html::esc;

/// Audit lines shown, newest first; `GET /v1/status` has none, the
/// replicated state keeps [`crate::consensus::AUDIT_KEPT`].
pub const AUDIT_SHOWN: usize = 15;

/// How often the script fetches the live part, in milliseconds.
pub const REFRESH_MS: u64 = 1500;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("live.js");

/// Everything the page shows, read once per request.
#[derive(Debug, Clone)]
pub struct PageModel {
    /// What `GET /v1/status` answers on this node.
    pub status: StatusView,
    /// Per policy, the full journal of its running or last execution.
    pub executions: BTreeMap<String, ExecutionView>,
    /// The newest audit lines, newest first, at most [`AUDIT_SHOWN`].
    pub audit: Vec<AuditEntry>,
    /// When the page was rendered (RFC 3339).
    pub rendered_at: String,
}

impl PageModel {
    /// The model of the node behind `ctx`, as it sees the cluster now.
    pub async fn build(ctx: &Context) -> Self {
        let status = super::status::build_status(ctx).await;
        let a = ctx.applied.read().expect("state lock");
        let executions = status
            .policies
            .iter()
            .filter_map(|p| {
                let id = &p.execution.as_ref()?.id;
                let e = a.state.executions.get(id)?;
                Some((p.name.clone(), ExecutionView::of(e)))
            })
            .collect();
        let audit = a
            .state
            .audit
            .iter()
            .rev()
            .take(AUDIT_SHOWN)
            .cloned()
            .collect();
        Self {
            status,
            executions,
            audit,
            rendered_at: crate::execute::rfc3339_ms(crate::clock::now_ms()),
        }
    }
}

/// A part of the page about the whole cluster.
type ClusterSection = fn(&PageModel, &mut String);
/// A part of the page about one policy.
type PolicySection = fn(&PageModel, &PolicyView, &mut String);

/// Sections above the policies, in order.
const CLUSTER_SECTIONS: &[ClusterSection] = &[cluster::render];
/// Sections of each policy, in order.
const POLICY_SECTIONS: &[PolicySection] = &[
    detection::verdict,
    protection::render,
    detection::exposure,
    readiness::render,
    timeline::render,
    detection::probes,
];
/// Sections below the policies, in order.
const TRAILING_SECTIONS: &[ClusterSection] = &[audit::render];

/// The live part of the page: everything but the head, header and script.
pub fn render_fragment(m: &PageModel) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<p class=\"stamp\">as node {} ({}) saw it at <time>{}</time></p>",
        m.status.node.id,
        esc(&m.status.node.site),
        esc(&m.rendered_at)
    );
    for s in CLUSTER_SECTIONS {
        s(m, &mut out);
    }
    for p in &m.status.policies {
        let _ = write!(
            out,
            "<div class=\"policy\"><h2>policy {} <small>{} → {}</small></h2><div class=\"grid\">",
            esc(&p.name),
            esc(&p.primary_region),
            esc(&p.secondary_region)
        );
        for s in POLICY_SECTIONS {
            s(m, p, &mut out);
        }
        out.push_str("</div></div>");
    }
    for s in TRAILING_SECTIONS {
        s(m, &mut out);
    }
    out
}

/// The whole page.
pub fn render_page(m: &PageModel) -> String {
    let node = &m.status.node;
    let title = m.status.policies.first().map_or_else(
        || "drctl status".to_string(),
        |p| format!("drctl · {} · {}", p.name, detection::health_label(p)),
    );
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>\
<header><h1>drctl</h1><span>node {id} · {site} · {state}</span>\
<span id=\"live-state\" class=\"mute\">static page: reload to update</span></header>\
<main id=\"live\" data-refresh-ms=\"{REFRESH_MS}\" data-updates=\"0\">{fragment}</main>\
<footer>Read-only. JSON: <a href=\"v1/status\">/v1/status</a>, \
<a href=\"v1/executions\">/v1/executions</a>, <a href=\"metrics\">/metrics</a>.</footer>\
<script>{SCRIPT}</script></body></html>\n",
        title = esc(&title),
        id = node.id,
        site = esc(&node.site),
        state = esc(&node.state),
        fragment = render_fragment(m),
    )
}

fn html_response(body: String) -> Response {
    (
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the whole page.
pub(super) async fn page(State(ctx): State<Context>) -> Response {
    html_response(render_page(&PageModel::build(&ctx).await))
}

/// `GET /fragment`: the live part, for the page's script.
pub(super) async fn fragment(State(ctx): State<Context>) -> Response {
    html_response(render_fragment(&PageModel::build(&ctx).await))
}

#[cfg(test)]
mod tests;
