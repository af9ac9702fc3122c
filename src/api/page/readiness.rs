//! Readiness: the leader's newest evaluation of whether a failover would
//! work now, each check with its sentence, and the predicted RTO.

use std::fmt::Write as _;

use super::html::{badge, esc, ms, open_section};
use super::PageModel;
use crate::api::views::PolicyView;
use crate::readiness::{Status, Verdict};

fn class(s: Status) -> &'static str {
    match s {
        Status::Pass => "ok",
        Status::Warn => "warn",
        Status::Fail => "bad",
    }
}

/// Writes the readiness card.
pub(super) fn render(_: &PageModel, p: &PolicyView, out: &mut String) {
    open_section(out, "readiness", "Readiness");
    let Some(r) = &p.readiness else {
        out.push_str(
            "<p class=\"mute\">Not evaluated yet: the leader evaluates every \
readiness.interval once elected.</p></section>",
        );
        return;
    };
    out.push_str("<p class=\"headline\">");
    let verdict_class = match r.verdict {
        Verdict::Ready => "ok",
        Verdict::Warnings => "warn",
        Verdict::NotReady => "bad",
    };
    badge(out, verdict_class, r.verdict.sentence());
    let _ = write!(
        out,
        " <span class=\"mute\">checked {}; predicted RTO p50 {}, p95 {}</span></p>",
        esc(&r.checked_at),
        ms(r.predicted_rto.p50_ms),
        ms(r.predicted_rto.p95_ms)
    );
    out.push_str("<table><tbody>");
    for c in &r.checks {
        out.push_str("<tr><td>");
        badge(out, class(c.status), c.status.word());
        let _ = write!(
            out,
            "</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.sentence)
        );
    }
    out.push_str("</tbody></table></section>");
}
