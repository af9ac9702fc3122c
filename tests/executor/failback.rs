//! The whole way home on the simulated cloud, through the same cycle
//! `drctl drill --cycle` runs: a failover, a reprotect, a failback with
//! zero data loss, a failover again; and the failbacks that must not
//! promote (the replica behind, the promotion failing), whose quiesce is
//! undone so the platform always has a writer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use drctl::cloud::sim::{Fault, FaultKind, SimCloud, SimOptions};
use drctl::cloud::ErrorKind;
use drctl::execute::cycle::{plan_way_home, run_cycle, CyclePhase, PhaseReport};
use drctl::execute::{
    self, ExecutionStatus, Journal, MemoryJournal, RunOptions, StepRecord, StepStatus,
};
use drctl::model::{DataTier, Exposure, Orientation, Protection};
use drctl::policy::{self, Policy};

fn shipped() -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml");
    policy::load(&path).unwrap()
}

fn options(phase: CyclePhase) -> RunOptions {
    RunOptions {
        execution_id: Some(format!("test-{}", phase.name())),
        operator: "test".into(),
        ..RunOptions::default()
    }
}

/// Runs the cycle up to `until` on a fresh simulated cloud; `before` breaks
/// the cloud before a phase.
async fn cycle(
    until: CyclePhase,
    before: impl Fn(&SimCloud, CyclePhase),
) -> (Arc<SimCloud>, Vec<PhaseReport>) {
    let p = shipped();
    let sim = Arc::new(SimCloud::new(&p, SimOptions::default()).unwrap());
    let mut journal = MemoryJournal::default();
    let hook = |phase| before(&sim, phase);
    let phases = run_cycle(sim.clone(), &p, &mut journal, until, options, hook)
        .await
        .unwrap();
    (sim, phases)
}

fn step<'a>(p: &'a PhaseReport, id: &str) -> &'a StepRecord {
    p.execution
        .steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} not in {:#?}", p.execution.steps))
}

/// The time the writers of the region left were stopped: from the
/// quiesce's end to the end of the step that gave them back.
fn write_pause(p: &PhaseReport, given_back_by: &str) -> Duration {
    let stopped = step(p, "quiesce-writers").ended_ms.unwrap();
    let back = step(p, given_back_by).ended_ms.unwrap();
    Duration::from_millis(back - stopped)
}

