//! Handing leadership to a chosen member.
//!
//! openraft 0.9 has no leader transfer, so the leader does it with what raft
//! has: it stops its heartbeats, waits until the voters' lease on it has run
//! out (until then a voter refuses every candidate), and asks the member it
//! chose to campaign now (`POST /raft/elect`). That member's log matches the
//! leader's, so it wins the next term with one more vote, well before any
//! follower's own election timer would fire. Heartbeats are switched back on
//! whatever happened, so that this node heartbeats as soon as it leads again.
//!
//! Two callers: the witness, which leads only to unblock the cluster and
//! gives leadership to an executing site (`witness.rs`), and the primary
//! region's node, which gives it to the region being activated before a
//! failover (`placement.rs`).

use std::time::Duration;

use openraft::ServerState;
use tokio::time::Instant;
use tracing::warn;

use super::Context;
use crate::consensus::network::ask_to_elect;
use crate::consensus::{Member, NodeId};

/// How long a call asking a member to campaign may take.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the leader looks at its own state while it waits.
const POLL: Duration = Duration::from_millis(10);

/// The leader's side of a hand-off.
pub(super) struct HandOff<'a> {
    /// The leading node.
    pub ctx: &'a Context,
    /// Signs the request asking a member to campaign.
    pub signer: &'a crate::consensus::auth::Signer,
    /// How long after the last heartbeat a voter still refuses candidates:
    /// the witness's lease, the shortest any voter holds.
    pub lease: Duration,
}

impl HandOff<'_> {
    /// Whether this node leads now.
    pub fn leading(&self) -> bool {
        self.ctx.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The members `eligible` accepts that this leader reaches and whose
    /// log matches its own (empty when it does not lead).
    pub fn caught_up(&self, eligible: impl Fn(NodeId, &Member) -> bool) -> Vec<NodeId> {
        let m = self.ctx.raft.metrics().borrow().clone();
        let Some(r) = m.replication.as_ref() else {
            return Vec::new();
        };
        r.iter()
            .filter(|(id, matched)| {
                **id != self.ctx.id
                    && self.ctx.members.get(id).is_some_and(|m| eligible(**id, m))
                    && self.ctx.links.up(self.ctx.id, **id)
                    && matched.map(|l| l.index) >= m.last_log_index
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Waits up to `within` until some eligible member has caught up;
    /// returns those that have (empty when none did in time).
    pub async fn wait_caught_up(
        &self,
        eligible: impl Fn(NodeId, &Member) -> bool,
        within: Duration,
    ) -> Vec<NodeId> {
        let deadline = Instant::now() + within;
        loop {
            let ready = self.caught_up(&eligible);
            if !ready.is_empty() || !self.leading() || Instant::now() >= deadline {
                return ready;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops heartbeats, waits out the voters' lease, then asks every
    /// caught-up eligible member to campaign, again each lease, until this
    /// node no longer leads or `within` has passed since the asking began.
    /// Returns the leader this node then follows, or `None` when it still
    /// leads (nobody took over) or no leader is known yet.
    pub async fn hand_off(
        &self,
        eligible: impl Fn(NodeId, &Member) -> bool,
        within: Duration,
    ) -> Option<NodeId> {
        self.ctx.raft.runtime_config().heartbeat(false);
        tokio::time::sleep(self.lease + Duration::from_millis(20)).await;
        let deadline = Instant::now() + within;
        'asking: while self.leading() && Instant::now() < deadline {
            for id in self.caught_up(&eligible) {
                let addr = &self.ctx.members[&id].addr;
                if let Err(e) =
                    ask_to_elect(&*self.ctx.transport, addr, self.signer, ASK_TIMEOUT).await
                {
                    warn!(node = id, error = %e, "cannot ask the member to campaign");
                }
            }
            let next = (Instant::now() + self.lease).min(deadline);
            while Instant::now() < next {
                if !self.leading() {
                    break 'asking;
                }
                tokio::time::sleep(POLL).await;
            }
        }
        self.ctx.raft.runtime_config().heartbeat(true);
        if self.leading() {
            return None;
        }
        // The winner's first append names it; give it a moment to arrive.
        let deadline = Instant::now() + self.lease;
        loop {
            match self.ctx.leader() {
                Some((id, _)) if id != self.ctx.id => return Some(id),
                _ if Instant::now() >= deadline => return None,
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }
}
