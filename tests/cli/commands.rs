//! The drctl binary as a user runs it.

use crate::cli_support::drctl;
use predicates::prelude::*;

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
    let text = include_str!("../../policies/emr-platform-core.yaml")
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

#[test]
fn a_drill_under_a_us_east_1_outage_completes_without_calling_us_east_1() {
    let out = drctl()
        .args(["drill", "--outage", "us-east-1", "--output", "json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["status"], "completed", "{v:#}");
    let calls = v["calls"].as_array().expect("the report counts calls");
    assert!(!calls.is_empty());
    for c in calls {
        assert_ne!(c["region"], "us-east-1", "{c}");
        assert_ne!(c["service"], "route53", "{c}");
        assert!(c["count"].as_u64().unwrap() > 0);
    }
    // Every step says what it calls; none calls us-east-1.
    let step_calls = v["step_calls"].as_array().unwrap();
    assert_eq!(step_calls.len(), v["steps"].as_array().unwrap().len());
    for pair in step_calls {
        let calls = pair[1].as_array().unwrap();
        assert!(!calls.is_empty(), "{pair}");
        assert!(calls.iter().all(|c| c["region"] != "us-east-1"), "{pair}");
    }
    let decisions = v["decisions"].as_array().unwrap();
    assert!(
        decisions[0]["what"]
            .as_str()
            .unwrap()
            .contains("disassociated emr-platform-redis-dr"),
        "{decisions:?}"
    );
    // An outage of a region the policy does not know is a usage error.
    drctl()
        .args(["drill", "--outage", "mars-north-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--outage mars-north-1"));
}

#[test]
fn an_unknown_exposure_is_accepted_only_by_naming_its_tier() {
    let run = |extra: &[&str]| {
        let mut c = drctl();
        c.args(["drill", "--lag", "cache=unknown"]).args(extra);
        c.assert()
    };
    run(&["--accept-data-loss", "0s"])
        .code(3)
        .stdout(predicate::str::contains("--accept-unknown-loss cache"));
    run(&["--accept-data-loss", "1h"]).code(3);
    run(&["--accept-unknown-loss", "cache"])
        .success()
        .stdout(predicate::str::contains("unbounded on cache"));
    run(&["--accept-unknown-loss", "queue"])
        .code(2)
        .stderr(predicate::str::contains("--accept-unknown-loss"));
}

/// A policy with short AWS timeouts, so that a dry run against endpoints
/// that do not answer ends within seconds.
fn short_timeout_policy(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform-core.yaml"),
    )
    .unwrap();
    let text = shipped.replace(
        "execution:\n",
        "execution:\n  call_timeout: 1s\n  connect_timeout: 1s\n",
    );
    assert_ne!(text, shipped, "the core policy has an execution section");
    let path = dir.join("short.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_dry_run_against_endpoints_that_refuse_or_never_answer_ends_within_its_bound_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let policy = short_timeout_policy(dir.path());
    // One endpoint refuses connections, one accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    for endpoint in ["http://127.0.0.1:9".to_string(), silent_url] {
        let started = std::time::Instant::now();
        let out = drctl()
            .env("AWS_ENDPOINT_URL", &endpoint)
            .args(["failover", "--policy"])
            .arg(&policy)
            .assert()
            .code(4);
        let elapsed = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(stderr.contains("every read ends within"), "{stderr}");
        assert!(stderr.contains("waiting for rds.us-west-2"), "{stderr}");
        assert!(stderr.contains("attempt 1 of 3"), "{stderr}");
        // Three attempts of 1 s and 3 s of backoff per read, reads at once.
        assert!(
            elapsed < std::time::Duration::from_secs(30),
            "{endpoint}: {elapsed:?}"
        );
        // With --confirm the same reads build the plan, and say so before
        // the first step; the report gives wall time, not a model.
        let jdir = tempfile::tempdir().unwrap();
        let out = drctl()
            .env("AWS_ENDPOINT_URL", &endpoint)
            .args(["failover", "--confirm", "--journal-dir"])
            .arg(jdir.path())
            .arg("--policy")
            .arg(&policy)
            .assert()
            .code(4);
        let out = out.get_output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let observing = stderr.find("observing: reading the DR side");
        let first_step = stderr.find("preflight: started");
        assert!(observing.is_some() && observing < first_step, "{stderr}");
        assert!(stderr.contains("observing: waiting for"), "{stderr}");
        assert!(stdout.contains("RTO (wall)"), "{stdout}");
        assert!(!stdout.contains("modeled RTO"), "{stdout}");
    }
    drop(silent);
}

#[test]
fn failover_confirm_with_a_policy_name_leaving_the_journal_directory_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let journal = root.path().join("journal");
    let shipped = std::fs::read_to_string("policies/emr-platform-core.yaml").unwrap();
    for name in ["../escaped", "/tmp/drctl-escaped-journal"] {
        let policy = root.path().join("p.yaml");
        let text = shipped.replace("name: emr-platform-core", &format!("name: \"{name}\""));
        std::fs::write(&policy, text).unwrap();
        let out = drctl()
            .args(["failover", "--confirm", "--journal-dir"])
            .arg(&journal)
            .arg("--policy")
            .arg(&policy)
            .assert()
            .code(64);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(stderr.contains("name: a valid policy name"), "{stderr}");
        let mut left: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["p.yaml"], "nothing but the policy: {left:?}");
        assert!(!std::path::Path::new("/tmp/drctl-escaped-journal.json").exists());
    }
}

