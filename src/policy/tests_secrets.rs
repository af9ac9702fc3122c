//! No secret of a connection string is ever shown: not in a validation
//! error, not in `Debug` or JSON of a policy.

use super::*;
use std::path::Path;

const CORE: &str = include_str!("../../policies/emr-platform-core.yaml");

/// The core policy with `tail` appended to its detection section.
fn core_with(tail: &str) -> String {
    CORE.replace(
        "  consecutive_failures: 3\n",
        &format!("  consecutive_failures: 3\n{tail}"),
    )
}

fn error_text(text: &str) -> (String, Vec<Problem>) {
    let err = parse(Path::new("policies/test.yaml"), text).expect_err("invalid");
    (format!("{err}\n{err:?}"), err.problems)
}

#[test]
fn a_password_in_a_heartbeat_url_is_refused_without_echoing_it() {
    for (tier, url) in [
        ("database", "postgresql://drctl:hunter2@db.internal/app"),
        (
            "database",
            "postgres://drctl:hunter2@db.internal/app?sslmode=require",
        ),
        ("cache", "redis://user:hunter2@cache:6379"),
        ("cache", "rediss://user:hunter2@cache:6379"),
        ("cache", "rediss://:hunter2@cache"),
    ] {
        let text = core_with(&format!(
            "  heartbeats:\n    {tier}:\n      primary: \"{url}\"\n      replica: \"{url}\"\n"
        ));
        let (shown, problems) = error_text(&text);
        assert!(!shown.contains("hunter2"), "{url}: {shown}");
        let primary = format!("detection.heartbeats.{tier}.primary");
        let p = problems.iter().find(|p| p.path == primary).expect(&primary);
        assert!(
            p.expected.contains("password_env or password_file"),
            "{p:?}"
        );
    }
}

#[test]
fn a_refused_value_holding_a_secret_is_shown_redacted() {
    let text = core_with(
        "  probes:\n    http: [\"ftp://probe:hunter2@lb.example.com/health\"]\n  heartbeats:\n    cache:\n      primary: \"memcache://u:hunter2@cache\"\n      replica: \"host=x password = hunter2\"\n",
    );
    let (shown, problems) = error_text(&text);
    assert!(!shown.contains("hunter2"), "{shown}");
    let http = problems
        .iter()
        .find(|p| p.path == "detection.probes.http[0]")
        .unwrap();
    assert_eq!(
        http.value.as_deref(),
        Some("\"ftp://probe:***@lb.example.com/health\"")
    );
}

#[test]
fn a_postgresql_url_without_password_is_a_valid_heartbeat() {
    let text = core_with(
        "  heartbeats:\n    database:\n      primary: postgresql://drctl@db.internal/app\n      replica: postgresql://drctl@db-dr.internal/app\n      password_env: HB_PASSWORD\n",
    );
    let p = parse(Path::new("policies/test.yaml"), &text).unwrap();
    let hb = p.detection.heartbeats.database.unwrap();
    assert_eq!(hb.primary, "postgresql://drctl@db.internal/app");
}

#[test]
fn debug_and_json_of_a_policy_never_show_a_url_password() {
    let text =
        core_with("  probes:\n    http: [\"https://probe:hunter2@lb.example.com/health\"]\n");
    let mut p = parse(Path::new("policies/test.yaml"), &text).unwrap();
    // The probe keeps its credentials to use them.
    assert!(p.detection.probes.http[0].url.contains("hunter2"));
    // A target built in code, not through validation, holds one too.
    p.detection.heartbeats.cache = Some(HeartbeatTarget {
        primary: "redis://:hunter2@cache:6379".into(),
        replica: "host=db password=hunter2".into(),
        password: SecretSource::None,
        ca_file: None,
    });
    let debug = format!("{p:?} {p:#?}");
    let json = serde_json::to_string(&p).unwrap();
    let display = p.detection.probes.http[0].to_string();
    for shown in [&debug, &json, &display] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    assert!(display.starts_with("https://probe:***@lb.example.com/health"));
    assert!(debug.contains("redis://***@cache:6379"), "{debug}");
}
