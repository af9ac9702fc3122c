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

#[test]
fn every_step_of_the_way_home_has_a_scenario_of_its_phase() {
    use drctl::chaos::ScenarioPhase;
    let all = scenarios();
    let shows = |phase: ScenarioPhase, step: &str| {
        all.iter().any(|s| {
            s.phase == phase
                && (s.expect.failed_step.as_deref() == Some(step)
                    || s.expect.attempts.contains_key(step)
                    || s.expect.done.iter().any(|d| d == step))
        })
    };
    let reprotect = [
        "preflight-reprotect",
        "create-replica-database",
        "add-cache-secondary",
        "create-reverse-replicator",
        "wait-replication",
        "switch-roles",
    ];
    for step in reprotect {
        assert!(
            shows(ScenarioPhase::Reprotect, step),
            "no reprotect scenario shows {step}"
        );
    }
    let failback = [
        "preflight-failback",
        "quiesce-writers",
        "drain",
        "promote-database",
        "lift-quiesce",
        "rename-old-primary",
        "undo-quiesce",
    ];
    for step in failback {
        assert!(
            shows(ScenarioPhase::Failback, step),
            "no failback scenario shows {step}"
        );
    }
    assert!(shows(ScenarioPhase::FailoverAgain, "lift-quiesce"));
    for s in all.iter().filter(|s| s.phase != ScenarioPhase::Failover) {
        assert!(s.description.is_some(), "{} has no description", s.name);
    }
}

fn load_text(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, text).unwrap();
    Scenario::load(&f).unwrap_err().to_string()
}

#[test]
fn a_bad_phase_is_rejected_with_the_field() {
    let e = load_text(
        "name: bad\npolicy: x.yaml\nphase: failforward\nexpect: { outcome: completed }\n",
    );
    assert!(
        e.contains("bad.yaml: phase: unknown variant `failforward`"),
        "{e}"
    );
    assert!(e.contains("failover-again"), "{e}");
}

#[test]
fn fields_of_one_kind_of_scenario_are_refused_in_the_other_with_the_field() {
    let e = load_text(
        "name: bad\npolicy: x.yaml\nphase: failback\nregion_returns: true\nexpect: { outcome: completed }\n",
    );
    assert!(
        e.contains("bad.yaml: region_returns: applies to a failover scenario only"),
        "{e}"
    );
    let e = load_text(
        "name: bad\npolicy: x.yaml\nexpect: { outcome: completed, orientation_after: reversed }\n",
    );
    assert!(
        e.contains("bad.yaml: expect.orientation_after: applies to a scenario of a later phase"),
        "{e}"
    );
    let e = load_text(
        "name: bad\npolicy: x.yaml\nphase: reprotect\nexpect: { outcome: completed, protection_after: sideways }\n",
    );
    assert!(
        e.contains("bad.yaml: expect.protection_after: unknown variant `sideways`"),
        "{e}"
    );
    let e = load_text(
        "name: bad\npolicy: x.yaml\nphase: failback\nexpect: { outcome: completed, writers_quiesced: { us-west-2: true } }\n",
    );
    assert!(
        e.contains("bad.yaml: expect.writers_quiesced: \"us-west-2\" is not region/tier"),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_later_phase_counts_only_its_own_mutations_and_checks_the_roles_it_left() {
    // The failover before the reprotect promoted the replica; the
    // reprotect itself promotes nothing, so a scenario of the reprotect
    // expecting one promotion must fail, as must one expecting the roles
    // unswitched after a reprotect that completed.
    let base = scenarios()
        .into_iter()
        .find(|s| s.name == "reprotect-replica-create-throttled")
        .unwrap();
    let outcome = chaos::run(&base).await.unwrap();
    assert!(outcome.passed(), "{}", outcome.line());
    assert_eq!(outcome.mutations.get("rds:PromoteReadReplica"), None);
    assert_eq!(
        outcome.record.plan.kind,
        drctl::model::ExecutionKind::Reprotect
    );
    let mut s = base.clone();
    s.expect
        .mutations
        .insert("rds:PromoteReadReplica".into(), 1);
    let line = chaos::run(&s).await.unwrap().line();
    assert!(
        line.contains("expected 1 accepted rds:PromoteReadReplica call(s), got 0"),
        "{line}"
    );
    let mut s = base.clone();
    s.expect.orientation_after = Some(drctl::model::Orientation::AsWritten);
    s.expect.protection_after = Some(chaos::ExpectedProtection::Unprotected);
    let line = chaos::run(&s).await.unwrap().line();
    assert!(
        line.contains("expected the policy read as_written after the reprotect"),
        "{line}"
    );
    assert!(
        line.contains("expected protection unprotected after the reprotect"),
        "{line}"
    );
    let mut s = base;
    s.expect
        .writers_quiesced
        .insert("us-west-2/database".into(), true);
    let line = chaos::run(&s).await.unwrap().line();
    assert!(
        line.contains("expected the writers of us-west-2/database quiesced, they are writing"),
        "{line}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_later_phase_runs_the_phases_before_it_on_a_healthy_cloud() {
    // The same fatal fault in a failover scenario would fail the failover;
    // given to the failback, the failover before it promotes and completes.
    let s = scenarios()
        .into_iter()
        .find(|s| s.name == "failback-promotion-fails")
        .unwrap();
    let outcome = chaos::run(&s).await.unwrap();
    assert!(outcome.passed(), "{}", outcome.line());
    assert_eq!(
        outcome.record.plan.kind,
        drctl::model::ExecutionKind::Failback
    );
    assert_eq!(outcome.record.id, "chaos-failback-promotion-fails-failback");
}

#[test]
fn every_scenario_a_runbook_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let names: Vec<String> = scenarios().iter().map(|s| s.name.clone()).collect();
    for book in ["reprotect.md", "failback.md"] {
        let text = std::fs::read_to_string(root.join("runbooks").join(book)).unwrap();
        let named: Vec<&str> = text
            .split("`chaos/")
            .skip(1)
            .filter_map(|rest| rest.split_once(".yaml`").map(|(n, _)| n))
            .collect();
        assert!(!named.is_empty(), "{book} names no scenario");
        for n in named {
            assert!(
                names.iter().any(|s| s == n),
                "{book} names chaos/{n}.yaml, which does not exist"
            );
        }
    }
}
