//! An owner's journal after a change of state: the record replaces the
//! one the state holds, its ended steps and overrides are audited, and
//! the policy's roles and restore strings follow it.

use super::{fenced, remember, roles, status_word, ClusterState, Command, Reply};
use crate::execute::{ExecutionRecord, StepStatus};

impl Command {
    /// A `Save` of `record` without its plan's steps: the state keeps the
    /// plan `Start` journaled, so each save carries what changes only.
    pub fn save(record: &ExecutionRecord, at: String) -> Self {
        let mut lean = record.clone();
        lean.plan.steps.clear();
        lean.plan.preflight_problems.clear();
        Command::Save {
            record: Box::new(lean),
            at,
            plan_omitted: true,
        }
    }
}

impl ClusterState {
    pub(super) fn save(
        &mut self,
        mut record: ExecutionRecord,
        plan_omitted: bool,
        term: u64,
        index: u64,
        at: String,
    ) -> Reply {
        let id = record.id.clone();
        let Some(e) = self.executions.get_mut(&id) else {
            return Reply::NotFound { execution_id: id };
        };
        if let Some(reason) = fenced(e, term) {
            return Reply::Fenced { reason };
        }
        if plan_omitted {
            // The held record is replaced below: its plan moves over
            // instead of being copied on every save.
            std::mem::swap(&mut record.plan, &mut e.record.plan);
        }
        let mut lines = Vec::new();
        for s in &record.steps {
            let before = e.record.step(&s.id).map(|b| b.status);
            let ended = matches!(
                s.status,
                StepStatus::Done | StepStatus::AlreadyDone | StepStatus::Failed
            );
            if ended && before != Some(s.status) {
                lines.push(format!(
                    "execution {id}: step {} {}: {}",
                    s.id,
                    status_word(s.status),
                    s.outcome.clone().unwrap_or_default()
                ));
            }
        }
        for o in record.overrides.iter().skip(e.record.overrides.len()) {
            lines.push(format!(
                "execution {id}: {} accepted {} of data loss{}",
                o.by,
                crate::duration::fmt(std::time::Duration::from_millis(o.accepted_ms)),
                o.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        let finished = record.status.is_finished();
        if finished {
            lines.push(format!(
                "execution {id} ended {:?}: {}",
                record.status,
                record.summary.clone().unwrap_or_default()
            ));
        }
        let policy = record.policy.clone();
        if finished {
            let summary = crate::history::RunSummary::of(&record);
            remember(&mut self.runs, summary);
        }
        let p = self.policies.entry(policy).or_default();
        roles::after_save(p, &record);
        crate::execute::merge_writer_restore(&mut p.writer_restore, &record.restorable());
        if finished && p.running.as_deref() == Some(id.as_str()) {
            p.running = None;
        }
        let e = self.executions.get_mut(&id).expect("checked above");
        e.record = record;
        for what in lines {
            self.audit(index, term, &at, "leader", what);
        }
        Reply::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{record, start};
    use super::*;
    use crate::execute::ExecutionStatus;

    #[tokio::test(start_paused = true)]
    async fn a_save_carries_no_plan_steps_and_the_state_keeps_the_plan_start_journaled() {
        let mut s = ClusterState::default();
        let mut r = record("a").await;
        assert!(!r.plan.steps.is_empty());
        assert_eq!(s.apply(start(&r), 1, 5), Reply::Ok);
        r.steps[0].status = StepStatus::Done;
        r.status = ExecutionStatus::Completed;

        let lean = Command::save(&r, "t".into());
        let full = Command::Save {
            record: Box::new(r.clone()),
            at: "t".into(),
            plan_omitted: false,
        };
        let size = |c: &Command| serde_json::to_vec(c).unwrap().len();
        assert!(
            size(&lean) * 2 < size(&full),
            "a save of {} bytes, the whole record {}",
            size(&lean),
            size(&full)
        );
        // Through the log, as a follower reads it.
        let lean: Command = serde_json::from_slice(&serde_json::to_vec(&lean).unwrap()).unwrap();
        assert_eq!(s.apply(lean, 1, 6), Reply::Ok);
        assert_eq!(
            s.executions["a"].record, r,
            "the plan is kept, the rest replaced"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_save_from_a_log_written_before_plans_were_left_out_applies_as_it_is() {
        let mut s = ClusterState::default();
        let mut r = record("a").await;
        assert_eq!(s.apply(start(&r), 1, 5), Reply::Ok);
        r.steps[0].status = StepStatus::Done;
        let mut old = serde_json::json!({"command": "save", "record": r, "at": "t"});
        assert!(old.get("plan_omitted").is_none());
        let cmd: Command = serde_json::from_value(old.take()).unwrap();
        assert_eq!(s.apply(cmd, 1, 6), Reply::Ok);
        assert_eq!(s.executions["a"].record, r);
    }
}
