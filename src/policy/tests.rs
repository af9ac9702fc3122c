//! Policy validation: every error is reported, with file, field, value and expectation.

use super::*;
use std::path::Path;

const CORE: &str = include_str!("../../policies/emr-platform-core.yaml");
const FULL: &str = include_str!("../../policies/emr-platform.yaml");

fn problems(text: &str) -> Vec<Problem> {
    parse(Path::new("policies/test.yaml"), text)
        .expect_err("the policy should be invalid")
        .problems
}

fn paths(text: &str) -> Vec<String> {
    problems(text).into_iter().map(|p| p.path).collect()
}

#[test]
fn the_shipped_policies_are_valid_and_read_as_specified() {
    let full = parse(Path::new("policies/emr-platform.yaml"), FULL).unwrap();
    assert_eq!(full.name, "emr-platform");
    assert_eq!(full.rto, Duration::from_secs(4 * 3600));
    assert_eq!(full.rpo, Duration::from_secs(15 * 60));
    assert_eq!(full.regions.witness, "us-east-2");
    assert_eq!(full.mode, Mode::Manual);
    assert_eq!(full.detection.consecutive_failures, 3);
    let groups = &full.tiers.node_groups.as_ref().unwrap().groups;
    let sizes: Vec<(&str, Scaling)> = groups
        .iter()
        .map(|g| (g.name.as_str(), g.scaling))
        .collect();
    assert_eq!(
        sizes,
        vec![
            (
                "system-nodes",
                Scaling {
                    min: 3,
                    desired: 3,
                    max: 6
                }
            ),
            (
                "app-nodes",
                Scaling {
                    min: 3,
                    desired: 6,
                    max: 20
                }
            ),
            (
                "db-proxy-nodes",
                Scaling {
                    min: 2,
                    desired: 2,
                    max: 4
                }
            ),
        ]
    );
    assert!(full.tiers.cache.is_some() && full.tiers.stream.is_some());
    let core = parse(Path::new("policies/emr-platform-core.yaml"), CORE).unwrap();
    assert!(core.tiers.cache.is_none() && core.tiers.stream.is_none());
    assert!(core.tiers.database.is_some() && core.tiers.dns.is_some());
}

#[test]
fn an_unknown_tier_is_an_error_naming_it() {
    let text = CORE.replace("tiers:\n", "tiers:\n  queue:\n    name: sqs\n");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "tiers.queue");
    assert!(p[0].expected.contains("unknown tier"));
}

#[test]
fn unknown_fields_anywhere_are_all_reported() {
    let text = CORE
        .replace("  rpo: 15m", "  rpo: 15m\n  rpp: 1m")
        .replace("mode: manual", "mode: manual\nmodee: x");
    assert_eq!(paths(&text), vec!["objectives.rpp", "modee"]);
}

#[test]
fn zero_and_negative_durations_are_errors() {
    let text = CORE
        .replace("rto: 4h", "rto: 0s")
        .replace("probe_interval: 60s", "probe_interval: -5s");
    let p = problems(&text);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].path, "objectives.rto");
    assert_eq!(p[0].expected, "a duration above zero");
    assert_eq!(p[1].path, "detection.probe_interval");
    assert!(p[1].expected.contains("negative"));
}

#[test]
fn an_rpo_above_the_rto_is_an_error() {
    let text = CORE.replace("rpo: 15m", "rpo: 5h");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "objectives.rpo");
    assert_eq!(p[0].value.as_deref(), Some("5h"));
    assert!(p[0].expected.contains("at most the RTO (4h)"));
}

#[test]
fn a_node_group_minimum_above_its_maximum_is_an_error() {
    let text = CORE.replace(
        "{ name: app-nodes,      min: 3, desired: 6, max: 20 }",
        "{ name: app-nodes, min: 30, desired: 6, max: 20 }",
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "tiers.node_groups.groups[1].min");
    assert_eq!(p[0].value.as_deref(), Some("30"));
    assert_eq!(p[0].expected, "at most max (20)");
}

#[test]
fn the_same_region_as_primary_and_secondary_is_an_error() {
    let text = CORE.replace("secondary: us-west-2", "secondary: us-east-1");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "regions.secondary");
    assert_eq!(p[0].expected, "a region other than the primary");
}

