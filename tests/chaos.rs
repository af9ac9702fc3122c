//! Every chaos scenario in chaos/ meets its expectation.

use std::path::Path;

use drctl::chaos::{self, Scenario};

fn scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("chaos");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.iter().map(|f| Scenario::load(f).unwrap()).collect()
}

#[tokio::test(start_paused = true)]
async fn every_scenario_meets_its_expectation() {
    let all = scenarios();
    assert!(
        all.len() >= 6,
        "expected a scenario per step, found {}",
        all.len()
    );
    let mut failures = Vec::new();
    for s in &all {
        let outcome = chaos::run(s).await.unwrap();
        if !outcome.passed() {
            failures.push(outcome.line());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_scenario_with_a_wrong_expectation_fails() {
    // The runner must be able to fail: the same faults, a false expectation.
    let mut s = scenarios()
        .into_iter()
        .find(|s| s.name == "cache-failover-fails")
        .unwrap();
    s.expect.outcome = chaos::ExpectedOutcome::Completed;
    let outcome = chaos::run(&s).await.unwrap();
    assert!(!outcome.passed());
    assert!(
        outcome.line().starts_with("FAIL cache-failover-fails"),
        "{}",
        outcome.line()
    );
}

#[test]
fn every_step_kind_has_a_scenario_that_faults_it() {
    let ops: Vec<String> = scenarios()
        .iter()
        .flat_map(|s| s.faults.iter().map(|f| f.op.clone()))
        .collect();
    for op in [
        "rds:PromoteReadReplica",
        "eks:UpdateNodegroupConfig",
        "elasticache:FailoverGlobalReplicationGroup",
        "route53:ChangeResourceRecordSets",
        "elasticache:FailoverGlobalReplicationGroup",
    ] {
        assert!(ops.iter().any(|o| o == op), "no scenario faults {op}");
    }
    assert!(
        scenarios().iter().any(|s| !s.lag.is_empty()),
        "no scenario puts lag above the RPO"
    );
}

#[test]
fn a_scenario_naming_an_unknown_operation_is_rejected_with_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, "name: bad\npolicy: x.yaml\nfaults:\n  - { fault: fail, op: \"rds:Explode\" }\nexpect: { outcome: completed }\n").unwrap();
    let e = Scenario::load(&f).unwrap_err().to_string();
    assert!(
        e.contains("bad.yaml: faults[0].op: \"rds:Explode\" is not a simulated operation"),
        "{e}"
    );
}

#[test]
fn every_shipped_scenario_names_its_operations_as_op_spells_them() {
    use drctl::model::Op;
    for s in scenarios() {
        for (i, f) in s.faults.iter().enumerate() {
            let op = f
                .simulated_op()
                .unwrap_or_else(|e| panic!("{}: faults[{i}]: {e}", s.name));
            assert_eq!(op.as_str(), f.op, "{}: faults[{i}]", s.name);
        }
        for name in s.expect.mutations.keys() {
            let op: Op = name
                .parse()
                .unwrap_or_else(|e| panic!("{}: expect.mutations: {e}", s.name));
            assert_eq!(op.to_string(), *name, "{}", s.name);
        }
    }
}
