//! The two exposition formats of `/metrics`, chosen by the scraper's
//! `Accept` header.
//!
//! `prometheus-client` encodes OpenMetrics text only. In it a counter
//! family is named without `_total` (`# TYPE drctl_failover_requests
//! counter`) while its samples carry it (`drctl_failover_requests_total`),
//! and the exposition ends with `# EOF`. A scraper that asked for the
//! Prometheus text format 0.0.4 reads the family name from the sample, so
//! the OpenMetrics text is rewritten for it: counter families are named
//! with `_total` in `# HELP` and `# TYPE`, `# UNIT` and `# EOF` are
//! dropped, and types without a 0.0.4 equivalent become `untyped`.

use std::collections::HashMap;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsFormat {
    /// OpenMetrics 1.0.0 text, `application/openmetrics-text`.
    OpenMetrics,
    /// Prometheus text 0.0.4, `text/plain; version=0.0.4`.
    Text,
}

impl MetricsFormat {
    /// The format an `Accept` header asks for: OpenMetrics when it lists
    /// `application/openmetrics-text` with a quality at least that of any
    /// text or wildcard type, else Prometheus text.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let (mut open, mut text) = (0.0f32, 0.0f32);
        for range in accept.unwrap_or("").split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => open = open.max(q),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if open > 0.0 && open >= text {
            Self::OpenMetrics
        } else {
            Self::Text
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Rewrites an OpenMetrics exposition as Prometheus text 0.0.4 (see the
/// module documentation).
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let types: HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let family = |name: &str| -> (String, &'static str) {
        match types.get(name).copied() {
            Some("counter") if !name.ends_with("_total") => (format!("{name}_total"), "counter"),
            Some("counter") => (name.to_string(), "counter"),
            Some("gauge") => (name.to_string(), "gauge"),
            Some("histogram") => (name.to_string(), "histogram"),
            Some("summary") => (name.to_string(), "summary"),
            Some("info") => (format!("{name}_info"), "gauge"),
            _ => (name.to_string(), "untyped"),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", family(name).0));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_once(' ').map_or(rest, |(n, _)| n);
            let (name, kind) = family(name);
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if line.starts_with("# UNIT ") || line == "# EOF" || is_created(line, &types) {
            continue;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A counter's `_created` sample, which 0.0.4 has no place for.
fn is_created(line: &str, types: &HashMap<&str, &str>) -> bool {
    let name = line.split(['{', ' ']).next().unwrap_or("");
    name.strip_suffix("_created")
        .is_some_and(|f| types.get(f) == Some(&"counter"))
}

#[cfg(test)]
mod tests;
