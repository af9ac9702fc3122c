//! Turning the step changes a follower sees between two polls of an
//! execution into progress events, in the journal's order.
//!
//! A poll may show several steps changed at once (always after a leader
//! change, when the new leader's record is the first one read): printed in
//! plan order, a step that started after another ended would appear to
//! start first. The events of one poll are therefore sorted by the time the
//! journal gives them; at the same millisecond an end comes before a start
//! (a step starts when those it waits for end), and a step's own start
//! before its own end.

use std::collections::HashMap;

use crate::execute::{Event, StepRecord, StepStatus};

/// The events of the steps whose status changed since `seen`, which is
/// updated, in journal order.
pub(super) fn changes(steps: &[StepRecord], seen: &mut HashMap<String, StepStatus>) -> Vec<Event> {
    // (time, rank, sequence, event): events without a time go last, in
    // plan order.
    let mut out: Vec<(u64, u8, usize, Event)> = Vec::new();
    for s in steps {
        let before = seen.get(&s.id).copied();
        if before == Some(s.status) {
            continue;
        }
        seen.insert(s.id.clone(), s.status);
        let started = |out: &mut Vec<_>| {
            let at = s.started_ms.unwrap_or(u64::MAX);
            let e = Event::StepStarted {
                id: s.id.clone(),
                at_ms: s.started_ms.unwrap_or(0),
            };
            out.push((at, 1, out.len(), e));
        };
        match s.status {
            StepStatus::Running => started(&mut out),
            StepStatus::Pending => {}
            status => {
                let unseen = before.is_none() || before == Some(StepStatus::Pending);
                let shows_start = unseen && status != StepStatus::NotRun;
                if shows_start {
                    started(&mut out);
                }
                let at = s.ended_ms.unwrap_or(u64::MAX);
                // After its own start when both fall on the same millisecond.
                let rank = if shows_start && s.started_ms == s.ended_ms {
                    2
                } else {
                    0
                };
                let e = Event::StepFinished {
                    id: s.id.clone(),
                    status,
                    at_ms: s.ended_ms.unwrap_or(0),
                    outcome: s.outcome.clone().unwrap_or_default(),
                };
                out.push((at, rank, out.len(), e));
            }
        }
    }
    out.sort_by_key(|(at, rank, seq, _)| (*at, *rank, *seq));
    out.into_iter().map(|(.., e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StepKind;

    fn step(
        id: &str,
        kind: StepKind,
        status: StepStatus,
        times: (Option<u64>, Option<u64>),
    ) -> StepRecord {
        StepRecord {
            id: id.into(),
            kind,
            after: Vec::new(),
            resource: None,
            status,
            attempts: 0,
            started_ms: times.0,
            ended_ms: times.1,
            outcome: None,
            change_id: None,
            epoch: None,
            acting_ms: None,
            waiting_ms: None,
            first_started_at_ms: None,
        }
    }

    fn names(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::StepStarted { id, .. } => format!("{id}: started"),
                Event::StepFinished { id, status, .. } => format!("{id}: {status:?}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_step_that_started_after_another_ended_in_the_same_poll_is_shown_after_it() {
        use StepStatus::*;
        let mut seen = HashMap::new();
        // Before the leader was killed: preflight done, rpo-gate running.
        let before = vec![
            step(
                "preflight",
                StepKind::Preflight,
                Done,
                (Some(0), Some(1_200)),
            ),
            step(
                "promote-database",
                StepKind::PromoteDatabase,
                Pending,
                (None, None),
            ),
            step("rpo-gate", StepKind::RpoGate, Running, (Some(1_200), None)),
        ];
        changes(&before, &mut seen);
        // The new leader's record: rpo-gate ended, then promote-database
        // started, both between two polls (promote-database comes first in
        // the record, as it may in plan order).
        let after = vec![
            step(
                "preflight",
                StepKind::Preflight,
                Done,
                (Some(0), Some(1_200)),
            ),
            step(
                "promote-database",
                StepKind::PromoteDatabase,
                Running,
                (Some(4_100), None),
            ),
            step(
                "rpo-gate",
                StepKind::RpoGate,
                Done,
                (Some(1_200), Some(4_100)),
            ),
        ];
        assert_eq!(
            names(&changes(&after, &mut seen)),
            ["rpo-gate: Done", "promote-database: started"]
        );
        assert!(
            changes(&after, &mut seen).is_empty(),
            "nothing new the second time"
        );
    }

    #[test]
    fn a_step_seen_only_once_ended_shows_its_start_then_its_end_in_time_order() {
        use StepStatus::*;
        let mut seen = HashMap::new();
        let record = vec![
            step("verify", StepKind::Verify, Done, (Some(9_000), Some(9_000))),
            step(
                "flip-dns",
                StepKind::FlipDns,
                Done,
                (Some(5_000), Some(9_000)),
            ),
            step("scale", StepKind::ScaleNodeGroup, NotRun, (None, None)),
            step(
                "preflight",
                StepKind::Preflight,
                Done,
                (Some(0), Some(5_000)),
            ),
        ];
        assert_eq!(
            names(&changes(&record, &mut seen)),
            [
                "preflight: started",
                "preflight: Done",
                "flip-dns: started",
                "flip-dns: Done",
                "verify: started",
                "verify: Done",
                "scale: NotRun",
            ]
        );
    }
}
