//! The drctl binary as a user runs it.

use assert_cmd::Command;
use predicates::prelude::*;

fn drctl() -> Command {
    let mut c = Command::cargo_bin("drctl").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    // No AWS call may succeed by accident: point the SDK at a closed port.
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1");
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    c
}

#[test]
fn the_drill_runs_the_whole_failover_and_reports_rto_and_rpo() {
    let out = drctl().arg("drill").assert().success();
    let out = out.get_output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for step in [
        "preflight",
        "rpo-gate",
        "promote-database",
        "scale-node-group:app-nodes",
        "failover-cache",
        "switch-stream",
        "flip-dns",
        "verify",
    ] {
        assert!(stdout.contains(step), "report lacks {step}:\n{stdout}");
        assert!(
            stderr.contains(&format!("{step}: started")),
            "progress lacks {step}:\n{stderr}"
        );
    }
    assert!(
        stdout.contains("critical path: preflight → rpo-gate →"),
        "{stdout}"
    );
    assert!(stdout.contains("within the policy RTO of 4h"), "{stdout}");
    assert!(stdout.contains("within the policy RPO of 15m"), "{stdout}");
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let run = |seed: &str| {
        let out = drctl()
            .args(["drill", "--seed", seed, "--output", "json"])
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let a = run("5");
    assert_eq!(a, run("5"));
    assert_ne!(a, run("6"));
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["status"], "completed");
    assert!(v["rto_ms"].as_u64().unwrap() > 60_000);
    assert_eq!(v["critical_path"][0], "preflight");
}

#[test]
fn a_drill_with_lag_above_the_rpo_refuses_with_exit_3() {
    drctl()
        .args(["drill", "--lag", "database=40m"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "database tier's data-loss exposure is 40m, above the RPO of 15m",
        ));
    drctl()
        .args(["drill", "--lag", "database=40m", "--accept-data-loss", "1h"])
        .assert()
        .success();
}

#[test]
fn the_sequential_drill_is_slower() {
    let rto = |args: &[&str]| {
        let out = drctl().args(args).assert().success();
        let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        v["rto_ms"].as_u64().unwrap()
    };
    let dag = rto(&["drill", "--output", "json"]);
    let seq = rto(&["drill", "--output", "json", "--sequential"]);
    assert!(seq > dag, "sequential {seq} vs DAG {dag}");
}

#[test]
fn policy_validate_accepts_both_shipped_policies() {
    for p in [
        "policies/emr-platform.yaml",
        "policies/emr-platform-core.yaml",
    ] {
        drctl()
            .args(["policy", "validate", "--policy", p])
            .assert()
            .success()
            .stdout(predicate::str::contains("valid policy"));
    }
    // The default policy.
    drctl()
        .args(["policy", "validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("emr-platform"));
}

#[test]
fn an_invalid_policy_exits_64_naming_file_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    let text = include_str!("../policies/emr-platform-core.yaml")
        .replace("rpo: 15m", "rpo: 5h")
        .replace("min: 3, desired: 6", "min: 30, desired: 6");
    std::fs::write(&f, text).unwrap();
    for cmd in [
        &["policy", "validate"][..],
        &["failover"],
        &["failover", "--confirm"],
        &["drill"],
    ] {
        drctl()
            .args(cmd)
            .arg("--policy")
            .arg(&f)
            .assert()
            .code(64)
            .stderr(predicate::str::contains(
                "bad.yaml: objectives.rpo: at most the RTO (4h) (got 5h)",
            ))
            .stderr(predicate::str::contains("tiers.node_groups.groups[1].min"));
    }
}

#[test]
fn a_bad_flag_value_names_the_flag() {
    drctl()
        .args(["failover", "--accept-data-loss", "a-lot"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--accept-data-loss"));
}

#[test]
fn chaos_run_prints_a_line_per_scenario() {
    drctl()
        .args([
            "chaos",
            "run",
            "chaos/lag-above-rpo.yaml",
            "chaos/cache-failover-fails.yaml",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("PASS lag-above-rpo:"))
        .stdout(predicate::str::contains("PASS cache-failover-fails:"))
        .stdout(predicate::str::contains("2 passed, 0 failed"));
}

#[test]
fn bench_prints_the_dag_against_the_sequential_procedure() {
    drctl()
        .args(["bench", "--runs", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sequential RTO"))
        .stdout(predicate::str::contains("controller overhead"));
}

#[test]
fn help_explains_the_commands() {
    drctl()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("drill"))
        .stdout(predicate::str::contains("failover"))
        .stdout(predicate::str::contains("Exit codes"));
}