#[test]
fn every_problem_is_reported_at_once_with_the_file_named() {
    let text = CORE
        .replace("rpo: 15m", "rpo: 5h")
        .replace("secondary: us-west-2", "secondary: us-east-1")
        .replace("mode: manual", "mode: sometimes")
        .replace("consecutive_failures: 3", "consecutive_failures: 0")
        .replace("tiers:\n", "tiers:\n  queue: {}\n");
    let err = parse(Path::new("policies/broken.yaml"), &text).unwrap_err();
    let got: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "tiers.queue",
            "regions.secondary",
            "objectives.rpo",
            "detection.consecutive_failures",
            "mode"
        ]
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with("policies/broken.yaml: 5 problems"),
        "{shown}"
    );
    assert!(
        shown.contains("policies/broken.yaml: mode: automatic or manual (got \"sometimes\")"),
        "{shown}"
    );
}

#[test]
fn missing_required_fields_are_named() {
    let text = "name: x\ntiers:\n  database: { primary: a }\n";
    let got = paths(text);
    assert_eq!(
        got,
        vec![
            "regions",
            "objectives",
            "detection",
            "mode",
            "tiers.database.replica"
        ]
    );
}

#[test]
fn malformed_yaml_names_the_line() {
    let p = problems("name: [unclosed\n");
    assert_eq!(p.len(), 1);
    assert!(p[0].path.starts_with("line "), "{p:?}");
}

#[test]
fn a_record_outside_its_zone_and_a_bad_region_are_errors() {
    let text = CORE
        .replace("record: api.emr-platform.com", "record: api.example.org")
        .replace("witness: us-east-2", "witness: mars");
    assert_eq!(paths(&text), vec!["regions.witness", "tiers.dns.record"]);
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    let err = load(Path::new("policies/does-not-exist.yaml")).unwrap_err();
    assert_eq!(err.file, Path::new("policies/does-not-exist.yaml"));
    assert!(err.to_string().contains("a readable policy file"));
}

/// The core policy (manual, no cache) with `detection_tail` appended to its
/// detection section and `extra` at the top level.
fn core_with(detection_tail: &str, extra: &str) -> String {
    CORE.replace(
        "  consecutive_failures: 3\n",
        &format!("  consecutive_failures: 3\n{detection_tail}"),
    ) + extra
}

#[test]
fn probes_heartbeats_and_the_manual_timeout_are_read() {
    let full = parse(Path::new("policies/emr-platform.yaml"), FULL).unwrap();
    let d = &full.detection;
    assert_eq!(d.probes.http.len(), 1);
    assert!(d.probes.http[0].url.ends_with("/health"));
    assert_eq!(d.probes.tcp.len(), 1);
    assert!(d.probes.database_status);
    let db = d.heartbeats.database.as_ref().unwrap();
    assert!(db.primary.contains("us-east-1.rds.amazonaws.com"));
    assert_eq!(
        db.password,
        SecretSource::Env("DRCTL_DATABASE_HEARTBEAT_PASSWORD".into())
    );
    assert_eq!(
        full.manual_timeout,
        Some(ManualTimeout {
            after: Duration::from_secs(15 * 60),
            action: TimeoutAction::Wait
        })
    );
    // Without a probes section, a policy with a database probes its status.
    let core = parse(Path::new("policies/emr-platform-core.yaml"), CORE).unwrap();
    assert!(core.detection.probes.database_status);
    assert_eq!(core.detection.heartbeats, Heartbeats::default());
}

#[test]
fn bad_probes_and_heartbeats_are_each_named() {
    let text = core_with(
        "  probes:\n    http: [ftp://x/health, \"https://\"]\n    tcp: [db.internal, \"db:99999\"]\n  heartbeats:\n    database:\n      primary: host=db password=hunter2\n      replica: not-a-conninfo\n      password_env: A\n      password_file: /b\n    cache:\n      primary: redis://:secret@cache:6379\n      replica: redis://cache-dr:6379\n      ca_file: /etc/ca.pem\n",
        "manual_timeout: { after: soon, action: maybe }\n",
    );
    let found = problems(&text);
    let at: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "detection.probes.http[0]",
        "detection.probes.http[1]",
        "detection.probes.tcp[0]",
        "detection.probes.tcp[1]",
        "detection.heartbeats.database.primary",
        "detection.heartbeats.database.replica",
        "detection.heartbeats.database.password_file",
        "detection.heartbeats.cache",
        "detection.heartbeats.cache.primary",
        "detection.heartbeats.cache.ca_file",
        "manual_timeout.after",
        "manual_timeout.action",
    ] {
        assert!(at.contains(&want), "{want} not reported: {found:#?}");
    }
    let secret = found
        .iter()
        .find(|p| p.path == "detection.heartbeats.database.primary")
        .unwrap();
    assert!(
        secret.expected.contains("password_env or password_file"),
        "{secret:?}"
    );
    assert_eq!(secret.value, None, "a password is never echoed back");
}

