//! The leader's lease, checked before every mutating cloud call and
//! watched beside every running execution.
//!
//! A leader holds its lease while a majority acknowledged it within the
//! shortest election timeout: followers campaign only after their own
//! lease plus their election timeout, so a leader whose lease holds has
//! not been replaced. [`RaftLease`] is the [`Lease`] the executor's cloud
//! is guarded with (see `cloud::guard`): still the leader, in the term of
//! the step's fencing epoch, acknowledged by a majority within the lease.
//! [`lapsed`] resolves when the node is deposed, so an execution stops
//! even while the runner's loop is busy elsewhere: not on one lost
//! heartbeat round (the guard refuses its calls meanwhile), but once it is
//! no longer the leader of its term or has gone without a majority for
//! [`STOP_AFTER_LEASES`] leases.

use std::time::Duration;

use openraft::ServerState;

use super::Context;
use crate::cloud::Lease;
use crate::model::Fence;

/// How often [`lapsed`] looks at the leader's lease.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// A leader cut off from the majority for this many leases stops its
/// executions: by then a follower may have campaigned (followers wait their
/// own lease plus their election timeout). Before that, a lapse is a lost
/// heartbeat round or two: the guard refuses every mutating call while it
/// lasts, and the execution goes on once a majority acknowledges again.
pub(super) const STOP_AFTER_LEASES: u32 = 2;

/// What the lease checks read from raft's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LeaderView {
    /// Whether the node is the leader.
    pub leading: bool,
    /// Its current term.
    pub term: u64,
    /// Milliseconds since a majority last acknowledged it, when known.
    pub since_ack_ms: Option<u64>,
}

impl LeaderView {
    /// The view of the node of `ctx` now.
    pub fn of(ctx: &Context) -> Self {
        let m = ctx.raft.metrics().borrow().clone();
        Self {
            leading: m.state == ServerState::Leader,
            term: m.current_term,
            since_ack_ms: m.millis_since_quorum_ack,
        }
    }

    /// Why this node is not, or may no longer be, the leader of `term`.
    fn replaced(&self, term: u64) -> Option<String> {
        if !self.leading {
            return Some("this node is no longer the leader".into());
        }
        (self.term != term).then(|| {
            format!(
                "the step's epoch is of term {term}, the current term is {}",
                self.term
            )
        })
    }

    /// Why this node may not make a mutating call in `term` now: its lease
    /// is over (a majority last acknowledged it `lease` ago or more). A
    /// leader without any majority acknowledgement yet may not act either
    /// when `strict`.
    pub fn refuses(&self, term: u64, lease: Duration, strict: bool) -> Option<String> {
        if let Some(why) = self.replaced(term) {
            return Some(why);
        }
        let lease_ms = lease.as_millis() as u64;
        match self.since_ack_ms {
            Some(ms) if ms < lease_ms => None,
            Some(ms) => Some(format!(
                "a majority last acknowledged this leader {ms} ms ago, not within its {lease_ms} ms lease"
            )),
            None if strict => Some("no majority has acknowledged this leader yet".into()),
            None => None,
        }
    }

    /// Why an execution this node runs in `term` must stop: it is no longer
    /// the leader of that term, or no majority acknowledged it for
    /// [`STOP_AFTER_LEASES`] leases. A lease lapsed for less (one lost
    /// round) does not stop it: its mutating calls are refused meanwhile.
    pub fn deposed(&self, term: u64, lease: Duration) -> Option<String> {
        if let Some(why) = self.replaced(term) {
            return Some(why);
        }
        let bound_ms = (lease * STOP_AFTER_LEASES).as_millis() as u64;
        match self.since_ack_ms {
            Some(ms) if ms >= bound_ms => Some(format!(
                "a majority last acknowledged this leader {ms} ms ago: {STOP_AFTER_LEASES} leases of {} ms have passed",
                lease.as_millis()
            )),
            _ => None,
        }
    }
}

/// The lease of the node of `ctx`.
pub(super) struct RaftLease {
    /// The node.
    pub ctx: Context,
    /// The shortest election timeout.
    pub lease: Duration,
}

impl Lease for RaftLease {
    fn check(&self, op: crate::model::Op, fence: &Fence) -> Result<(), String> {
        match LeaderView::of(&self.ctx).refuses(fence.epoch.term, self.lease, true) {
            None => Ok(()),
            Some(why) => {
                self.ctx.metrics.cloud_call_refused(op.as_str());
                Err(why)
            }
        }
    }
}

/// Resolves, with the reason, once the node of `ctx` is deposed from
/// `term` (see [`LeaderView::deposed`]).
pub(super) async fn lapsed(ctx: Context, lease: Duration, term: u64) -> String {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(why) = LeaderView::of(&ctx).deposed(term, lease) {
            return why;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_millis(1500);

    fn leader(term: u64, since_ack_ms: Option<u64>) -> LeaderView {
        LeaderView {
            leading: true,
            term,
            since_ack_ms,
        }
    }

    #[test]
    fn one_lost_round_refuses_calls_but_does_not_stop_the_execution() {
        // A heartbeat round or two lost: the lease is over for a moment.
        let v = leader(4, Some(1_600));
        let why = v
            .refuses(4, LEASE, true)
            .expect("no call while the lease is over");
        assert!(why.contains("not within its 1500 ms lease"), "{why}");
        assert_eq!(v.deposed(4, LEASE), None);
        // Acknowledged again: calls are allowed.
        assert_eq!(leader(4, Some(200)).refuses(4, LEASE, true), None);
    }

    #[test]
    fn a_lease_lapsed_for_good_stops_the_execution() {
        let why = leader(4, Some(3_000)).deposed(4, LEASE).unwrap();
        assert!(why.contains("2 leases of 1500 ms have passed"), "{why}");
        let v = LeaderView {
            leading: false,
            ..leader(4, Some(10))
        };
        assert!(v
            .deposed(4, LEASE)
            .unwrap()
            .contains("no longer the leader"));
        assert!(v.refuses(4, LEASE, false).is_some());
        let why = leader(5, Some(10)).deposed(4, LEASE).unwrap();
        assert!(why.contains("the current term is 5"), "{why}");
    }

    #[test]
    fn without_an_acknowledgement_figure_calls_wait_and_the_execution_goes_on() {
        let v = leader(4, None);
        assert!(v.refuses(4, LEASE, true).unwrap().contains("no majority"));
        assert_eq!(v.refuses(4, LEASE, false), None);
        assert_eq!(v.deposed(4, LEASE), None);
    }
}
