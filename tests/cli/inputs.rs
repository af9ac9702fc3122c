//! The drctl binary's handling of bad input files and its defaults.

use crate::cli_support::drctl;
use predicates::prelude::*;

#[test]
fn an_endless_policy_file_is_refused_at_the_size_limit() {
    drctl()
        .args(["policy", "validate", "--policy", "/dev/zero"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(64)
        .stderr(predicate::str::contains("/dev/zero").and(predicate::str::contains("1 MiB")));
}

#[test]
fn chaos_run_runs_the_valid_scenarios_and_reports_the_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: [not a scenario\n").unwrap();
    drctl()
        .args(["chaos", "run", "chaos/lag-above-rpo.yaml"])
        .arg(&bad)
        .assert()
        .code(64)
        .stdout(predicate::str::contains("PASS lag-above-rpo:"))
        .stdout(predicate::str::contains("1 passed, 0 failed, 1 invalid"))
        .stderr(predicate::str::contains("bad.yaml"));
}

#[test]
fn health_checks_the_controller_that_status_asks_by_default() {
    let help = drctl().args(["health", "--help"]).assert().success();
    let help = String::from_utf8_lossy(&help.get_output().stdout).to_string();
    let default = format!("{}/healthz", drctl::cli::remote::DEFAULT_CONTROLLER);
    assert!(help.contains(&default), "{help}");
}
