//! The policy's roles in the replicated state: protection after a
//! failover, a reprotect's progress, the switch of roles (owner only,
//! audited) and which executions the state allows.

use super::roles::{refusal, DivergenceShown, RecordedNames};
use super::tests::{record, save, start};
use super::*;
use crate::execute::StepRecord;
use crate::model::ExecutionKind;
use crate::model::{Orientation, Protection};

const POLICY: &str = "emr-platform";

/// A record of `kind` whose steps are named as that kind's plan names
/// them (the state reads the step names only).
async fn of_kind(id: &str, kind: ExecutionKind, steps: &[&str]) -> ExecutionRecord {
    let mut r = record(id).await;
    r.plan.kind = kind;
    let template = r.steps[0].clone();
    r.steps = steps
        .iter()
        .map(|s| StepRecord {
            id: (*s).to_string(),
            after: Vec::new(),
            ..template.clone()
        })
        .collect();
    r
}

const REPROTECT: [&str; 6] = [
    "preflight-reprotect",
    "create-replica-database",
    "add-cache-secondary",
    "create-reverse-replicator",
    "wait-replication",
    "switch-roles",
];

fn switch(id: &str, names: RecordedNames) -> Command {
    Command::SwitchRoles {
        execution_id: id.into(),
        orientation: Orientation::Reversed,
        active_region: "us-west-2".into(),
        names,
        at: "t".into(),
    }
}

fn mark(r: &mut ExecutionRecord, step: &str, status: StepStatus) {
    r.steps.iter_mut().find(|s| s.id == step).unwrap().status = status;
}

/// A state after a completed failover `f` (term 1).
async fn failed_over() -> ClusterState {
    let mut s = ClusterState::default();
    let mut f = record("f").await;
    assert_eq!(s.apply(start(&f), 1, 1), Reply::Ok);
    f.status = ExecutionStatus::Completed;
    assert_eq!(s.apply(save(&f), 1, 2), Reply::Ok);
    s
}

#[tokio::test(start_paused = true)]
async fn a_finished_failover_leaves_the_platform_unprotected_and_reprotect_allowed() {
    let fresh = ClusterState::default();
    let p = fresh.policies.get(POLICY);
    assert!(refusal(ExecutionKind::Reprotect, p, "us-east-1")
        .unwrap()
        .contains("the platform runs in us-east-1, protected, policy read as_written"));
    assert!(refusal(ExecutionKind::Failback, p, "us-east-1").is_some());
    assert_eq!(refusal(ExecutionKind::Failover, p, "us-east-1"), None);

    let s = failed_over().await;
    let p = &s.policies[POLICY];
    assert_eq!(p.protection, Protection::Unprotected);
    assert_eq!(p.orientation, Orientation::AsWritten);
    assert_eq!(p.active_region.as_deref(), Some("us-west-2"));
    assert_eq!(
        refusal(ExecutionKind::Reprotect, Some(p), "us-east-1"),
        None
    );
    let no = refusal(ExecutionKind::Failback, Some(p), "us-east-1").unwrap();
    assert!(no.contains("us-west-2, unprotected"), "{no}");
}