#[tokio::test(start_paused = true)]
async fn the_whole_cycle_ends_where_it_started_with_every_writer_back() {
    let (sim, phases) = cycle(CyclePhase::FailoverAgain, |_, _| {}).await;
    let seen: Vec<_> = phases
        .iter()
        .map(|p| {
            (
                p.phase,
                p.execution.status,
                p.roles_after.orientation,
                p.roles_after.protection,
            )
        })
        .collect();
    use CyclePhase::*;
    use ExecutionStatus::Completed;
    assert_eq!(
        seen,
        vec![
            (
                Failover,
                Completed,
                Orientation::AsWritten,
                Protection::Unprotected
            ),
            (
                Reprotect,
                Completed,
                Orientation::Reversed,
                Protection::Protected
            ),
            (
                Failback,
                Completed,
                Orientation::AsWritten,
                Protection::Protected
            ),
            (
                FailoverAgain,
                Completed,
                Orientation::AsWritten,
                Protection::Unprotected
            ),
        ],
        "{:#?}",
        phases.last().map(|p| &p.execution.steps)
    );
    let back = &phases[2];
    // Zero data loss: the drain saw every replica at exposure 0 before the
    // promotion; the pause stayed within the policy's bound.
    assert_eq!(step(back, "drain").status, StepStatus::Done);
    assert!(step(back, "drain")
        .outcome
        .as_deref()
        .unwrap()
        .contains("exposure 0"));
    let pause = write_pause(back, "lift-quiesce");
    assert!(pause <= shipped().failback.max_write_pause, "{pause:?}");
    // Two reprotects (the failback's second half is one) recorded the
    // Global Datastore joining the members and the member at home: the
    // old primary member rejoined as a secondary, so the names are the
    // policy's own.
    let names = &back.roles_after.names;
    let cache = shipped().tiers.cache.unwrap();
    assert_eq!(names.reprotects, 2, "{names:?}");
    assert_eq!(names.cache_member.as_ref(), Some(&cache.primary_member));
    assert_eq!(
        names.global_datastore.as_ref(),
        Some(&cache.global_datastore)
    );
    // The failback left us-west-2's writers quiesced; the failover back
    // there gives them back, so the platform has its writer again.
    let again = &phases[3];
    assert_eq!(step(again, "lift-quiesce").status, StepStatus::Done);
    for tier in ["database", "cache"] {
        assert!(
            !sim.writers_fenced("us-west-2", tier).await.unwrap(),
            "{tier}"
        );
    }
    // The failover again promoted the replica under the policy's own name
    // (the failback's reprotect half made it so), and fenced the primary
    // at home on return: renamed out of its endpoint.
    let db = shipped().tiers.database.unwrap();
    use drctl::cloud::Database;
    let promoted = sim.get_database("us-west-2", &db.replica).await.unwrap();
    assert!(promoted.is_some_and(|d| d.is_promoted()));
    let home = sim.get_database("us-east-1", &db.primary).await.unwrap();
    assert!(home.is_none(), "{home:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failback_with_the_replica_behind_is_refused_and_the_writers_given_back() {
    let (sim, phases) = cycle(CyclePhase::Failback, |sim, phase| {
        if phase == CyclePhase::Failback {
            // Far more than the drain may wait: not provably zero.
            sim.set_lag(
                DataTier::Database,
                Exposure::Known(Duration::from_secs(3600)),
            );
        }
    })
    .await;
    let back = phases.last().unwrap();
    assert_eq!(back.phase, CyclePhase::Failback);
    assert_eq!(back.execution.status, ExecutionStatus::Failed);
    let drain = step(back, "drain");
    assert_eq!(drain.status, StepStatus::Failed);
    assert!(
        drain.outcome.as_deref().unwrap().contains("not drained"),
        "{drain:?}"
    );
    assert_eq!(step(back, "promote-database").status, StepStatus::NotRun);
    assert_eq!(step(back, "undo-quiesce").status, StepStatus::Done);
    for tier in ["database", "cache"] {
        assert!(
            !sim.writers_fenced("us-west-2", tier).await.unwrap(),
            "{tier}"
        );
    }
    // Nothing moved: still reversed and protected, no promotion tried.
    assert_eq!(back.roles_after.orientation, Orientation::Reversed);
    assert_eq!(back.roles_after.protection, Protection::Protected);
    let promotions = sim
        .mutation_log()
        .iter()
        .filter(|m| m.op == "rds:PromoteReadReplica" && m.resource.contains("us-east-1"))
        .count();
    assert_eq!(promotions, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failback_whose_promotion_fails_undoes_its_quiesce_within_the_pause_bound() {
    let (sim, phases) = cycle(CyclePhase::Failback, |sim, phase| {
        if phase == CyclePhase::Failback {
            let fault = Fault {
                fault: FaultKind::Fail,
                op: "rds:PromoteReadReplica".into(),
                resource: None,
                times: None,
                error: Some(ErrorKind::Fatal),
                extra: None,
                status: None,
            };
            sim.inject(fault).unwrap();
        }
    })
    .await;
    let back = phases.last().unwrap();
    assert_eq!(back.execution.status, ExecutionStatus::Failed);
    assert_eq!(step(back, "drain").status, StepStatus::Done);
    assert_eq!(step(back, "promote-database").status, StepStatus::Failed);
    let undo = step(back, "undo-quiesce");
    assert_eq!(undo.status, StepStatus::Done, "{undo:?}");
    let pause = write_pause(back, "undo-quiesce");
    assert!(pause <= shipped().failback.max_write_pause, "{pause:?}");
    for tier in ["database", "cache"] {
        assert!(
            !sim.writers_fenced("us-west-2", tier).await.unwrap(),
            "{tier}"
        );
    }
    assert_eq!(back.roles_after.orientation, Orientation::Reversed);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_failback_resumes_from_its_journal_and_no_step_acts_twice() {
    let (sim, phases) = cycle(CyclePhase::Reprotect, |_, _| {}).await;
    let written = shipped();
    let roles = phases.last().unwrap().roles_after.clone();
    let mut run = options(CyclePhase::Failback);
    let (policy, plan) = plan_way_home(
        sim.as_ref(),
        &written,
        &roles,
        CyclePhase::Failback,
        &mut run,
    )
    .await;
    assert!(
        plan.preflight_problems.is_empty(),
        "{:?}",
        plan.preflight_problems
    );
    let before = sim.mutation_log().len();
    let mut journal = MemoryJournal::default();
    // The process dies two minutes in: quiesced, drained, promoting.
    let first = execute::execute_plan(sim.clone(), policy.clone(), &mut journal, &plan, run);
    let cut = tokio::time::timeout(Duration::from_secs(120), first).await;
    assert!(
        cut.is_err(),
        "the failback ended within two minutes: {cut:?}"
    );
    let left = journal.last(&policy.name).await.unwrap().unwrap();
    assert_eq!(left.status, ExecutionStatus::Running);
    let promote = left
        .steps
        .iter()
        .find(|s| s.id == "promote-database")
        .unwrap();
    assert_ne!(promote.status, StepStatus::Pending, "{:#?}", left.steps);
    let again = options(CyclePhase::Failback);
    let r = execute::execute_plan(sim.clone(), policy, &mut journal, &plan, again)
        .await
        .unwrap();
    assert_eq!((r.id.as_str(), r.resumed), (left.id.as_str(), 1));
    assert_eq!(r.status, ExecutionStatus::Completed, "{:#?}", r.steps);
    assert!(r.roles.is_some(), "the roles were switched");
    let ops: Vec<String> = sim.mutation_log()[before..]
        .iter()
        .map(|m| format!("{} {}", m.op, m.resource))
        .collect();
    for op in ["rds:PromoteReadReplica", "rds:CreateDBInstanceReadReplica"] {
        let n = ops.iter().filter(|o| o.starts_with(op)).count();
        assert_eq!(n, 1, "{op} in {ops:#?}");
    }
}
