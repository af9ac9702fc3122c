//! The phases of one execution: fault → confirmed → decided → each step →
//! traffic on the DR side.

use serde::{Deserialize, Serialize};

use crate::execute::ExecutionRecord;

/// When the controller first saw the fault and when the detector confirmed
/// it, carried into the execution it started (Unix milliseconds). A drill,
/// or a failover an operator asked for, has none: it starts at the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    /// The first failed probe round of the streak that led to the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_at_ms: Option<u64>,
    /// When a majority of sites confirmed the primary down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at_ms: Option<u64>,
}

/// The phases of one execution as offsets, in milliseconds, from the
/// decision (the execution's start: step times count from it). A phase
/// the record does not know is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTimes {
    /// From the fault first seen to its confirmation.
    pub detect_ms: Option<u64>,
    /// From the confirmation to the decision (the execution's start).
    pub decide_ms: Option<u64>,
    /// From the decision to the switched record answering with the DR
    /// target (the end of the DNS flip, or of verify when there is none).
    pub traffic_on_dr_ms: Option<u64>,
    /// From the fault first seen to traffic on the DR side.
    pub total_ms: Option<u64>,
}

impl PhaseTimes {
    /// The phases of `record`.
    pub fn of(record: &ExecutionRecord) -> Self {
        let traffic = traffic_on_dr_ms(record);
        let decided = crate::execute::started_ms(record);
        let phases = record.phases.unwrap_or_default();
        let detect_ms = match (phases.fault_at_ms, phases.confirmed_at_ms) {
            (Some(f), Some(c)) => Some(c.saturating_sub(f)),
            _ => None,
        };
        let decide_ms = phases
            .confirmed_at_ms
            .filter(|_| decided > 0)
            .map(|c| decided.saturating_sub(c));
        let first = phases.fault_at_ms.or(phases.confirmed_at_ms);
        let total_ms = match (first, traffic) {
            (Some(f), Some(t)) if decided > 0 => Some(decided.saturating_sub(f) + t),
            _ => None,
        };
        Self {
            detect_ms,
            decide_ms,
            traffic_on_dr_ms: traffic,
            total_ms,
        }
    }
}

/// When traffic reached the DR side, from the execution's start: the end
/// of the step that switched the record (or, without one, of verify), once
/// the execution completed.
pub fn traffic_on_dr_ms(record: &ExecutionRecord) -> Option<u64> {
    use crate::plan::StepKind;
    if record.status != crate::execute::ExecutionStatus::Completed {
        return None;
    }
    let end_of = |kind: StepKind| {
        record
            .steps
            .iter()
            .filter(|s| s.kind == kind && s.status.succeeded())
            .filter_map(|s| s.ended_ms)
            .max()
    };
    end_of(StepKind::FlipDns).or_else(|| end_of(StepKind::Verify))
}

/// When the current fault was first seen: for each site, the first round
/// of the failed streak its newest conclusive rounds end with; the earliest
/// of those (Unix milliseconds). `None` when no site's newest conclusive
/// round failed.
pub fn fault_first_seen<'a>(
    sites: impl IntoIterator<Item = &'a std::collections::VecDeque<crate::detect::Observation>>,
) -> Option<u64> {
    sites
        .into_iter()
        .filter_map(|rounds| {
            rounds
                .iter()
                .rev()
                .filter(|o| o.conclusive())
                .take_while(|o| o.failed())
                .last()
                .map(|o| o.at_ms)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::detect::{Observation, ProbeResult};

    fn round(at_ms: u64, ok: bool, inconclusive: bool) -> Observation {
        Observation {
            policy: "p".into(),
            site: "s".into(),
            node: 1,
            round: at_ms,
            at_ms,
            probes: vec![ProbeResult {
                target: "tcp db:5432".into(),
                ok,
                inconclusive,
                latency_ms: 1,
                detail: None,
            }],
            tiers: vec![],
        }
    }

    #[test]
    fn the_fault_starts_at_the_earliest_site_streak() {
        let a: VecDeque<_> = [
            round(1, false, false),
            round(2, true, false),
            round(3, false, false),
            round(4, false, true),
            round(5, false, false),
        ]
        .into();
        let b: VecDeque<_> = [round(2, true, false), round(4, false, false)].into();
        let up: VecDeque<_> = [round(1, false, false), round(6, true, false)].into();
        assert_eq!(fault_first_seen([&a, &b, &up]), Some(3));
        assert_eq!(fault_first_seen([&b]), Some(4));
        assert_eq!(fault_first_seen([&up]), None);
    }

    #[test]
    fn phases_count_from_the_fault_to_traffic_on_dr() {
        let mut r = crate::history::store::tests::entry("x", "p", "t").record;
        r.started_at = "2026-01-01T00:01:00Z".into();
        r.status = crate::execute::ExecutionStatus::Completed;
        for (i, s) in r.steps.iter_mut().enumerate() {
            s.status = crate::execute::StepStatus::Done;
            s.started_ms = Some(i as u64 * 1000);
            s.ended_ms = Some(i as u64 * 1000 + 1000);
        }
        let flip = r
            .steps
            .iter()
            .find(|s| s.kind == crate::plan::StepKind::FlipDns)
            .and_then(|s| s.ended_ms)
            .unwrap();
        let start = crate::execute::started_ms(&r);
        assert_eq!(PhaseTimes::of(&r).traffic_on_dr_ms, Some(flip));
        assert_eq!(PhaseTimes::of(&r).total_ms, None);
        r.phases = Some(Phases {
            fault_at_ms: Some(start - 20_000),
            confirmed_at_ms: Some(start - 5_000),
        });
        let p = PhaseTimes::of(&r);
        assert_eq!(p.detect_ms, Some(15_000));
        assert_eq!(p.decide_ms, Some(5_000));
        assert_eq!(p.total_ms, Some(20_000 + flip));
    }
}
