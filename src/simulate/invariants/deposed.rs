//! Never two writers at once: once a leader of a later term has been seen,
//! no mutating call made under an earlier term reaches the cloud, accepted
//! or refused. A deposed leader's lease ends before the next leader can be
//! elected (voters refuse candidates until their own lease on it has run
//! out), so every call it still sends after that is one the lease check
//! should have kept back.

use std::time::Duration;

use super::Snapshot;

/// How long after a later leader is seen an earlier term's call may still
/// arrive: its flight to the cloud (the latency model's slowest API
/// answer) and the observation tick, with margin. A deposed leader that
/// goes on acting does so for seconds, each poll of a waiting step.
pub const SLACK: Duration = Duration::from_secs(2);

/// Checks the accepted mutations and the refused calls against the leaders
/// seen.
pub fn check(s: &Snapshot) -> Result<(), String> {
    for (t, m, how) in s.calls() {
        let later = s
            .leaders
            .iter()
            .find(|(seen, term)| *term > m.epoch.term && *seen + SLACK < *t);
        if let Some((seen, term)) = later {
            return Err(format!(
                "{} on {} {how} at {:.1}s by {} under term {} (epoch {}), but a leader of term {term} was seen at {:.1}s: a deposed leader acted",
                m.op,
                m.resource,
                t.as_secs_f64(),
                m.caller.as_deref().unwrap_or("?"),
                m.epoch.term,
                m.epoch,
                seen.as_secs_f64(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::invariants::tests_support::{mutation, snapshot_with};

    #[test]
    fn a_call_of_an_earlier_term_after_a_later_leader_was_seen_is_a_violation() {
        let refused = [(Duration::from_secs(40), mutation(3, "us-east-1"))];
        let leaders = [(Duration::from_secs(10), 3), (Duration::from_secs(30), 5)];
        let err = snapshot_with(&[], &refused, &leaders, check).unwrap_err();
        assert!(err.contains("under term 3"), "{err}");
        assert!(err.contains("term 5 was seen at 30.0s"), "{err}");
    }

    #[test]
    fn a_call_in_flight_when_the_next_leader_is_seen_is_not() {
        let log = [(Duration::from_millis(31_500), mutation(3, "us-east-1"))];
        let leaders = [(Duration::from_secs(10), 3), (Duration::from_secs(30), 5)];
        assert_eq!(snapshot_with(&log, &[], &leaders, check), Ok(()));
        let log = [(Duration::from_secs(45), mutation(5, "us-west-2"))];
        assert_eq!(snapshot_with(&log, &[], &leaders, check), Ok(()));
    }
}
