//! The fencing section: the lease against detection, methods per tier.

use super::tests_routing::{parsed, problems};
use super::*;

const FULL: &str = include_str!("../../policies/emr-platform.yaml");

/// The shipped policy with its fencing section replaced by `section`.
fn with_fencing(section: &str) -> String {
    let head = FULL.split("\nfencing:").next().unwrap();
    format!("{head}\n{section}")
}

#[test]
fn the_shipped_policy_fences_every_writer_within_the_lease() {
    let p = parsed(FULL).unwrap();
    let f = p.fencing.as_ref().expect("fencing section");
    assert_eq!(f.self_fence_after, Duration::from_secs(120));
    assert_eq!(
        f.earliest_confirmation(&p.detection),
        Duration::from_secs(175)
    );
    assert_eq!(
        f.promotion_not_before(&p.detection),
        Duration::from_secs(185)
    );
    assert!(f.on_return);
    assert_eq!(
        f.database.as_ref().unwrap().roles,
        ["emr_app", "emr_batch", "drctl_heartbeat"]
    );
    assert_eq!(
        f.database.as_ref().unwrap().password,
        SecretSource::Env("DRCTL_FENCE_DATABASE_PASSWORD".into())
    );
    assert_eq!(
        f.cache.as_ref().unwrap().method,
        CacheFenceMethod::ElasticacheUser
    );
    assert_eq!(f.node_groups.as_ref().unwrap().groups, ["app-nodes"]);
    assert_eq!(f.methods().len(), 3);
}

#[test]
fn a_lease_not_shorter_than_the_earliest_confirmation_is_refused() {
    let p = problems(&with_fencing(
        "fencing:\n  self_fence_after: 175s\n  node_groups: { cluster: c, groups: [a] }\n",
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("fencing.self_fence_after: less than 2m 55s"),
        "{p:?}"
    );
    assert!(p[0].contains("(3 × 1m)"), "{p:?}");
    // A larger skew allowance moves the limit.
    let p = problems(&with_fencing(
        "fencing:\n  self_fence_after: 150s\n  max_clock_skew: 40s\n  node_groups: { cluster: c, groups: [a] }\n",
    ));
    assert!(p[0].contains("less than 2m 20s"), "{p:?}");
    assert!(parsed(&with_fencing(
        "fencing:\n  self_fence_after: 170s\n  node_groups: { cluster: c, groups: [a] }\n"
    ))
    .is_ok());
}

#[test]
fn each_method_names_its_problem() {
    let p = problems(&with_fencing(
        "fencing:
  self_fence_after: 60s
  database:
    connection: postgresql://drctl_fence:hunter2@db/postgres
    roles: []
  cache:
    method: acl
    users: [\"emr app\"]
  node_groups: { groups: [a, a] }
",
    ));
    let joined = p.join("\n");
    assert!(
        joined.contains("fencing.database.connection: libpq connection settings"),
        "{joined}"
    );
    assert!(
        !joined.contains("hunter2"),
        "a password is never shown: {joined}"
    );
    assert!(
        joined.contains("fencing.database.roles: at least one application role"),
        "{joined}"
    );
    assert!(
        joined.contains("fencing.cache.connection: required with method acl"),
        "{joined}"
    );
    assert!(joined.contains("fencing.cache.users[0]"), "{joined}");
    assert!(
        joined.contains("fencing.node_groups.cluster: required"),
        "{joined}"
    );
    assert!(
        joined.contains("fencing.node_groups.groups[1]: a node group name not listed twice"),
        "{joined}"
    );
}

#[test]
fn fencing_needs_a_method_and_a_known_cache_method() {
    let p = problems(&with_fencing("fencing:\n  self_fence_after: 60s\n"));
    assert_eq!(
        p,
        ["fencing: at least one of database, cache, node_groups to fence"]
    );
    let p = problems(&with_fencing(
        "fencing:\n  self_fence_after: 60s\n  cache: { method: client_pause, users: [u] }\n",
    ));
    assert!(
        p[0].starts_with("fencing.cache.method: elasticache_user"),
        "{p:?}"
    );
}

#[test]
fn a_policy_without_fencing_fences_nothing() {
    let p = parsed(&with_fencing("")).unwrap();
    assert!(p.fencing.is_none());
}

#[test]
fn a_skew_allowance_as_long_as_detection_is_refused() {
    let p = problems(&with_fencing(
        "fencing:\n  self_fence_after: 1s\n  max_clock_skew: 3m\n  node_groups: { cluster: c, groups: [a] }\n",
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(
            "fencing.max_clock_skew: less than consecutive_failures × probe_interval (3 × 1m)"
        ),
        "{p:?}"
    );
}
