//! The leader's lease, checked before every mutating cloud call and
//! watched beside every running execution.
//!
//! A leader holds its lease while a majority acknowledged it within the
//! shortest election timeout: followers campaign only after their own
//! lease plus their election timeout, so a leader whose lease holds has
//! not been replaced. [`RaftLease`] is the [`Lease`] the executor's cloud
//! is guarded with (see `cloud::guard`): still the leader, in the term of
//! the step's fencing epoch, acknowledged by a majority within the lease.
//! [`lapsed`] resolves when the lease is gone, so an execution stops at
//! once even while the runner's loop is busy elsewhere.

use std::time::Duration;

use openraft::ServerState;

use super::Context;
use crate::cloud::Lease;
use crate::model::Fence;

/// How often [`lapsed`] looks at the leader's lease.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// The lease of the node of `ctx`.
pub(super) struct RaftLease {
    /// The node.
    pub ctx: Context,
    /// The shortest election timeout.
    pub lease: Duration,
}

impl RaftLease {
    /// Why this node may not act in `term` now, if it may not. A leader
    /// without any majority acknowledgement yet may not act either when
    /// `strict`.
    fn lapsed_in(&self, term: u64, strict: bool) -> Option<String> {
        let m = self.ctx.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            return Some(format!("this node is no longer the leader ({:?})", m.state));
        }
        if m.current_term != term {
            return Some(format!(
                "the step's epoch is of term {term}, the current term is {}",
                m.current_term
            ));
        }
        let lease_ms = self.lease.as_millis() as u64;
        match m.millis_since_quorum_ack {
            Some(ms) if ms < lease_ms => None,
            Some(ms) => Some(format!(
                "a majority last acknowledged this leader {ms} ms ago, not within its {lease_ms} ms lease"
            )),
            None if strict => Some("no majority has acknowledged this leader yet".into()),
            None => None,
        }
    }
}

impl Lease for RaftLease {
    fn check(&self, op: crate::model::Op, fence: &Fence) -> Result<(), String> {
        match self.lapsed_in(fence.epoch.term, true) {
            None => Ok(()),
            Some(why) => {
                self.ctx.metrics.cloud_call_refused(op.as_str());
                Err(why)
            }
        }
    }
}

/// Resolves, with the reason, once the node of `ctx` no longer holds the
/// lease it held in `term`. A missing acknowledgement figure alone does
/// not end it (the guard refuses calls meanwhile).
pub(super) async fn lapsed(ctx: Context, lease: Duration, term: u64) -> String {
    let l = RaftLease { ctx, lease };
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(why) = l.lapsed_in(term, false) {
            return why;
        }
    }
}
