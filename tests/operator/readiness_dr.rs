//! Readiness of the DR side beyond what a failover's preflight reads: the
//! DR load balancer's targets, the MSK Replicator, the witness role's
//! writes, and the DR resources after a failover, on the simulated cloud.

use std::sync::Arc;

use crate::cli_support::drctl;

use drctl::cloud::sim::{is_mutating, SimCloud, SimOptions};
use drctl::cloud::TargetHealth;
use drctl::execute::{execute, ExecutionStatus, MemoryJournal, RunOptions};
use drctl::policy::Policy;
use drctl::readiness::{evaluate, Inputs, Readiness, Status, CHECKS};

const TG: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/emr-platform-dr/0123456789abcdef";
const REPLICATOR: &str = "emr-platform-kafka-replicator";
const WITNESS: &str = "arn:aws:iam::123456789012:role/drctl-witness";

fn policy() -> Policy {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(drctl::policy::DEFAULT_POLICY);
    drctl::policy::load(&path).expect("the shipped policy is valid")
}

/// Evaluates on a fresh simulated cloud after `fault` changed it, with
/// the witness role `witness`; asserts nothing was changed.
async fn with(fault: impl FnOnce(&SimCloud), witness: Option<&str>) -> Readiness {
    let policy = policy();
    let sim = SimCloud::new(&policy, SimOptions::default()).unwrap();
    fault(&sim);
    let inputs = Inputs {
        witness_role: witness.map(str::to_string),
        ..Inputs::default()
    };
    let r = evaluate(&sim, &policy, &inputs).await;
    let writes: Vec<_> = sim
        .calls()
        .into_keys()
        .filter(|o| o.parse().is_ok_and(is_mutating))
        .collect();
    assert!(writes.is_empty(), "mutating calls: {writes:?}");
    assert!(sim.mutations().is_empty());
    r
}

/// The status and sentence of `check`.
fn of(r: &Readiness, check: &str) -> (Status, String) {
    assert!(CHECKS.contains(&check));
    let c = r.check(check).expect("every check is reported");
    (c.status, c.sentence.clone())
}

fn targets(healthy: u32, unhealthy: u32, draining: u32) -> TargetHealth {
    TargetHealth {
        healthy,
        unhealthy,
        draining,
        other: 0,
    }
}

#[tokio::test(start_paused = true)]
async fn healthy_dr_targets_and_a_running_replicator_pass_the_dr_resources_check() {
    let r = with(|_| {}, None).await;
    let (status, sentence) = of(&r, "dr-resources");
    assert_eq!(status, Status::Pass, "{sentence}");
}

#[tokio::test(start_paused = true)]
async fn a_dr_target_group_without_a_healthy_target_fails_the_dr_resources_check() {
    let r = with(|sim| sim.set_target_health(TG, targets(0, 2, 1)), None).await;
    let (status, sentence) = of(&r, "dr-resources");
    assert_eq!(status, Status::Fail, "{sentence}");
    assert!(
        sentence.contains("target group emr-platform-dr in us-west-2 has 0 of 3 targets healthy"),
        "{sentence}"
    );
}