#[test]
fn a_database_heartbeat_may_trust_a_ca_bundle() {
    let text = core_with(
        "  heartbeats:\n    database:\n      primary: host=db sslmode=require\n      replica: host=db-dr sslmode=require\n      password_file: /run/secrets/hb\n      ca_file: /etc/drctl/rds-global-bundle.pem\n",
        "",
    );
    let p = parse(Path::new("policies/test.yaml"), &text).unwrap();
    let db = p.detection.heartbeats.database.unwrap();
    assert_eq!(
        db.ca_file.as_deref(),
        Some(Path::new("/etc/drctl/rds-global-bundle.pem"))
    );
    assert_eq!(db.password, SecretSource::File("/run/secrets/hb".into()));
}

#[test]
fn a_policy_must_probe_something_and_time_out_only_in_manual_mode() {
    let none = core_with("  probes:\n    database_status: false\n", "");
    assert_eq!(paths(&none), vec!["detection.probes"]);
    let auto = core_with("", "manual_timeout: { after: 15m, action: proceed }\n")
        .replace("mode: manual", "mode: automatic");
    assert_eq!(paths(&auto), vec!["manual_timeout"]);
    let unknown = core_with("  probes:\n    icmp: [x]\n", "");
    assert_eq!(paths(&unknown), vec!["detection.probes.icmp"]);
}

const LOCAL: &str = include_str!("../../deploy/local/emr-platform.yaml");

#[test]
fn the_shipped_policies_probe_the_alb_as_its_public_name() {
    for (file, text) in [
        ("policies/emr-platform.yaml", FULL),
        ("deploy/local/emr-platform.yaml", LOCAL),
    ] {
        let p = parse(Path::new(file), text).unwrap();
        let alb = &p.detection.probes.http[0];
        assert!(alb.url.contains(".us-east-1.elb.amazonaws.com"), "{file}");
        assert_eq!(alb.server_name.as_deref(), Some("api.emr-platform.com"));
        assert_eq!(alb.host.as_deref(), Some("api.emr-platform.com"));
        assert!(alb.tls_verify, "{file}");
        assert_eq!(
            alb.to_string(),
            format!("{} (as api.emr-platform.com)", alb.url)
        );
    }
}

#[test]
fn http_probes_are_urls_or_maps_naming_the_tls_server_and_host() {
    let text = core_with(
        "  probes:\n    http:\n      - https://lb.example.com/health\n      - { url: \"https://lb.example.com/ready\", server_name: api.emr-platform.com, host: \"api.emr-platform.com:8443\" }\n      - { url: \"https://10.0.0.7/health\", tls_verify: false }\n      - { url: \"http://lb.example.com/health\", host: api.emr-platform.com }\n",
        "",
    );
    let p = parse(Path::new("policies/test.yaml"), &text).unwrap();
    let http = &p.detection.probes.http;
    assert_eq!(http[0], HttpProbe::url("https://lb.example.com/health"));
    assert_eq!(
        http[1],
        HttpProbe {
            url: "https://lb.example.com/ready".into(),
            server_name: Some("api.emr-platform.com".into()),
            host: Some("api.emr-platform.com:8443".into()),
            tls_verify: true,
        }
    );
    assert!(!http[2].tls_verify);
    assert_eq!(
        http[2].to_string(),
        "https://10.0.0.7/health (certificate not verified)"
    );
    assert_eq!(http[3].host.as_deref(), Some("api.emr-platform.com"));
}

