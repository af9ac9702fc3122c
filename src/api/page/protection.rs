//! Protection: which region serves traffic, and whether the old primary
//! is fenced (after a failover) or this node fenced its own region.

use std::fmt::Write as _;

use super::html::{badge, esc, open_section};
use super::PageModel;
use crate::api::views::PolicyView;

/// Writes the protection card.
pub(super) fn render(m: &PageModel, p: &PolicyView, out: &mut String) {
    open_section(out, "protection", "Protection");
    let on_primary = p.active_region == p.primary_region;
    let _ = write!(
        out,
        "<p class=\"headline\">Traffic on <b class=\"active-region\">{}</b> ",
        esc(&p.active_region)
    );
    if on_primary {
        badge(out, "ok", "primary region");
        let _ = write!(
            out,
            "</p><p class=\"mute\">DR region {} stands by.</p>",
            esc(&p.secondary_region)
        );
    } else {
        badge(out, "warn", "DR region");
        let _ = write!(
            out,
            "</p><p class=\"mute\">Failed over from {}.</p>",
            esc(&p.primary_region)
        );
    }
    if let Some(why) = &p.old_primary_writable {
        let _ = write!(
            out,
            "<p class=\"bad-box\">Old primary still writable: {}</p>",
            esc(why)
        );
    }
    if let Some(f) = m
        .executions
        .get(&p.name)
        .and_then(|e| e.fence_old_primary.as_ref())
    {
        out.push_str("<p>Old primary fencing: ");
        let class = match f.status {
            s if s.succeeded() => "ok",
            crate::execute::StepStatus::Failed => "bad",
            _ => "warn",
        };
        badge(out, class, f.status.label());
        if let Some(w) = &f.waiting_for {
            let _ = write!(out, " <span class=\"mute\">waiting for {}</span>", esc(w));
        }
        out.push_str("</p>");
        list(out, &f.outcome);
    }
    if let Some(s) = &p.self_fenced {
        let _ = write!(
            out,
            "<p class=\"bad-box\">This node fenced its region's writers at {}: {}. \
Lifted only by <code>drctl unfence --confirm</code>.</p>",
            esc(&s.at),
            esc(&s.because)
        );
        list(out, &s.outcome);
    }
    out.push_str("</section>");
}

fn list(out: &mut String, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    out.push_str("<ul>");
    for l in lines {
        let _ = write!(out, "<li>{}</li>", esc(l));
    }
    out.push_str("</ul>");
}
