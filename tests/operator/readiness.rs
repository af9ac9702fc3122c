//! Readiness on the simulated cloud: ready out of the box, then each fault
//! in turn turns exactly its check to fail, with its sentence, and leaves
//! every other check as it was. Also `drctl check --sim` as a user runs it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli_support::drctl;
use drctl::cloud::sim::{is_mutating, SimCloud, SimOptions};
use drctl::cloud::Scaling;
use drctl::model::DataTier;
use drctl::model::Exposure;
use drctl::policy::Policy;
use drctl::readiness::{evaluate, Inputs, Readiness, SiteBeat, Status, Verdict, CHECKS};

const NOW_MS: u64 = 1_796_126_405_000;

fn policy() -> Policy {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(drctl::policy::DEFAULT_POLICY);
    drctl::policy::load(&path).expect("the shipped policy is valid")
}

fn sites(policy: &Policy, age_of: impl Fn(&str) -> u64) -> Vec<SiteBeat> {
    let r = &policy.regions;
    [&r.primary, &r.secondary, &r.witness]
        .into_iter()
        .map(|s| SiteBeat {
            site: s.clone(),
            last_at_ms: Some(NOW_MS - age_of(s)),
            received_at_ms: Some(NOW_MS - age_of(s) + 500),
        })
        .collect()
}

/// Evaluates on a fresh simulated cloud after `fault` changed it.
async fn with(fault: impl FnOnce(&Policy, &SimCloud), stale: Option<&str>) -> Readiness {
    let beats = |p: &Policy| sites(p, |s| if Some(s) == stale { 600_000 } else { 1_000 });
    with_sites(fault, beats).await
}

/// Evaluates on a fresh simulated cloud after `fault`, with the sites'
/// rounds `beats` gives.
async fn with_sites(
    fault: impl FnOnce(&Policy, &SimCloud),
    beats: impl FnOnce(&Policy) -> Vec<SiteBeat>,
) -> Readiness {
    let policy = policy();
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    fault(&policy, &sim);
    let beats = beats(&policy);
    let inputs = Inputs {
        sites: Some(beats),
        now_ms: NOW_MS,
        ..Inputs::default()
    };
    let r = evaluate(&sim, &policy, &inputs).await;
    assert!(sim.mutations().is_empty(), "readiness changed something");
    let writes: Vec<_> = sim
        .calls()
        .into_keys()
        .filter(|op| op.parse().is_ok_and(is_mutating))
        .collect();
    assert!(writes.is_empty(), "mutating calls: {writes:?}");
    r
}

