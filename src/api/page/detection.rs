//! What the detector sees: the verdict as its sentence, each site's newest
//! probes and each data tier's exposure against the RPO.

use std::fmt::Write as _;

use super::html::{badge, cells, esc, ms, open_section};
use super::PageModel;
use crate::api::views::PolicyView;
use crate::detect::Health;

/// The primary's health in a word, for the title and the verdict badge.
pub(super) fn health_label(p: &PolicyView) -> &'static str {
    match p.verdict.health {
        Health::Unknown => "unknown",
        Health::Healthy => "healthy",
        Health::Suspect => "suspect",
        Health::Down => "down",
    }
}

fn health_class(h: Health) -> &'static str {
    match h {
        Health::Healthy => "ok",
        Health::Suspect => "warn",
        Health::Down => "bad",
        Health::Unknown => "mute",
    }
}

/// Writes the verdict card.
pub(super) fn verdict(_: &PageModel, p: &PolicyView, out: &mut String) {
    let v = &p.verdict;
    let class = health_class(v.health);
    let _ = write!(
        out,
        "<section class=\"card verdict {class}\"><h3>Verdict</h3>"
    );
    out.push_str("<p>");
    badge(out, class, &format!("primary {}", health_label(p)));
    out.push(' ');
    badge(out, "info", &format!("action: {}", v.action.label()));
    out.push_str("</p>");
    let _ = write!(out, "<p class=\"sentence\">{}</p>", esc(&v.reason));
    if let Some(at) = v.confirmed_at_ms {
        let _ = write!(
            out,
            "<p class=\"mute\">confirmed at {}</p>",
            esc(&crate::execute::rfc3339_ms(at))
        );
    }
    out.push_str("</section>");
}

/// Writes each site's newest probe round.
pub(super) fn probes(_: &PageModel, p: &PolicyView, out: &mut String) {
    open_section(out, "probes", "Newest probes per site");
    if p.probes.is_empty() {
        out.push_str("<p class=\"mute\">No probe round received yet.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>site</th><th>round</th><th>probe</th><th>result</th>\
<th>latency</th><th>detail</th></tr></thead><tbody>",
    );
    for site in &p.probes {
        let fresh = p
            .verdict
            .sites
            .iter()
            .find(|s| s.site == site.site)
            .is_none_or(|s| s.fresh);
        let rows = site.results.len().max(1);
        let _ = write!(
            out,
            "<tr><td class=\"nowrap\" rowspan=\"{rows}\">{}<br><span class=\"mute\">node {}</span></td>\
<td class=\"nowrap\" rowspan=\"{rows}\">#{}<br><span class=\"mute\">{}</span>",
            esc(&site.site),
            site.node,
            site.round,
            esc(&site.at)
        );
        if !fresh {
            out.push_str("<br>");
            badge(out, "warn", "stale");
        }
        if site.consecutive_failures > 0 {
            out.push_str("<br>");
            badge(
                out,
                "bad",
                &format!("{} failed in a row", site.consecutive_failures),
            );
        }
        out.push_str("</td>");
        if site.results.is_empty() {
            out.push_str("<td colspan=\"4\" class=\"mute\">no probes</td></tr>");
            continue;
        }
        for (i, r) in site.results.iter().enumerate() {
            if i > 0 {
                out.push_str("<tr>");
            }
            cells(out, &[&r.target]);
            out.push_str("<td>");
            match (r.ok, r.inconclusive) {
                (_, true) => badge(out, "warn", "inconclusive"),
                (true, _) => badge(out, "ok", "ok"),
                (false, _) => badge(out, "bad", "failed"),
            }
            out.push_str("</td>");
            let _ = write!(out, "<td class=\"nowrap\">{}</td>", ms(r.latency_ms));
            cells(out, &[r.detail.as_deref().unwrap_or("")]);
            out.push_str("</tr>");
        }
    }
    out.push_str("</tbody></table></section>");
}

/// Writes each tier's exposure against the RPO, with a bar.
pub(super) fn exposure(_: &PageModel, p: &PolicyView, out: &mut String) {
    open_section(out, "exposure", "Data-loss exposure against the RPO");
    if p.exposure.is_empty() {
        out.push_str("<p class=\"mute\">No data tier measured yet.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>tier</th><th>exposure</th><th>RPO</th><th></th>\
<th>source</th></tr></thead><tbody>",
    );
    for t in &p.exposure {
        let (text, pct, class) = match t.exposure_ms {
            Some(e) => {
                let pct = (e.saturating_mul(100) / t.rpo_ms.max(1)).min(100);
                (ms(e), pct, if t.within_rpo { "ok" } else { "bad" })
            }
            None => ("unknown".to_string(), 100, "warn"),
        };
        let _ = write!(out, "<tr><td>{}</td>", esc(t.tier.name()));
        cells(out, &[&text, &ms(t.rpo_ms)]);
        let _ = write!(
            out,
            "<td class=\"barcell\"><div class=\"track\"><div class=\"bar {class}\" style=\"width:{pct}%\"></div></div></td>"
        );
        cells(out, &[&t.source]);
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}
