//! `drctl history` as one self-contained HTML page: the runs, p50/p95 per
//! step against its budget, and a trend chart of the RTO per run (inline
//! SVG, nothing fetched at view time).

use std::fmt::Write as _;
use std::time::Duration;

use super::html::{escape, STYLE};
use crate::duration;
use crate::history::HistoryReport;

fn ms(v: u64) -> String {
    duration::fmt(Duration::from_millis(v))
}

/// The history as a self-contained HTML page.
pub fn render_history_html(h: &HistoryReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>drctl history: {}</title><style>{STYLE}</style></head><body>\n\
         <h1>History of policy {}</h1>\n<p>{} run(s); RTO objective \
         <span id=\"rto-objective\" data-ms=\"{}\">{}</span></p>\n",
        escape(&h.policy),
        escape(&h.policy),
        h.runs.len(),
        h.rto_objective_ms,
        ms(h.rto_objective_ms)
    );
    if let Some(r) = &h.rto {
        let class = if r.p95_ms <= h.rto_objective_ms {
            "met"
        } else {
            "missed"
        };
        let _ = writeln!(
            out,
            "<p id=\"rto\" class=\"{class}\">RTO over {} completed run(s): p50 {}, p95 {}</p>",
            r.count,
            ms(r.p50_ms),
            ms(r.p95_ms)
        );
    }
    trend(&mut out, h);
    out.push_str(
        "<h2>Steps</h2>\n<table id=\"steps\"><tr><th>step</th><th>runs</th><th>p50</th>\
         <th>p95</th><th>budget</th><th>budget from</th></tr>\n",
    );
    for s in &h.steps {
        let _ = writeln!(
            out,
            "<tr id=\"step-{id}\" class=\"{}\"><td>{id}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            if s.drifted { "drifted missed" } else { "" },
            s.figures.count,
            ms(s.figures.p50_ms),
            ms(s.figures.p95_ms),
            ms(s.budget_ms),
            escape(&s.budget_from),
            id = escape(&s.step),
        );
    }
    out.push_str(
        "</table>\n<h2>Runs</h2>\n<table id=\"runs\"><tr><th>recorded</th>\
        <th>execution</th><th>status</th><th>RTO</th><th>target</th></tr>\n",
    );
    for r in &h.runs {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&r.recorded_at),
            escape(&s.id),
            escape(s.status.label()),
            s.rto_ms.map(ms).unwrap_or_else(|| "-".into()),
            escape(&r.target)
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

/// The RTO of each completed run, in the order recorded, with the
/// objective as a dashed line.
fn trend(out: &mut String, h: &HistoryReport) {
    const W: u64 = 640;
    const H: u64 = 200;
    const PAD: u64 = 40;
    let points: Vec<(usize, u64, &str)> = h
        .runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.summary.rto_ms?, r.summary.id.as_str())))
        .collect();
    // The scale follows the runs, so a trend of minutes is not flattened
    // by an objective of hours; the objective is drawn when it fits.
    let worst = points
        .iter()
        .map(|p| p.1)
        .max()
        .unwrap_or(h.rto_objective_ms);
    let top = (worst + worst / 5).max(1);
    let objective_fits = h.rto_objective_ms <= top;
    let n = h.runs.len().max(2) as u64 - 1;
    let x = |i: usize| PAD + i as u64 * W / n;
    let y = |v: u64| PAD + H - v * H / top;
    let _ = writeln!(
        out,
        "<h2>RTO per run</h2>\n<svg id=\"trend\" role=\"img\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\"><line x1=\"{PAD}\" x2=\"{PAD}\" y1=\"{PAD}\" y2=\"{b}\" stroke=\"#888\"/>\
         <line x1=\"{PAD}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\" stroke=\"#888\"/>\
         <text x=\"0\" y=\"{}\">{}</text><text x=\"0\" y=\"{b}\">0</text>",
        PAD + 4,
        ms(top),
        w = W + 2 * PAD,
        h = H + 2 * PAD,
        b = PAD + H,
        r = PAD + W,
    );
    if objective_fits {
        let o = y(h.rto_objective_ms);
        let _ = writeln!(
            out,
            "<line class=\"objective\" x1=\"{PAD}\" x2=\"{}\" y1=\"{o}\" y2=\"{o}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">objective {}</text>",
            PAD + W,
            PAD + W,
            o.saturating_sub(4),
            ms(h.rto_objective_ms)
        );
    } else {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">objective {}: above every run</text>",
            PAD + W,
            PAD - 8,
            ms(h.rto_objective_ms)
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|&(i, v, _)| format!("{},{}", x(i), y(v)))
        .collect();
    if points.len() > 1 {
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"#8fa8c8\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
    }
    for &(i, v, id) in &points {
        let class = if v <= h.rto_objective_ms {
            "met"
        } else {
            "missed"
        };
        let _ = writeln!(
            out,
            "<circle class=\"run {class}\" cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"currentColor\" \
             data-ms=\"{v}\"><title>{}: {}</title></circle>",
            x(i),
            y(v),
            escape(id),
            ms(v)
        );
    }
    out.push_str("</svg>\n");
}
