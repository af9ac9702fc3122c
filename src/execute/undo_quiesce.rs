//! `undo-quiesce`: a failback that quiesced the active writers and then
//! stopped before its promotion succeeded gives the writers back on the
//! side that was quiesced, so the platform always has a writer. The write
//! pause is checked against `failback.max_write_pause`.

use super::journal::{Decision, ExecutionRecord, StepRecord, StepStatus};
use crate::cloud::Writers;
use crate::model::Fence;
use crate::plan::{Action, ExecutionKind, StepKind};
use crate::policy::Policy;

/// Undoes the quiesce of a stopped failback when it is needed: the
/// quiesce succeeded, the promotion did not. Appends an `undo-quiesce`
/// step record and a decision saying why and how long the writers were
/// paused. The ElastiCache access strings the quiesce journaled are
/// handed back. Returns whether it acted.
pub(super) async fn undo_if_needed<C: Writers + ?Sized>(
    cloud: &C,
    policy: &Policy,
    record: &mut ExecutionRecord,
    now_ms: u64,
) -> bool {
    let succeeded = |k: StepKind| {
        record
            .steps
            .iter()
            .any(|s| s.kind == k && s.status.succeeded())
    };
    let undone = record.steps.iter().any(|s| s.kind == StepKind::UndoQuiesce);
    if record.plan.kind != ExecutionKind::Failback
        || !succeeded(StepKind::QuiesceWriters)
        || succeeded(StepKind::PromoteDatabase)
        || undone
    {
        return false;
    }
    let Some(Action::QuiesceWriters { region }) = record
        .plan
        .steps
        .iter()
        .find(|s| s.kind == StepKind::QuiesceWriters)
        .map(|s| s.action.clone())
    else {
        return false;
    };
    let action = Action::UndoQuiesce {
        region: region.clone(),
    };
    let fence = Fence {
        execution_id: record.id.clone(),
        epoch: record
            .steps
            .iter()
            .filter_map(|s| s.epoch)
            .max()
            .unwrap_or_default(),
    };
    let restore = super::quiesce::StepRestore {
        given: record
            .writer_restore
            .get(&region)
            .cloned()
            .unwrap_or_default(),
        ..Default::default()
    };
    let done = super::quiesce::act(cloud, policy, &action, &fence, &restore)
        .await
        .expect("undo-quiesce is a quiesce step");
    let quiesced_at = record
        .steps
        .iter()
        .find(|s| s.kind == StepKind::QuiesceWriters)
        .and_then(|s| s.started_ms)
        .unwrap_or(now_ms);
    let pause = std::time::Duration::from_millis(now_ms.saturating_sub(quiesced_at));
    let limit = policy.failback.max_write_pause;
    let over = if pause > limit {
        format!(
            "; the writers were paused {}, over failback.max_write_pause {}",
            crate::duration::fmt(pause),
            crate::duration::fmt(limit)
        )
    } else {
        String::new()
    };
    let (status, outcome) = match &done {
        Ok(()) => (
            StepStatus::Done,
            format!(
                "writers in {region} given back after {}{over}",
                crate::duration::fmt(pause)
            ),
        ),
        Err(e) => (
            StepStatus::Failed,
            format!("writers in {region} still fenced: {e}; run `drctl unfence`{over}"),
        ),
    };
    record.decisions.push(Decision {
        step: "undo-quiesce".into(),
        at: super::now_rfc3339(),
        what: format!("the promotion did not follow the quiesce: {outcome}"),
    });
    record.steps.push(StepRecord {
        id: "undo-quiesce".into(),
        kind: StepKind::UndoQuiesce,
        after: vec!["quiesce-writers".into()],
        resource: action.resource(),
        status,
        attempts: 1,
        started_ms: Some(now_ms),
        first_started_at_ms: None,
        ended_ms: Some(now_ms),
        outcome: Some(outcome),
        change_id: None,
        epoch: Some(fence.epoch),
        acting_ms: None,
        waiting_ms: None,
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::model::Orientation;
    use crate::plan::failback;

    #[tokio::test(start_paused = true)]
    async fn a_failback_whose_promotion_failed_has_its_quiesce_undone() {
        let written = crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap();
        // After a failover and a reprotect: us-west-2 active.
        let policy = written.oriented(Orientation::Reversed);
        let ctx = failback::Context::after_one_reprotect("fb-1");
        let plan = failback::build(&policy, &Default::default(), &ctx);
        let sim = SimCloud::new(&written, SimOptions::default()).unwrap();
        let mut record = super::super::new_record(&plan, &Default::default());
        let Some(Action::QuiesceWriters { region }) = plan
            .steps
            .iter()
            .find(|s| s.kind == StepKind::QuiesceWriters)
            .map(|s| s.action.clone())
        else {
            panic!("a failback quiesces: {:#?}", plan.steps);
        };
        assert_eq!(region, "us-west-2");
        sim.set_writers_fenced(&region, "database", true)
            .await
            .unwrap();
        for s in &mut record.steps {
            match s.kind {
                StepKind::QuiesceWriters => {
                    s.status = StepStatus::Done;
                    s.started_ms = Some(1_000);
                }
                StepKind::PromoteDatabase => s.status = StepStatus::Failed,
                _ => {}
            }
        }
        // Sixteen minutes later: over the default max_write_pause of 15m.
        assert!(undo_if_needed(&sim, &policy, &mut record, 961_000).await);
        assert!(!sim.writers_fenced(&region, "database").await.unwrap());
        let undo = record.steps.last().unwrap();
        assert_eq!(undo.kind, StepKind::UndoQuiesce);
        assert_eq!(undo.status, StepStatus::Done, "{undo:?}");
        let why = undo.outcome.as_deref().unwrap();
        assert!(why.contains("failback.max_write_pause"), "{why}");
        // Once undone, never again; and a failback that promoted keeps it.
        assert!(!undo_if_needed(&sim, &policy, &mut record, 1_000_000).await);
    }
}
