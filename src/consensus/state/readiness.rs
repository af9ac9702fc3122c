//! Readiness through the log: the leader's newest evaluation of each
//! policy, so that every node serves it and a new leader knows the last
//! verdict. Only a change of verdict reaches the audit log; a result every
//! few minutes would drown it.

use super::{ClusterState, Reply};
use crate::readiness::Readiness;

/// The most policies whose readiness is kept: one result each, so the
/// state stays bounded whatever a leader proposes.
pub const READINESS_POLICIES_MAX: usize = 64;

impl ClusterState {
    pub(super) fn readiness(&mut self, result: Readiness, term: u64, index: u64) -> Reply {
        let policy = result.policy.clone();
        let before = self.readiness.get(&policy).map(|r| r.verdict);
        if before.is_none() && self.readiness.len() >= READINESS_POLICIES_MAX {
            return Reply::Fenced {
                reason: format!(
                    "readiness of {READINESS_POLICIES_MAX} policies is kept already; \
                     {policy}'s is not recorded"
                ),
            };
        }
        if before != Some(result.verdict) {
            let failing: Vec<&str> = result
                .checks
                .iter()
                .filter(|c| c.status == crate::readiness::Status::Fail)
                .map(|c| c.name.as_str())
                .collect();
            let mut what = format!("readiness of {policy}: {}", result.verdict.sentence());
            if !failing.is_empty() {
                what.push_str(&format!(" (failing: {})", failing.join(", ")));
            }
            let at = result.checked_at.clone();
            self.audit(index, term, &at, "readiness", what);
        }
        self.readiness.insert(policy, result);
        Reply::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::state::Command;
    use crate::readiness::{Check, PredictedRto, Status, Verdict};

    fn result(policy: &str, status: Status) -> Readiness {
        let checks = vec![Check {
            name: "dr-resources".into(),
            status,
            sentence: "s".into(),
        }];
        Readiness {
            policy: policy.into(),
            checked_at: "2026-12-01T12:00:00Z".into(),
            verdict: Verdict::of(&checks),
            checks,
            predicted_rto: PredictedRto {
                p50_ms: 1,
                p95_ms: 2,
                critical_path: vec![],
                basis: "b".into(),
            },
        }
    }

    fn apply(s: &mut ClusterState, r: Readiness, index: u64) -> Reply {
        s.apply(
            Command::Readiness {
                result: Box::new(r),
            },
            3,
            index,
        )
    }

    #[test]
    fn the_newest_result_replaces_the_last_and_only_a_new_verdict_is_audited() {
        let mut s = ClusterState::default();
        assert_eq!(apply(&mut s, result("p", Status::Pass), 1), Reply::Ok);
        assert_eq!(apply(&mut s, result("p", Status::Pass), 2), Reply::Ok);
        assert_eq!(apply(&mut s, result("p", Status::Fail), 3), Reply::Ok);
        assert_eq!(s.readiness.len(), 1);
        assert_eq!(s.readiness["p"].verdict, Verdict::NotReady);
        let lines: Vec<&str> = s.audit.iter().map(|a| a.what.as_str()).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("NOT READY") && lines[1].contains("dr-resources"));
    }

    #[test]
    fn results_are_kept_for_a_bounded_number_of_policies() {
        let mut s = ClusterState::default();
        for i in 0..READINESS_POLICIES_MAX {
            assert_eq!(
                apply(&mut s, result(&format!("p{i}"), Status::Pass), 1),
                Reply::Ok
            );
        }
        let refused = apply(&mut s, result("one-more", Status::Pass), 2);
        assert!(matches!(refused, Reply::Fenced { .. }));
        assert_eq!(s.readiness.len(), READINESS_POLICIES_MAX);
        // A known policy still updates.
        assert_eq!(apply(&mut s, result("p0", Status::Fail), 3), Reply::Ok);
    }
}