#[test]
fn bad_http_probe_fields_are_each_named() {
    let text = core_with(
        "  probes:\n    http:\n      - { url: \"https://lb/health\", server_name: \"not a name\" }\n      - { url: \"https://lb/health\", server_name: 10.0.0.7 }\n      - { url: \"http://lb/health\", server_name: api.example.com, tls_verify: false }\n      - { url: \"https://lb/health\", tls_verify: \"no\", sni: x }\n      - { server_name: api.example.com }\n      - { url: \"https://lb/health\", host: \"api example\" }\n      - { url: [x] }\n",
        "",
    );
    let found = problems(&text);
    let at: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        at,
        vec![
            "detection.probes.http[0].server_name",
            "detection.probes.http[1].server_name",
            "detection.probes.http[2].server_name",
            "detection.probes.http[2].tls_verify",
            "detection.probes.http[3].tls_verify",
            "detection.probes.http[3].sni",
            "detection.probes.http[4].url",
            "detection.probes.http[5].host",
            "detection.probes.http[6].url",
        ],
        "{found:#?}"
    );
    let by = |path: &str| found.iter().find(|p| p.path == path).unwrap();
    assert!(by("detection.probes.http[0].server_name")
        .expected
        .contains("a DNS name"));
    assert!(by("detection.probes.http[2].server_name")
        .expected
        .contains("http:// URL"));
    assert_eq!(
        by("detection.probes.http[3].tls_verify").value.as_deref(),
        Some("\"no\"")
    );
    assert!(by("detection.probes.http[3].sni")
        .expected
        .contains("unknown field"));
    assert!(by("detection.probes.http[4].url")
        .expected
        .starts_with("required"));
    // A value that is neither a URL nor a map is a YAML error naming its line.
    let p = problems(&core_with("  probes:\n    http: [[x]]\n", ""));
    assert!(p[0].path.starts_with("line "), "{p:?}");
}

/// The core policy with its probe interval and timeout replaced.
fn timed(interval: &str, timeout: &str) -> String {
    CORE.replace(
        "probe_interval: 60s",
        &format!("probe_interval: {interval}"),
    )
    .replace("probe_timeout: 10s", &format!("probe_timeout: {timeout}"))
}

#[test]
fn probe_timings_that_cannot_work_are_refused_naming_the_field() {
    let p = problems(&timed("1ns", "1ns"));
    let at: Vec<(&str, Option<&str>)> = p
        .iter()
        .map(|p| (p.path.as_str(), p.value.as_deref()))
        .collect();
    assert_eq!(
        at,
        vec![
            ("detection.probe_interval", Some("1ns")),
            ("detection.probe_timeout", Some("1ns"))
        ],
        "{p:#?}"
    );
    assert!(p[0].expected.starts_with("at least 200ms"), "{p:?}");
    assert!(p[1].expected.starts_with("at least 200ms"), "{p:?}");
    assert_eq!(paths(&timed("1s", "1ms")), vec!["detection.probe_timeout"]);
    assert_eq!(
        paths(&timed("100ms", "500ms")),
        vec!["detection.probe_interval", "detection.probe_timeout"]
    );
    let late = problems(&timed("1s", "2s"));
    assert_eq!(late[0].path, "detection.probe_timeout");
    assert_eq!(late[0].expected, "at most the probe interval (1s)");
    // Left out, the timeout is 5s: more than a 1s interval.
    let default = CORE
        .replace("probe_interval: 60s", "probe_interval: 1s")
        .replace("  probe_timeout: 10s\n", "");
    assert_eq!(paths(&default), vec!["detection.probe_timeout"]);
}

#[test]
fn the_probe_timings_in_use_stay_valid() {
    // The shipped policies (60s/10s), the local cluster (1s/500ms), the
    // tests (250ms/200ms, 400ms/300ms) and the loss benchmark (200ms/200ms).
    for (interval, timeout) in [
        ("60s", "10s"),
        ("1s", "500ms"),
        ("1s", "1s"),
        ("250ms", "200ms"),
        ("400ms", "300ms"),
        ("200ms", "200ms"),
    ] {
        let p = parse(Path::new("policies/test.yaml"), &timed(interval, timeout));
        assert!(p.is_ok(), "{interval}/{timeout}: {p:?}");
    }
}

#[test]
fn a_health_check_probe_needs_an_interval_route53_can_serve() {
    let fast = core_with("  probes:\n    health_check: hc-1234\n", "")
        .replace("probe_interval: 60s", "probe_interval: 500ms")
        .replace("probe_timeout: 10s", "probe_timeout: 400ms");
    let p = problems(&fast);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].path, "detection.probe_interval");
    assert!(p[0].expected.contains("health_check"), "{p:?}");
    let ok = fast
        .replace("probe_interval: 500ms", "probe_interval: 1s")
        .replace("probe_timeout: 400ms", "probe_timeout: 500ms");
    assert!(parse(Path::new("policies/test.yaml"), &ok).is_ok());
}