#[tokio::test(start_paused = true)]
async fn a_reprotect_shows_its_progress_and_only_its_owner_switches_the_roles() {
    let mut s = failed_over().await;
    let mut r = of_kind("r", ExecutionKind::Reprotect, &REPROTECT).await;
    assert_eq!(s.apply(start(&r), 2, 3), Reply::Ok);
    mark(&mut r, "create-replica-database", StepStatus::Done);
    assert_eq!(s.apply(save(&r), 2, 4), Reply::Ok);
    let shown = s.policies[POLICY].protection;
    assert_eq!(shown, Protection::Reprotecting { done: 1, of: 3 });
    assert_eq!(shown.to_string(), "reprotecting (1 of 3 tiers)");

    let names = RecordedNames {
        global_datastore: Some("ldgnf-emr-platform-redis-r1".into()),
        cache_member: None,
        reprotects: 1,
    };
    // A leader of another term does not own it: refused, nothing changes.
    assert!(matches!(
        s.apply(switch("r", names.clone()), 3, 5),
        Reply::Fenced { .. }
    ));
    assert_eq!(s.policies[POLICY].orientation, Orientation::AsWritten);
    assert_eq!(s.apply(switch("r", names.clone()), 2, 6), Reply::Ok);
    let p = &s.policies[POLICY];
    assert_eq!(
        (p.orientation, p.protection, p.active_region.as_deref()),
        (
            Orientation::Reversed,
            Protection::Protected,
            Some("us-west-2")
        )
    );
    assert_eq!(p.names, names);
    let audited = &s.audit.back().unwrap().what;
    assert!(
        audited.contains("roles of emr-platform switched: us-west-2 active and protected, policy read reversed (was as_written)"),
        "{audited}"
    );
    // The last save keeps the roles; a failback is now allowed, not a reprotect.
    for step in REPROTECT {
        mark(&mut r, step, StepStatus::Done);
    }
    r.status = ExecutionStatus::Completed;
    assert_eq!(s.apply(save(&r), 2, 7), Reply::Ok);
    let p = &s.policies[POLICY];
    assert_eq!(p.protection, Protection::Protected);
    assert_eq!(p.running, None);
    assert_eq!(refusal(ExecutionKind::Failback, Some(p), "us-west-2"), None);
    assert!(refusal(ExecutionKind::Reprotect, Some(p), "us-west-2").is_some());
    // Once ended, nobody switches the roles through it.
    assert!(matches!(
        s.apply(switch("r", RecordedNames::default()), 2, 8),
        Reply::Fenced { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_reprotect_that_fails_before_the_switch_leaves_the_platform_unprotected() {
    let mut s = failed_over().await;
    let mut r = of_kind("r", ExecutionKind::Reprotect, &REPROTECT).await;
    s.apply(start(&r), 2, 3);
    mark(&mut r, "create-replica-database", StepStatus::Done);
    mark(&mut r, "add-cache-secondary", StepStatus::Failed);
    r.status = ExecutionStatus::Failed;
    assert_eq!(s.apply(save(&r), 2, 4), Reply::Ok);
    let p = &s.policies[POLICY];
    assert_eq!(
        (p.protection, p.orientation, p.active_region.as_deref()),
        (
            Protection::Unprotected,
            Orientation::AsWritten,
            Some("us-west-2")
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_failback_that_fails_after_promoting_leaves_the_new_active_region_unprotected() {
    let mut s = failed_over().await;
    let r = of_kind("r", ExecutionKind::Reprotect, &REPROTECT).await;
    s.apply(start(&r), 2, 3);
    s.apply(switch("r", RecordedNames::default()), 2, 4);
    let mut b = of_kind(
        "b",
        ExecutionKind::Failback,
        &[
            "quiesce-writers",
            "drain",
            "promote-database",
            "create-replica-database",
            "switch-roles",
        ],
    )
    .await;
    b.plan.to_region = "us-east-1".into();
    // One execution per policy, whatever its kind.
    assert!(matches!(
        s.apply(start(&b), 2, 5),
        Reply::Conflict { running } if running == "r"
    ));
    let mut done = s.executions["r"].record.clone();
    done.status = ExecutionStatus::Completed;
    s.apply(save(&done), 2, 6);
    assert_eq!(s.apply(start(&b), 2, 7), Reply::Ok);
    mark(&mut b, "promote-database", StepStatus::Done);
    s.apply(save(&b), 2, 8);
    let p = &s.policies[POLICY];
    assert_eq!(p.active_region.as_deref(), Some("us-east-1"));
    assert_eq!(p.protection, Protection::Reprotecting { done: 0, of: 1 });
    mark(&mut b, "create-replica-database", StepStatus::Failed);
    b.status = ExecutionStatus::Failed;
    s.apply(save(&b), 2, 9);
    let p = &s.policies[POLICY];
    // Still read reversed: us-east-1 is its secondary, failed over to and
    // unprotected, so a reprotect (not a failover) comes next.
    assert_eq!(
        (p.protection, p.orientation),
        (Protection::Unprotected, Orientation::Reversed)
    );
    assert_eq!(
        refusal(ExecutionKind::Reprotect, Some(p), "us-west-2"),
        None
    );
}

#[tokio::test(start_paused = true)]
async fn the_divergence_of_the_last_failover_is_shown_when_not_empty() {
    let mut s = ClusterState::default();
    let mut f = record("f").await;
    s.apply(start(&f), 1, 1);
    f.status = ExecutionStatus::Completed;
    let mut fence = crate::execute::fence_return::FenceOldPrimary::pending("us-east-1");
    f.fence_old_primary = Some(fence.clone());
    s.apply(save(&f), 1, 2);
    assert_eq!(s.failover_divergence(POLICY), None);
    fence.divergence_errors = vec!["cache: no heartbeat target".into()];
    s.executions.get_mut("f").unwrap().record.fence_old_primary = Some(fence);
    assert_eq!(
        s.failover_divergence(POLICY),
        Some(DivergenceShown {
            execution_id: "f".into(),
            lines: vec!["cache: no heartbeat target".into()],
        })
    );
}

#[test]
fn a_state_written_before_roles_existed_reads_as_written_and_protected() {
    let old = r#"{"active_region":null,"running":null,"history":[]}"#;
    let p: PolicyState = serde_json::from_str(old).unwrap();
    assert_eq!(p.orientation, Orientation::AsWritten);
    assert_eq!(p.protection, Protection::Protected);
    assert!(p.names.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_local_journal_gives_the_roles_the_cluster_would() {
    use super::roles::from_journal;
    let mut f = record("f").await;
    f.status = ExecutionStatus::Completed;
    let after_failover = from_journal([&f]);
    let s = failed_over().await;
    let p = &s.policies[POLICY];
    assert_eq!(
        (
            after_failover.protection,
            after_failover.orientation,
            after_failover.active_region.as_deref()
        ),
        (p.protection, p.orientation, p.active_region.as_deref())
    );
    // A reprotect that was cut short shows its progress and runs.
    let mut r = of_kind("r", ExecutionKind::Reprotect, &REPROTECT).await;
    mark(&mut r, "create-replica-database", StepStatus::Done);
    let midway = from_journal([&f, &r]);
    assert_eq!(
        midway.protection,
        Protection::Reprotecting { done: 1, of: 3 }
    );
    assert_eq!(midway.running.as_deref(), Some("r"));
    // Its roles count once its switch-roles step is done.
    let names = RecordedNames {
        global_datastore: Some("ldgnf-emr-platform-redis-r1".into()),
        cache_member: None,
        reprotects: 1,
    };
    r.roles = Some(crate::model::SwitchedRoles {
        orientation: Orientation::Reversed,
        protection: Protection::Protected,
        active_region: "us-west-2".into(),
        names: names.clone(),
    });
    assert_eq!(from_journal([&f, &r]).orientation, Orientation::AsWritten);
    for step in REPROTECT {
        mark(&mut r, step, StepStatus::Done);
    }
    r.status = ExecutionStatus::Completed;
    let done = from_journal([&f, &r]);
    assert_eq!(
        (
            done.orientation,
            done.protection,
            done.active_region.as_deref()
        ),
        (
            Orientation::Reversed,
            Protection::Protected,
            Some("us-west-2")
        )
    );
    assert_eq!(done.names, names);
    assert_eq!(done.running, None);
    assert_eq!(
        refusal(ExecutionKind::Failback, Some(&done), "us-west-2"),
        None
    );
}
