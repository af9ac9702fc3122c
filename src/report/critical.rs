//! The critical path of an execution: the chain of steps that set its end.

use crate::execute::StepRecord;

/// The critical path: from the step that ended last, back through the step
/// each one waited for, to a step that waited for none.
///
/// In a run where steps overlapped (the DAG executor), a step waited for its
/// declared dependency that ended last. In a run where no two steps
/// overlapped (`--sequential`), each step waited for the step that ran
/// before it, whether or not it depended on it: the path is then the whole
/// chain in execution order.
pub fn critical_path(steps: &[StepRecord]) -> Vec<String> {
    let sequential = !overlapped(steps);
    let mut path = Vec::new();
    let mut cur = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.ended_ms.is_some())
        .max_by_key(|(_, s)| s.ended_ms);
    while let Some((i, s)) = cur {
        path.push(s.id.clone());
        cur = if sequential {
            ran_before(steps, i)
        } else {
            s.after
                .iter()
                .filter_map(|d| steps.iter().enumerate().find(|(_, s)| &s.id == d))
                .filter(|(_, d)| d.ended_ms.is_some())
                .max_by_key(|(_, d)| d.ended_ms)
        };
    }
    path.reverse();
    path
}

/// Whether any two steps ran at the same time.
fn overlapped(steps: &[StepRecord]) -> bool {
    let spans: Vec<(u64, u64)> = steps
        .iter()
        .filter_map(|s| Some((s.started_ms?, s.ended_ms?)))
        .collect();
    spans
        .iter()
        .enumerate()
        .any(|(i, a)| spans[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1))
}

/// The step that ended last before step `i` started. Among steps that ended
/// at the same time, the one that started last, then the later in plan
/// order (the sequential executor runs steps in plan order). Only steps that started before `i` (or at the same time and come
/// earlier in the plan) count, so the walk always ends.
fn ran_before(steps: &[StepRecord], i: usize) -> Option<(usize, &StepRecord)> {
    let s = &steps[i];
    let start = s.started_ms?;
    steps
        .iter()
        .enumerate()
        .filter(|(j, p)| {
            matches!((p.started_ms, p.ended_ms), (Some(ps), Some(pe))
                if pe <= start && (ps, *j) < (start, i))
        })
        .max_by_key(|(j, p)| (p.ended_ms, p.started_ms, *j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::StepStatus;
    use crate::plan::StepKind;

    fn step(id: &str, after: &[&str], span: (u64, u64)) -> StepRecord {
        StepRecord {
            id: id.into(),
            kind: StepKind::Preflight,
            after: after.iter().map(|a| a.to_string()).collect(),
            resource: None,
            status: StepStatus::Done,
            attempts: 1,
            started_ms: Some(span.0),
            ended_ms: Some(span.1),
            outcome: None,
            change_id: None,
            epoch: None,
            acting_ms: None,
            waiting_ms: None,
            first_started_at_ms: None,
        }
    }

    /// The drill's plan shape: after the gate, three branches in parallel,
    /// then DNS and verify.
    fn plan(spans: [(u64, u64); 7]) -> Vec<StepRecord> {
        vec![
            step("preflight", &[], spans[0]),
            step("rpo-gate", &["preflight"], spans[1]),
            step("promote-database", &["rpo-gate"], spans[2]),
            step("failover-cache", &["rpo-gate"], spans[3]),
            step("switch-stream", &["rpo-gate"], spans[4]),
            step("flip-dns", &["promote-database", "switch-stream"], spans[5]),
            step("verify", &["flip-dns", "failover-cache"], spans[6]),
        ]
    }

    #[test]
    fn a_parallel_run_follows_the_dependency_that_ended_last() {
        let steps = plan([
            (0, 10),
            (10, 20),
            (20, 90),
            (20, 40),
            (20, 50),
            (90, 100),
            (100, 110),
        ]);
        assert_eq!(
            critical_path(&steps),
            [
                "preflight",
                "rpo-gate",
                "promote-database",
                "flip-dns",
                "verify"
            ]
        );
    }

    #[test]
    fn a_sequential_run_puts_every_step_on_the_path_in_execution_order() {
        let steps = plan([
            (0, 10),
            (10, 20),
            (20, 90),
            (90, 110),
            (110, 140),
            (140, 150),
            (150, 160),
        ]);
        assert_eq!(
            critical_path(&steps),
            [
                "preflight",
                "rpo-gate",
                "promote-database",
                "failover-cache",
                "switch-stream",
                "flip-dns",
                "verify"
            ]
        );
    }

    #[test]
    fn steps_that_take_no_time_still_give_a_finite_path_in_plan_order() {
        let steps = plan([(0, 0); 7]);
        let ids: Vec<String> = steps.iter().map(|s| s.id.clone()).collect();
        assert_eq!(critical_path(&steps), ids);
    }
}
