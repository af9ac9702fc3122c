//! Negotiation, the 0.0.4 rewrite and the documented table of families.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::controller::Metrics;

fn sample_metrics() -> Metrics {
    Metrics::with_every_family()
}

#[test]
fn accept_picks_the_format() {
    use MetricsFormat::*;
    let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    assert_eq!(MetricsFormat::negotiate(Some(prometheus)), OpenMetrics);
    assert_eq!(
        MetricsFormat::negotiate(Some("application/openmetrics-text")),
        OpenMetrics
    );
    assert_eq!(MetricsFormat::negotiate(Some("text/plain")), Text);
    assert_eq!(
        MetricsFormat::negotiate(Some("text/plain;version=0.0.4")),
        Text
    );
    assert_eq!(MetricsFormat::negotiate(Some("*/*")), Text);
    assert_eq!(MetricsFormat::negotiate(None), Text);
    assert_eq!(
        MetricsFormat::negotiate(Some("text/plain, application/openmetrics-text;q=0.1")),
        Text
    );
    assert_eq!(
        MetricsFormat::negotiate(Some("application/openmetrics-text;q=0")),
        Text
    );
}

/// `# TYPE` lines of an exposition: family name → type.
fn families(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

#[test]
fn in_text_format_every_sample_s_family_has_help_and_type() {
    let text = sample_metrics().encode(MetricsFormat::Text);
    assert!(!text.contains("# EOF"), "{text}");
    assert!(!text.contains("# UNIT"), "{text}");
    assert!(
        text.contains("# TYPE drctl_failover_requests_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("drctl_failover_requests_total{outcome=\"accepted\"} 1\n"),
        "{text}"
    );
    let types = families(&text);
    let helps: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut samples = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            .unwrap_or(name);
        assert!(types.contains_key(family), "no TYPE for {name}:\n{text}");
        assert!(helps.contains(family), "no HELP for {name}:\n{text}");
        samples += 1;
    }
    assert!(samples > 10, "{text}");
}

#[test]
fn in_openmetrics_the_exposition_ends_with_eof() {
    let open = sample_metrics().encode(MetricsFormat::OpenMetrics);
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(
        open.contains("# TYPE drctl_failover_requests counter\n"),
        "{open}"
    );
}

#[test]
fn the_documented_table_lists_exactly_the_families_served_with_their_types() {
    let served = families(&sample_metrics().encode(MetricsFormat::Text));
    // Every registered family has a sample in `sample_metrics` (an empty
    // family is not exposed), so a family added without one fails here.
    let registered: usize = [
        include_str!("../metrics.rs"),
        include_str!("../metrics_readiness.rs"),
        include_str!("../../notify/metrics.rs"),
    ]
    .iter()
    .map(|src| src.matches("registry.register(").count())
    .sum();
    assert_eq!(served.len(), registered, "families served: {served:?}");
    let spec: serde_yaml_ng::Value = serde_yaml_ng::from_str(crate::api::OPENAPI).unwrap();
    let description = spec["paths"]["/metrics"]["get"]["description"]
        .as_str()
        .expect("/metrics has a description");
    let documented: BTreeMap<String, String> = description
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let (name, rest) = l.split_once('`')?;
            let kind = rest.trim_start_matches([' ', '|']).split(' ').next()?;
            Some((name.to_string(), kind.to_string()))
        })
        .collect();
    assert_eq!(documented, served, "docs/openapi.yaml's /metrics table");
}