#[tokio::test(start_paused = true)]
async fn some_unhealthy_dr_targets_warn_with_the_counts() {
    let r = with(|sim| sim.set_target_health(TG, targets(2, 1, 1)), None).await;
    let (status, sentence) = of(&r, "dr-resources");
    assert_eq!(status, Status::Warn, "{sentence}");
    assert!(
        sentence.contains("has 2 of 4 targets healthy (1 unhealthy, 1 draining"),
        "{sentence}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_replicator_that_is_not_running_fails_the_dr_resources_check_with_its_state() {
    let r = with(
        |sim| sim.set_replicator_state("us-west-2", REPLICATOR, "FAILED"),
        None,
    )
    .await;
    let (status, sentence) = of(&r, "dr-resources");
    assert_eq!(status, Status::Fail, "{sentence}");
    assert!(
        sentence.contains(&format!(
            "MSK Replicator {REPLICATOR} in us-west-2 is FAILED, not RUNNING"
        )),
        "{sentence}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_witness_role_that_can_promote_fails_the_permissions_check() {
    let r = with(
        |sim| sim.grant_action(WITNESS, "rds:PromoteReadReplica"),
        Some(WITNESS),
    )
    .await;
    let (status, sentence) = of(&r, "permissions");
    assert_eq!(status, Status::Fail, "{sentence}");
    let want = format!(
        "the witness role {WITNESS} can call rds:PromoteReadReplica; a witness must be read-only"
    );
    assert!(sentence.contains(&want), "{sentence}");
}

#[tokio::test(start_paused = true)]
async fn a_read_only_witness_role_passes_and_an_unnamed_one_is_said_to_be_unchecked() {
    // Reads granted to the witness are fine: only the plan's writes count.
    let r = with(
        |sim| sim.grant_action(WITNESS, "rds:DescribeDBInstances"),
        Some(WITNESS),
    )
    .await;
    let (status, sentence) = of(&r, "permissions");
    assert_eq!(status, Status::Pass, "{sentence}");
    assert!(
        sentence.contains(&format!(
            "the witness role {WITNESS} may call none of the plan's 5 writes"
        )),
        "{sentence}"
    );
    let r = with(|_| {}, None).await;
    let (status, sentence) = of(&r, "permissions");
    assert_eq!(status, Status::Pass, "{sentence}");
    assert!(
        sentence.contains("the witness role is not checked: name it with --witness-role-arn"),
        "{sentence}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_standalone_replica_while_the_primary_serves_fails_as_not_replicating() {
    let policy = Arc::new(policy());
    let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    failover(&sim, &policy).await;
    // Judged as if the primary region still served: the promoted replica
    // replicates from nothing.
    let r = evaluate(&*sim, &policy, &Inputs::default()).await;
    let (status, sentence) = of(&r, "dr-resources");
    assert_eq!(status, Status::Fail, "{sentence}");
    assert!(
        sentence.contains(
            "RDS instance emr-platform-prod-dr in us-west-2 is standalone, not replicating"
        ),
        "{sentence}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_failover_the_promoted_replica_is_expected_and_the_platform_is_said_unprotected() {
    let policy = Arc::new(policy());
    let sim = Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    // The replicator fed the DR cluster from the region left behind: after
    // the failover its state does not matter.
    sim.set_replicator_state("us-west-2", REPLICATOR, "FAILED");
    failover(&sim, &policy).await;
    let inputs = Inputs {
        active_region: Some("us-west-2".into()),
        ..Inputs::default()
    };
    let r = evaluate(&*sim, &policy, &inputs).await;
    let (status, sentence) = of(&r, "dr-resources");
    assert_ne!(status, Status::Fail, "{sentence}");
    assert!(!sentence.contains("not replicating"), "{sentence}");
    assert!(
        sentence.contains(
            "the platform runs in us-west-2 after a failover and is unprotected until reprotected"
        ),
        "{sentence}"
    );
    // The DR load balancer serves now: its targets still count.
    sim.set_target_health(TG, targets(0, 3, 0));
    let r = evaluate(&*sim, &policy, &inputs).await;
    let (status, sentence) = of(&r, "dr-resources");
    assert_eq!(status, Status::Fail, "{sentence}");
    assert!(sentence.contains("0 of 3 targets healthy"), "{sentence}");
}

/// Runs a whole failover on `sim`.
async fn failover(sim: &Arc<SimCloud>, policy: &Arc<Policy>) {
    let record = execute(
        sim.clone(),
        policy.clone(),
        &mut MemoryJournal::default(),
        RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        record.status,
        ExecutionStatus::Completed,
        "{:#?}",
        record.steps
    );
}

#[test]
fn drctl_check_sim_checks_the_witness_role_it_is_given_and_refuses_a_malformed_one() {
    let history = tempfile::tempdir().unwrap();
    let out = drctl()
        .args([
            "check",
            "--sim",
            "--witness-role-arn",
            WITNESS,
            "--history-dir",
        ])
        .arg(history.path())
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains(&format!(
            "the witness role {WITNESS} may call none of the plan's"
        )),
        "{stdout}"
    );
    let out = drctl()
        .args(["check", "--sim", "--witness-role-arn", "drctl-witness"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("--witness-role-arn") && stderr.contains("not an IAM role ARN"),
        "{stderr}"
    );
}

#[test]
fn drctl_check_refuses_an_active_region_the_policy_does_not_name_before_reading_aws() {
    let history = tempfile::tempdir().unwrap();
    let out = drctl()
        .args(["check", "--active-region", "eu-west-1", "--history-dir"])
        .arg(history.path())
        .env("AWS_ACCESS_KEY_ID", "")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("--active-region") && stderr.contains("us-west-2"),
        "{stderr}"
    );
    // The simulated cloud starts on its primary: the flag has no meaning there.
    drctl()
        .args(["check", "--sim", "--active-region", "us-west-2"])
        .assert()
        .code(2);
}

#[test]
fn the_policy_s_witness_role_is_checked_without_the_flag() {
    let history = tempfile::tempdir().unwrap();
    let stdout = crate::readiness::check_sim_ready(history.path());
    assert!(
        stdout.contains("the witness role arn:aws:iam::123456789012:role/drctl-witness may call none of the plan's"),
        "{stdout}"
    );
}
