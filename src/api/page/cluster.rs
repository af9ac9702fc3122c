//! The cluster section: the leader, every member and maintenance.

use std::fmt::Write as _;

use super::html::{badge, cells, esc, open_section};
use super::PageModel;

/// Writes the leader headline and the members table.
pub(super) fn render(m: &PageModel, out: &mut String) {
    let s = &m.status;
    open_section(out, "cluster", "Controller cluster");
    out.push_str("<p class=\"headline\">");
    match &s.leader {
        Some(l) => {
            let _ = write!(
                out,
                "Leader: <b id=\"leader\">node {} ({})</b> · term {}",
                l.id,
                esc(&l.site),
                s.raft.term
            );
        }
        None => {
            out.push_str("<b id=\"leader\" class=\"bad\">No leader</b>: fewer than two of the three sites reach each other");
        }
    }
    out.push_str("</p>");
    if s.maintenance.on {
        let _ = write!(
            out,
            "<p class=\"warn-box\">Maintenance on: no automatic failover starts (set by {} at {}: {}).</p>",
            esc(s.maintenance.by.as_deref().unwrap_or("unknown")),
            esc(s.maintenance.at.as_deref().unwrap_or("unknown time")),
            esc(s.maintenance.reason.as_deref().unwrap_or("no reason given"))
        );
    }
    out.push_str(
        "<table><thead><tr><th>node</th><th>site</th><th>role</th><th>address</th>\
<th>health</th><th>replicated to</th></tr></thead><tbody>",
    );
    for mem in &s.members {
        let leader = s.leader.as_ref().is_some_and(|l| l.id == mem.id);
        let _ = write!(out, "<tr><td>node {}", mem.id);
        if mem.id == s.node.id {
            out.push_str(" <span class=\"mute\">(this page)</span>");
        }
        out.push_str("</td>");
        cells(out, &[&mem.site]);
        out.push_str("<td>");
        if leader {
            badge(out, "info", "leader");
        }
        badge(
            out,
            "mute",
            if mem.witness { "witness" } else { "executor" },
        );
        out.push_str("</td>");
        cells(out, &[&mem.addr]);
        out.push_str("<td>");
        match mem.healthy {
            Some(true) => badge(out, "ok", "answers"),
            Some(false) => badge(out, "bad", "no answer"),
            None => badge(out, "mute", "not checked"),
        }
        out.push_str("</td>");
        let replicated = mem
            .matched_index
            .map_or_else(|| "—".to_string(), |i| format!("log index {i}"));
        cells(out, &[&replicated]);
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}
