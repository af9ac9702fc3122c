//! The execution report as one self-contained HTML file: inline CSS and
//! inline SVG, no script, no external resource, nothing fetched at view
//! time. Every string from the record is escaped.

use std::fmt::Write as _;
use std::time::Duration;

use super::{override_line, status_name, Report};
use crate::duration;
use crate::execute::{StepRecord, StepStatus, TimeBasis};

/// The page's style: kept small and inline so the file stands alone.
pub(crate) const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}\
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}\
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.met{color:#11772d}.missed{color:#b00020;font-weight:bold}\
tr.critical td:first-child{font-weight:bold}tr.critical{background:#fff4d6}\
svg text{font:12px system-ui,sans-serif}\
rect.step{fill:#8fa8c8}rect.step.critical{fill:#e08a00}rect.step.failed{fill:#b00020}\
rect.wait{fill:#e4e4e4}rect.acting{fill:#1f3a5f}rect.waiting{fill:#ffffff;fill-opacity:.45}\
.swatch{display:inline-block;width:1em;height:.8em;margin:0 .3em 0 1em;vertical-align:middle}\
line.objective{stroke:#b00020;stroke-dasharray:4 3}\
.note{color:#666}";

/// `text` with the five HTML metacharacters replaced by entities, safe in
/// element content and in double- or single-quoted attribute values (the
/// status page escapes with it too).
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn ms(v: u64) -> String {
    duration::fmt(Duration::from_millis(v))
}

/// The report as a self-contained HTML page.
pub fn render_html(r: &Report) -> String {
    let mut out = String::new();
    let title = format!("drctl report: execution {}", r.execution_id);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(&title)
    );
    let _ = writeln!(
        out,
        "<h1>Execution <span id=\"execution-id\">{}</span></h1>\n<p>policy {} ({} → {}) on {}, started {}</p>",
        escape(&r.execution_id),
        escape(&r.policy),
        escape(&r.from_region),
        escape(&r.to_region),
        escape(&r.target),
        escape(&r.started_at)
    );
    let _ = writeln!(
        out,
        "<p id=\"result\">result: <strong>{}</strong>: {}</p>",
        escape(r.status.label()),
        escape(&r.summary)
    );
    figures(&mut out, r);
    timeline(&mut out, r);
    steps_table(&mut out, r);
    exposure(&mut out, r);
    decisions(&mut out, r);
    out.push_str("</body></html>\n");
    out
}

fn figures(out: &mut String, r: &Report) {
    let basis = match r.time_basis {
        TimeBasis::Modeled => "modeled on the simulated cloud's clock",
        TimeBasis::Wall => "measured wall time",
    };
    let (class, word) = if r.rto_met {
        ("met", "within")
    } else {
        ("missed", "ABOVE")
    };
    let _ = writeln!(
        out,
        "<h2>Objectives</h2>\n<table id=\"figures\">\
         <tr><th>RTO</th><td id=\"rto\" class=\"{class}\" data-ms=\"{}\">{}</td>\
         <td>{word} the objective of <span id=\"rto-objective\" data-ms=\"{}\">{}</span> ({basis})</td></tr>",
        r.rto_ms,
        ms(r.rto_ms),
        r.policy_rto_ms,
        ms(r.policy_rto_ms)
    );
    let rpo_class = if r.rpo.met || r.rpo.accepted_ms.is_some() {
        "met"
    } else {
        "missed"
    };
    let _ = writeln!(
        out,
        "<tr><th>RPO</th><td id=\"rpo\" class=\"{rpo_class}\">{}</td><td>objective \
         <span id=\"rpo-objective\" data-ms=\"{}\">{}</span></td></tr>",
        escape(&r.rpo.render()),
        r.rpo.policy_rpo_ms,
        ms(r.rpo.policy_rpo_ms)
    );
    if let Some(line) = r.phases_line() {
        let _ = writeln!(
            out,
            "<tr><th>Phases</th><td id=\"phases\" colspan=\"2\">{}</td></tr>",
            escape(&line)
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>Critical path</th><td id=\"critical-path\" colspan=\"2\">{}</td></tr></table>",
        escape(&r.critical_path.join(" → "))
    );
}

/// When a step could have started: the latest end among its dependencies.
fn ready_at(r: &Report, s: &StepRecord) -> Option<u64> {
    s.after
        .iter()
        .filter_map(|d| r.steps.iter().find(|x| &x.id == d))
        .filter_map(|d| d.ended_ms)
        .max()
}

fn timeline(out: &mut String, r: &Report) {
    const LABEL: u64 = 230;
    const WIDTH: u64 = 640;
    const ROW: u64 = 22;
    let span = r
        .rto_ms
        .max(r.steps.iter().filter_map(|s| s.ended_ms).max().unwrap_or(0));
    let scale = |v: u64| LABEL + v.min(span) * WIDTH / span.max(1);
    let height = ROW * (r.steps.len() as u64 + 1) + 10;
    let _ = writeln!(
        out,
        "<h2>Timeline</h2>\n<p class=\"note\">Each bar runs from a step's start to its end; \
         grey before it is time spent waiting after its dependencies ended; orange bars are on \
         the critical path.</p>\n<p id=\"timeline-legend\" class=\"note\">Within a bar:\
         <span class=\"swatch\" style=\"background:#1f3a5f\"></span>acting (inside the mutating \
         calls)<span class=\"swatch\" style=\"background:#c8d4e4\"></span>waiting (backoff, a busy \
         resource, polling for the postcondition); the rest of a bar is its check.</p>\n\
         <svg id=\"timeline\" role=\"img\" width=\"{}\" height=\"{height}\" \
         viewBox=\"0 0 {} {height}\">",
        LABEL + WIDTH + 20,
        LABEL + WIDTH + 20
    );
    for (i, s) in r.steps.iter().enumerate() {
        let y = ROW * i as u64 + 4;
        let id = escape(&s.id);
        let _ = writeln!(out, "<text x=\"0\" y=\"{}\">{id}</text>", y + 14);
        let (Some(start), Some(end)) = (s.started_ms, s.ended_ms) else {
            continue;
        };
        if let Some(ready) = ready_at(r, s).filter(|&t| t < start) {
            let _ = writeln!(
                out,
                "<rect class=\"wait\" x=\"{}\" y=\"{y}\" width=\"{}\" height=\"16\"><title>{id}: waited {}</title></rect>",
                scale(ready),
                scale(start) - scale(ready),
                ms(start - ready)
            );
        }
        let critical = r.critical_path.contains(&s.id);
        let class = match (critical, s.status) {
            (_, StepStatus::Failed) => "step failed",
            (true, _) => "step critical",
            _ => "step",
        };
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" data-step=\"{id}\" x=\"{}\" y=\"{y}\" width=\"{}\" height=\"16\">\
             <title>{id}: {} → {} ({}), {} attempt(s)</title></rect>",
            scale(start),
            (scale(end) - scale(start)).max(1),
            ms(start),
            ms(end),
            ms(end - start),
            s.attempts
        );
        phase_segments(out, s, (start, end), &scale, y);
    }
    let x = scale(r.policy_rto_ms);
    if r.policy_rto_ms <= span {
        let _ = writeln!(
            out,
            "<line class=\"objective\" x1=\"{x}\" x2=\"{x}\" y1=\"0\" y2=\"{height}\"/>"
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{LABEL}\" y=\"{}\">0</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text></svg>",
        height - 4,
        LABEL + WIDTH,
        height - 4,
        ms(span)
    );
}

/// The acting and waiting segments inside a step's bar. The act phase
/// ends with the step, so it starts `acting + waiting` before the end; the
/// acting segment is drawn first (the first call opens the phase), the
/// waiting one after it.
fn phase_segments(
    out: &mut String,
    s: &StepRecord,
    (start, end): (u64, u64),
    scale: &impl Fn(u64) -> u64,
    y: u64,
) {
    let (Some(acting), Some(waiting)) = (s.acting_ms, s.waiting_ms) else {
        return;
    };
    let from = end.saturating_sub(acting + waiting).max(start);
    let id = escape(&s.id);
    let mid = (from + acting).min(end);
    for (class, a, b, what) in [
        ("acting", from, mid, format!("acting {}", ms(acting))),
        ("waiting", mid, end, format!("waiting {}", ms(waiting))),
    ] {
        if b <= a {
            continue;
        }
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" data-step=\"{id}\" data-ms=\"{}\" x=\"{}\" y=\"{}\" \
             width=\"{}\" height=\"10\"><title>{id}: {what}</title></rect>",
            b - a,
            scale(a),
            y + 3,
            (scale(b) - scale(a)).max(1)
        );
    }
}

fn steps_table(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "<h2>Steps</h2>\n<table id=\"steps\"><tr><th>step</th><th>start</th><th>end</th>\
         <th>duration</th><th>waited</th><th>attempts</th><th>status</th><th>outcome</th></tr>"
    );
    let t = |v: Option<u64>| v.map(ms).unwrap_or_else(|| "-".into());
    for s in &r.steps {
        let critical = r.critical_path.contains(&s.id);
        let waited = match (ready_at(r, s), s.started_ms) {
            (Some(ready), Some(start)) if ready < start => ms(start - ready),
            (_, Some(_)) => "0s".into(),
            _ => "-".into(),
        };
        let acting = match s.status {
            StepStatus::AlreadyDone => " (already held: no call)".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr id=\"step-{id}\" class=\"{}\"><td>{id}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{waited}</td>\
             <td class=\"num\">{}</td><td>{}{acting}</td><td>{}</td></tr>",
            if critical { "critical" } else { "" },
            t(s.started_ms),
            t(s.ended_ms),
            t(s.duration_ms()),
            s.attempts,
            status_name(s.status),
            escape(s.outcome.as_deref().unwrap_or("")),
            id = escape(&s.id),
        );
    }
    out.push_str("</table>\n");
}

fn exposure(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "<h2>Data-loss exposure</h2>\n<table id=\"exposure\"><tr><th>tier</th>\
         <th>exposure</th><th>against the RPO of {}</th><th>source</th></tr>",
        ms(r.rpo.policy_rpo_ms)
    );
    for t in &r.rpo.tiers {
        let verdict = match t.exposure {
            _ if t.already_failed_over => "already failed over".to_string(),
            crate::model::Exposure::Known(d) if d.as_millis() as u64 <= r.rpo.policy_rpo_ms => {
                "within".into()
            }
            crate::model::Exposure::Known(_) => "ABOVE".into(),
            crate::model::Exposure::Unknown => "unknown: unbounded".into(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&t.tier.to_string()),
            escape(&t.exposure.to_string()),
            escape(&verdict),
            escape(t.source.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</table>\n");
    let basis = match &r.rpo.basis {
        Some(b) => b.to_string(),
        None => "the RPO gate did not run".into(),
    };
    let _ = writeln!(out, "<p id=\"rpo-basis\">basis: {}</p>", escape(&basis));
}

fn decisions(out: &mut String, r: &Report) {
    let mut lines: Vec<(&str, String)> = Vec::new();
    for d in &r.decisions {
        lines.push(("decision", format!("{} ({}): {}", d.step, d.at, d.what)));
    }
    for o in &r.overrides {
        lines.push(("override", override_line(o)));
    }
    if let Some(f) = &r.fence_old_primary {
        lines.push(("after", f.line()));
    }
    for d in r.divergence.iter().flat_map(|d| d.lines()) {
        lines.push(("divergence", d));
    }
    for (step, why) in &r.depends_on_primary {
        for w in why {
            lines.push(("depends", format!("needs {}: {step}: {w}", r.from_region)));
        }
    }
    out.push_str("<h2>Decisions and overrides</h2>\n<ul id=\"decisions\">\n");
    if lines.is_empty() {
        out.push_str("<li class=\"note\">none: every step ran as planned</li>\n");
    }
    for (class, l) in lines {
        let _ = writeln!(out, "<li class=\"{class}\">{}</li>", escape(&l));
    }
    out.push_str("</ul>\n<h2>Audit</h2>\n<ul id=\"audit\">\n");
    if r.audit.is_empty() {
        out.push_str("<li class=\"note\">no audit lines in this record (the controller cluster keeps them)</li>\n");
    }
    for a in &r.audit {
        let _ = writeln!(out, "<li>{}</li>", escape(a));
    }
    out.push_str("</ul>\n");
}

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
