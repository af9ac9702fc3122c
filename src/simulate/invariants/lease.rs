//! A leader acts only within its lease: once a node has been cut off from
//! every other node, no mutating call made under a term from its site
//! reaches the cloud later than its lease (its election timeout: no
//! majority acknowledged it after the cut) and the call's flight. This is
//! what keeps a deposed leader from acting beside the next one, checked
//! where it starts rather than where it harms: a leader that acts on past
//! its lease is found even when the next leader is not elected in time
//! to act beside it.

use std::time::Duration;

use super::{Cut, Snapshot};

/// How late after its lease ran out a call may still be logged: raft's
/// metrics, which the lease check reads, are as old as one tick (1.5
/// heartbeats of 500 ms); an acknowledgement in flight at the cut lands
/// up to 120 ms later; an accepted call is logged when the cloud answers
/// (250 ms at the slowest). With margin.
pub const FLIGHT: Duration = Duration::from_millis(1_250);

/// Checks the accepted mutations and the refused calls against the cuts.
pub fn check(s: &Snapshot) -> Result<(), String> {
    for (t, m, how) in s.calls() {
        // Epoch zero: a call outside any leader's term (none in a run
        // without fencing); the one-writer invariant covers those.
        if m.epoch.term == 0 {
            continue;
        }
        let Some(caller) = m.caller.as_deref() else {
            continue;
        };
        let over = s.cuts.iter().find(|c| {
            let lease = s.lease_of(c.node);
            c.region == caller && c.from + lease + FLIGHT < *t && c.until.is_none_or(|u| *t <= u)
        });
        if let Some(Cut { node, from, .. }) = over {
            return Err(format!(
                "{} on {} {how} at {:.1}s from {caller} under term {} (epoch {}), but node {node} there was cut off from every other node at {:.1}s and its lease of {} ms had run out: a leader acted past its lease",
                m.op,
                m.resource,
                t.as_secs_f64(),
                m.epoch.term,
                m.epoch,
                from.as_secs_f64(),
                s.lease_of(*node).as_millis(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::invariants::tests_support::{mutation, snapshot_cut};

    fn cut(from: u64, until: Option<u64>) -> Cut {
        Cut {
            node: 2,
            region: "us-west-2".into(),
            from: Duration::from_secs(from),
            until: until.map(Duration::from_secs),
        }
    }

    #[test]
    fn a_call_from_a_site_cut_off_for_longer_than_its_lease_is_a_violation() {
        let log = [(Duration::from_millis(34_300), mutation(3, "us-west-2"))];
        let err = snapshot_cut(&log, &[], &[cut(30, None)], check).unwrap_err();
        assert!(
            err.contains("cut off from every other node at 30.0s"),
            "{err}"
        );
        assert!(err.contains("a leader acted past its lease"), "{err}");
        let err = snapshot_cut(&[], &log, &[cut(30, None)], check).unwrap_err();
        assert!(err.contains("sent (refused)"), "{err}");
    }

    // The support snapshot's leases are drawn between 1.5 and 3 s.
    #[test]
    fn calls_within_the_lease_after_the_cut_elsewhere_or_after_it_healed_are_not() {
        // Within the lease and the flight.
        let log = [(Duration::from_millis(32_700), mutation(3, "us-west-2"))];
        assert!(snapshot_cut(&log, &[], &[cut(30, None)], check).is_ok());
        // From the other site.
        let log = [(Duration::from_secs(40), mutation(3, "us-east-1"))];
        assert!(snapshot_cut(&log, &[], &[cut(30, None)], check).is_ok());
        // After the links came back.
        let log = [(Duration::from_secs(50), mutation(3, "us-west-2"))];
        assert!(snapshot_cut(&log, &[], &[cut(30, Some(45))], check).is_ok());
        // Outside any term.
        let log = [(Duration::from_secs(40), mutation(0, "us-west-2"))];
        assert!(snapshot_cut(&log, &[], &[cut(30, None)], check).is_ok());
    }
}
