//! The current or last execution as a timeline: one row per step with its
//! status, start, end and duration, and a bar placed on the execution's
//! span. A running step's bar reaches the newest time the journal knows.

use std::fmt::Write as _;

use super::html::{badge, cells, esc, ms, open_section};
use super::PageModel;
use crate::api::views::{ExecutionView, PolicyView};
use crate::execute::{ExecutionStatus, StepRecord, StepStatus};

fn execution_class(s: ExecutionStatus) -> &'static str {
    match s {
        ExecutionStatus::Running => "info",
        ExecutionStatus::Completed | ExecutionStatus::AlreadyComplete => "ok",
        ExecutionStatus::Refused | ExecutionStatus::PreflightFailed => "warn",
        ExecutionStatus::Failed => "bad",
    }
}

fn step_class(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Pending | StepStatus::NotRun => "mute",
        StepStatus::Running => "info",
        StepStatus::Done | StepStatus::AlreadyDone => "ok",
        StepStatus::Failed => "bad",
    }
}

/// The end of the execution's span: the newest time any step recorded.
fn span_ms(steps: &[StepRecord]) -> u64 {
    steps
        .iter()
        .flat_map(|s| [s.started_ms, s.ended_ms])
        .flatten()
        .max()
        .unwrap_or(0)
}

/// Writes the timeline card.
pub(super) fn render(m: &PageModel, p: &PolicyView, out: &mut String) {
    open_section(out, "timeline", "Execution");
    let Some(e) = m.executions.get(&p.name) else {
        out.push_str("<p class=\"mute\">No failover has run for this policy.</p></section>");
        return;
    };
    header(e, out);
    steps(e, out);
    out.push_str("</section>");
}

fn header(e: &ExecutionView, out: &mut String) {
    let s = &e.summary;
    let _ = write!(
        out,
        "<p class=\"headline\"><code class=\"execution-id\">{}</code> ",
        esc(&s.id)
    );
    badge(out, execution_class(s.status), s.status.label());
    let _ = write!(
        out,
        " {} → {} · {} of {} steps done</p><p class=\"mute\">started {} by {}",
        esc(&e.from_region),
        esc(&e.to_region),
        s.steps_done,
        s.steps_total,
        esc(&s.started_at),
        esc(&s.requested_by)
    );
    if let Some(r) = &s.reason {
        let _ = write!(out, ": <q class=\"reason\">{}</q>", esc(r));
    }
    if let Some(what) = s.interruptions() {
        let _ = write!(out, " · {what}");
    }
    out.push_str("</p>");
    if let Some(pl) = &s.placement {
        let _ = write!(out, "<p class=\"warn-box\">{}</p>", esc(pl));
    }
    if let Some(sum) = &s.summary {
        let _ = write!(out, "<p class=\"sentence\">{}</p>", esc(sum));
    }
}

fn steps(e: &ExecutionView, out: &mut String) {
    let span = span_ms(&e.steps).max(1);
    out.push_str(
        "<table class=\"steps\"><thead><tr><th>step</th><th>status</th><th>start</th>\
<th>end</th><th>duration</th><th class=\"barcell\">timeline</th></tr></thead><tbody>",
    );
    for st in &e.steps {
        let _ = write!(
            out,
            "<tr class=\"step {}\" data-step=\"{}\"><td><b>{}</b>",
            step_class(st.status),
            esc(&st.id),
            esc(&st.id)
        );
        if let Some(r) = &st.resource {
            let _ = write!(out, "<br><span class=\"mute\">{}</span>", esc(r));
        }
        if let Some(o) = &st.outcome {
            let _ = write!(out, "<br><span class=\"outcome\">{}</span>", esc(o));
        }
        out.push_str("</td><td>");
        badge(out, step_class(st.status), st.status.label());
        if st.attempts > 1 {
            let _ = write!(out, " <span class=\"mute\">{} attempts</span>", st.attempts);
        }
        out.push_str("</td>");
        let at = |t: Option<u64>| t.map_or_else(|| "—".to_string(), |t| format!("+{}", ms(t)));
        let duration = match (st.duration_ms(), st.started_ms) {
            (Some(d), _) => ms(d),
            (None, Some(s)) if st.status == StepStatus::Running => {
                format!("{}…", ms(span.saturating_sub(s)))
            }
            _ => "—".to_string(),
        };
        cells(out, &[&at(st.started_ms), &at(st.ended_ms), &duration]);
        out.push_str("<td class=\"barcell\"><div class=\"track\">");
        if let Some(start) = st.started_ms {
            let end = st.ended_ms.unwrap_or(span).max(start);
            let left = start.saturating_mul(1000) / span;
            let width = (end - start).saturating_mul(1000) / span;
            let _ = write!(
                out,
                "<div class=\"bar {}\" style=\"margin-left:{}.{}%;width:max({}.{}%,3px)\"></div>",
                step_class(st.status),
                left / 10,
                left % 10,
                width / 10,
                width % 10
            );
        }
        out.push_str("</div></td></tr>");
    }
    out.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_is_the_newest_time_the_journal_knows() {
        let step = |s: Option<u64>, e: Option<u64>| StepRecord {
            id: "x".into(),
            kind: crate::plan::StepKind::Preflight,
            after: vec![],
            resource: None,
            status: StepStatus::Done,
            attempts: 1,
            started_ms: s,
            ended_ms: e,
            outcome: None,
            change_id: None,
            epoch: None,
            acting_ms: None,
            waiting_ms: None,
            first_started_at_ms: None,
        };
        assert_eq!(span_ms(&[]), 0);
        assert_eq!(
            span_ms(&[step(Some(0), Some(40)), step(Some(70), None)]),
            70
        );
    }
}