/// Asserts that `check` alone fails, its sentence containing every one of
/// `says`, and every other check passes as it does out of the box.
fn only_fails(r: &Readiness, check: &str, says: &[&str]) {
    assert!(CHECKS.contains(&check));
    assert_eq!(r.verdict, Verdict::NotReady, "{}", r.render_text());
    for c in &r.checks {
        if c.name == check {
            assert_eq!(c.status, Status::Fail, "{}", r.render_text());
            for s in says {
                assert!(
                    c.sentence.contains(s),
                    "{check}: {:?} lacks {s:?}",
                    c.sentence
                );
            }
        } else {
            assert_eq!(
                c.status,
                Status::Pass,
                "{} changed: {}",
                c.name,
                r.render_text()
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_shipped_policy_is_ready_on_the_simulated_cloud() {
    let r = with(|_, _| {}, None).await;
    assert_eq!(r.verdict, Verdict::Ready, "{}", r.render_text());
    let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, CHECKS);
    assert!(r.predicted_rto.p95_ms >= r.predicted_rto.p50_ms);
    assert!(r.predicted_rto.p50_ms > 0);
}

#[tokio::test(start_paused = true)]
async fn a_missing_replica_fails_the_dr_resources_check() {
    let r = with(
        |_, sim| sim.remove("rds:us-west-2/emr-platform-prod-dr").unwrap(),
        None,
    )
    .await;
    only_fails(
        &r,
        "dr-resources",
        &["emr-platform-prod-dr", "does not exist"],
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_dr_msk_cluster_fails_the_dr_resources_check() {
    // The replicator's state is judged on its own (readiness_dr.rs).
    let r = with(
        |_, sim| sim.remove("kafka:us-west-2/emr-platform-kafka-dr").unwrap(),
        None,
    )
    .await;
    only_fails(&r, "dr-resources", &["emr-platform-kafka-dr"]);
}

#[tokio::test(start_paused = true)]
async fn a_node_group_maximum_below_its_target_fails_the_capacity_check() {
    let r = with(
        |_, sim| {
            let low = Scaling {
                min: 1,
                desired: 1,
                max: 4,
            };
            sim.set_node_group_scaling("us-west-2", "emr-integration-dr", "app-nodes", low)
                .unwrap();
        },
        None,
    )
    .await;
    only_fails(&r, "node-group-capacity", &["app-nodes", "at most 4", "20"]);
}

#[tokio::test(start_paused = true)]
async fn a_vcpu_quota_without_room_fails_the_quota_check() {
    let r = with(|_, sim| sim.set_vcpu_quota("us-west-2", 100.0), None).await;
    only_fails(
        &r,
        "vcpu-quota",
        &["L-1216C47A", "quota increase", "us-west-2"],
    );
}

#[tokio::test(start_paused = true)]
async fn four_routing_control_endpoints_down_fail_the_routing_control_check() {
    let r = with(
        |_, sim| {
            sim.set_routing_endpoints_down(
                ["us-east-1", "eu-west-1", "ap-southeast-2", "ap-northeast-1"].map(String::from),
            )
        },
        None,
    )
    .await;
    only_fails(&r, "routing-control", &["only 1 of 5", "eu-west-1"]);
}

#[tokio::test(start_paused = true)]
async fn a_missing_permission_fails_the_permissions_check() {
    let r = with(|_, sim| sim.deny_action("rds:PromoteReadReplica"), None).await;
    only_fails(
        &r,
        "permissions",
        &["rds:PromoteReadReplica", "implicitDeny"],
    );
}

#[tokio::test(start_paused = true)]
async fn lag_above_the_rpo_fails_the_exposure_check() {
    let r = with(
        |_, sim| {
            sim.set_lag(
                DataTier::Database,
                Exposure::Known(Duration::from_secs(40 * 60)),
            )
        },
        None,
    )
    .await;
    only_fails(&r, "exposure", &["database", "40m", "above the RPO of 15m"]);
}

#[tokio::test(start_paused = true)]
async fn a_stale_heartbeat_fails_the_heartbeats_check() {
    let r = with(|_, _| {}, Some("us-east-2")).await;
    only_fails(&r, "heartbeats", &["us-east-2", "10m"]);
}

#[tokio::test(start_paused = true)]
async fn a_site_clock_ahead_by_more_than_the_skew_fails_the_clocks_check() {
    // us-west-2 stamps its rounds 12s ahead of when they arrive here;
    // fencing.max_clock_skew is 5s.
    let r = with_sites(
        |_, _| {},
        |p| {
            let mut beats = sites(p, |_| 1_000);
            let west = beats.iter_mut().find(|b| b.site == "us-west-2").unwrap();
            west.received_at_ms = west.last_at_ms.map(|at| at - 12_000);
            beats
        },
    )
    .await;
    only_fails(
        &r,
        "clocks",
        &["us-west-2's clock is 12s ahead", "max_clock_skew 5s"],
    );
}

/// `drctl check --sim` recording into `history`, as a user runs it: it
/// exits 0 (ready); its standard output.
pub(crate) fn check_sim_ready(history: &std::path::Path) -> String {
    let out = drctl()
        .args(["check", "--sim", "--history-dir"])
        .arg(history)
        .assert()
        .code(0);
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

#[test]
fn drctl_check_sim_is_ready_out_of_the_box() {
    let history = tempfile::tempdir().unwrap();
    let stdout = check_sim_ready(history.path());
    for c in CHECKS {
        assert!(
            stdout.contains(&format!("PASS {c}")),
            "{c} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("predicted RTO: p50"), "{stdout}");
    assert!(stdout.contains("READY"), "{stdout}");
}

#[test]
fn drctl_check_sim_json_carries_every_check_and_the_verdict() {
    let history = tempfile::tempdir().unwrap();
    let out = drctl()
        .args(["check", "--sim", "--output", "json", "--history-dir"])
        .arg(history.path())
        .assert()
        .code(0);
    let r: Readiness = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(r.verdict, Verdict::Ready);
    let by_name: BTreeMap<_, _> = r
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(by_name.len(), CHECKS.len());
}

#[test]
fn drctl_check_exits_5_with_warnings_and_6_when_not_ready() {
    let history = tempfile::tempdir().unwrap();
    let run = |lag: &str, code: i32| {
        let out = drctl()
            .args(["check", "--sim", "--lag", lag, "--history-dir"])
            .arg(history.path())
            .assert()
            .code(code);
        String::from_utf8_lossy(&out.get_output().stdout).into_owned()
    };
    let warned = run("database=10m", 5);
    assert!(warned.contains("WARN exposure"), "{warned}");
    assert!(warned.contains("READY WITH WARNINGS"), "{warned}");
    let failed = run("database=40m", 6);
    assert!(failed.contains("FAIL exposure"), "{failed}");
    assert!(failed.contains("NOT READY"), "{failed}");
}

#[test]
fn drctl_check_predicts_the_rto_from_the_recorded_drills_of_the_policy() {
    let history = tempfile::tempdir().unwrap();
    let check = || check_sim_ready(history.path());
    let before = check();
    assert!(before.contains("the latency model (no history"), "{before}");
    drctl()
        .args(["drill", "--history-dir"])
        .arg(history.path())
        .assert()
        .code(0);
    let after = check();
    assert!(
        after.contains("1 past executions of emr-platform"),
        "{after}"
    );
}

#[test]
fn the_openapi_description_lists_every_check_name() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml"))
        .expect("docs/openapi.yaml");
    let line = doc
        .lines()
        .find(|l| l.contains("enum: [dr-resources"))
        .expect("the readiness check enum in docs/openapi.yaml");
    let listed: Vec<&str> = line
        .trim()
        .trim_start_matches("enum: [")
        .trim_end_matches(']')
        .split(", ")
        .collect();
    assert_eq!(listed, CHECKS, "docs/openapi.yaml: readiness check names");
}
