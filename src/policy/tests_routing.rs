//! Routing controls, the cache fallback and call timeouts in the policy.

use super::*;
use std::path::Path;

const CORE: &str = include_str!("../../policies/emr-platform-core.yaml");
const FULL: &str = include_str!("../../policies/emr-platform.yaml");

/// `text` read as a policy file.
pub(super) fn parsed(text: &str) -> Result<Policy, PolicyError> {
    parse(Path::new("policies/test.yaml"), text)
}

/// The problems of an invalid policy `text`, as sentences.
pub(super) fn problems(text: &str) -> Vec<String> {
    parsed(text)
        .expect_err("the policy should be invalid")
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_shipped_policy_switches_both_records_with_routing_controls_and_the_core_one_by_record() {
    let full = parsed(FULL).unwrap();
    let endpoints = &full.routing_control.as_ref().unwrap().endpoints;
    assert_eq!(endpoints.len(), 5);
    let dns = full.tiers.dns.as_ref().unwrap();
    let stream = full.tiers.stream.as_ref().unwrap();
    assert!(matches!(dns.switch, TrafficSwitch::RoutingControl(_)));
    assert!(matches!(stream.switch, TrafficSwitch::RoutingControl(_)));
    assert_eq!(
        stream.replicator.as_deref(),
        Some("emr-platform-kafka-replicator")
    );
    let cache = full.tiers.cache.as_ref().unwrap();
    assert_eq!(
        cache.when_primary_region_down,
        WhenPrimaryDown::Disassociate
    );
    assert_eq!(cache.failover_timeout, Duration::from_secs(120));
    assert!(!cache.required_for_traffic);
    assert!(full.tiers.database.as_ref().unwrap().required_for_traffic);
    assert_eq!(full.execution.call_timeout, Duration::from_secs(10));
    let core = parsed(CORE).unwrap();
    assert_eq!(
        core.tiers.dns.as_ref().unwrap().switch,
        TrafficSwitch::Record
    );
    assert!(core.routing_control.is_none());
}

#[test]
fn the_activating_regions_endpoint_is_tried_first_and_the_one_being_left_last() {
    let full = parsed(FULL).unwrap();
    let order: Vec<String> = full
        .routing_control
        .unwrap()
        .endpoints_for("us-east-1", "us-west-2")
        .into_iter()
        .map(|e| e.region)
        .collect();
    assert_eq!(order.first().map(String::as_str), Some("us-west-2"));
    assert_eq!(order.last().map(String::as_str), Some("us-east-1"));
}

#[test]
fn bad_routing_control_settings_are_each_named() {
    let arn = |id: &str| {
        format!(
            "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/{id}"
        )
    };
    // Three endpoints removed (two left), one without a region, one not https.
    let text = FULL
        .replace(
            "    - { url: https://host-dzbn3a.eu-west-1.example.aws/v1,      region: eu-west-1 }\n",
            "",
        )
        .replace(
            "    - { url: https://host-dzbn3a.ap-southeast-2.example.aws/v1, region: ap-southeast-2 }\n",
            "",
        )
        .replace(
            "{ url: https://host-dzbn3a.ap-northeast-1.example.aws/v1, region: ap-northeast-1 }",
            "{ url: http://host-dzbn3a.ap-northeast-1.example.aws/v1 }",
        )
        .replacen(
            "arn:aws:route53-recovery-control::123456789012:controlpanel/6bb2c1a3d4e54f5a8b7c9d0e1f2a3b4c/routingcontrol/api0usw2c2d3e4f5",
            &arn("api0use1f8a9b0c1").replace("abc", "6bb2c1a3d4e54f5a8b7c9d0e1f2a3b4c"),
            1,
        )
        .replace(
            "arn:aws:route53-recovery-control::123456789012:controlpanel/6bb2c1a3d4e54f5a8b7c9d0e1f2a3b4c/routingcontrol/kafka0use1a2b3c4",
            "arn:aws:route53:::healthcheck/kafka",
        );
    let p = problems(&text);
    let has = |path: &str, what: &str| {
        assert!(
            p.iter().any(|x| x.starts_with(path) && x.contains(what)),
            "no problem at {path} mentioning {what:?} in {p:#?}"
        )
    };
    has("routing_control.cluster_endpoints: ", "at least 3");
    has("routing_control.cluster_endpoints[2].region", "required");
    has("routing_control.cluster_endpoints[2].url", "https://");
    has(
        "tiers.dns.routing_controls.secondary",
        "other than the primary's",
    );
    has(
        "tiers.stream.routing_controls.primary",
        "routing control ARN",
    );
}

#[test]
fn routing_control_mode_needs_the_cluster_and_both_controls() {
    let no_cluster = FULL
        .split("routing_control:\n  cluster_endpoints:")
        .next()
        .unwrap()
        .to_string()
        + &FULL[FULL.find("\ntiers:").unwrap()..];
    let p = problems(&no_cluster);
    assert!(
        p.iter().any(
            |x| x.starts_with("routing_control.cluster_endpoints: required")
                && x.contains("tiers.dns and tiers.stream")
        ),
        "{p:#?}"
    );
    let no_controls = CORE.replace(
        "    secondary:\n",
        "    mode: routing_control\n    secondary:\n",
    );
    let p = problems(&no_controls);
    assert!(
        p.iter()
            .any(|x| x.starts_with("tiers.dns.routing_controls: required")),
        "{p:#?}"
    );
    let bad_mode = CORE.replace("    secondary:\n", "    mode: arc\n    secondary:\n");
    assert!(problems(&bad_mode)
        .iter()
        .any(|x| x.starts_with("tiers.dns.mode: record or routing_control")));
}

#[test]
fn cache_fallback_and_call_timeouts_are_checked() {
    let text = FULL
        .replace(
            "when_primary_region_down: disassociate",
            "when_primary_region_down: pray",
        )
        .replace("failover_timeout: 2m", "failover_timeout: 0s")
        .replace("call_timeout: 10s", "call_timeout: 5m")
        .replace("connect_timeout: 3s", "connect_timeout: 6m");
    let p = problems(&text);
    for (path, what) in [
        (
            "tiers.cache.when_primary_region_down",
            "disassociate or wait",
        ),
        ("tiers.cache.failover_timeout", "above zero"),
        ("execution.call_timeout", "at most 2m"),
        ("execution.connect_timeout", "at most call_timeout"),
    ] {
        assert!(
            p.iter().any(|x| x.starts_with(path) && x.contains(what)),
            "no problem at {path} mentioning {what:?} in {p:#?}"
        );
    }
}