#[test]
fn an_executing_node_in_kubernetes_without_a_role_of_its_own_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let node = std::fs::read_to_string("deploy/local/node-1.yaml").unwrap();
    let node = node.replace(
        "cloud:\n  sim:\n    url: http://127.0.0.1:7100\n",
        "cloud: aws\n",
    );
    assert!(node.contains("cloud: aws"));
    let path = dir.path().join("node.yaml");
    std::fs::write(&path, &node).unwrap();
    let out = drctl()
        .env("KUBERNETES_SERVICE_HOST", "10.100.0.1")
        .env_remove("AWS_ROLE_ARN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .args(["controller", "--config"])
        .arg(&path)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(64);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("eks.amazonaws.com/role-arn"), "{stderr}");
    assert!(stderr.contains("node.yaml"), "{stderr}");
}

#[test]
fn an_absurd_drill_lag_is_refused_naming_the_flag() {
    drctl()
        .args(["drill", "--lag", "database=18446744073709551615s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--lag").and(predicate::str::contains("100 years")));
}

#[test]
fn a_drill_lag_on_a_missing_or_repeated_tier_is_refused() {
    let core = "policies/emr-platform-core.yaml";
    drctl()
        .args(["drill", "--policy", core, "--lag", "stream=20m"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("--lag stream")
                .and(predicate::str::contains("no stream tier")),
        );
    drctl()
        .args(["drill", "--lag", "database=1m", "--lag", "database=40m"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--lag database: given more than once",
        ));
}

#[test]
fn a_missing_or_unreadable_api_token_exits_77_naming_the_flag_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["maintenance", "on", "--controller", "http://127.0.0.1:9"];
    let out = drctl()
        .env_remove("DRCTL_API_TOKEN")
        .env_remove("DRCTL_API_TOKEN_FILE")
        .args(args)
        .assert()
        .code(77);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("--token-file"), "{stderr}");
    let missing = dir.path().join("no-such-token");
    let out = drctl()
        .args(args)
        .arg("--token-file")
        .arg(&missing)
        .assert()
        .code(77);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("no-such-token"), "{stderr}");
    let empty = dir.path().join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    drctl()
        .args(args)
        .arg("--token-file")
        .arg(&empty)
        .assert()
        .code(77)
        .stderr(predicate::str::contains("empty-token"));
}

#[test]
fn missing_aws_credentials_exit_77() {
    let home = tempfile::tempdir().unwrap();
    let nowhere = home.path().join("none");
    let mut cmd = drctl();
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("failover")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(77)
        .stderr(predicate::str::contains("no AWS credentials"));
}
