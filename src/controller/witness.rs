//! The witness steps in only to unblock the cluster, then hands leadership
//! to an executing site.
//!
//! Normally the witness never campaigns: executing sites win elections with
//! its vote. But raft grants a vote only to a candidate whose log is at
//! least as complete as the voter's; when the witness alone holds the
//! latest entries (the leader reached only the witness before it died), no
//! executing site can win. The witness learns of it when it refuses such a
//! candidate (or when no leader has answered for a while): if no leader
//! answers, it campaigns at once and, leading, replicates its log. As soon
//! as an executing member has caught up, it stops sending heartbeats, waits
//! for its own lease to run out and asks that member to campaign, which
//! wins the next term.

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{info, warn};

use super::handoff::HandOff;
use super::Context;
use crate::consensus::{Member, NodeId};

/// How often the witness checks that it can reach a leader.
const CHECK: Duration = Duration::from_millis(500);
/// How long executors get to catch up before the witness lets go anyway.
const CATCH_UP: Duration = Duration::from_secs(2);
/// How long the witness waits for an executor to take over.
const TAKE_OVER: Duration = Duration::from_secs(30);

/// The witness's guard.
pub(super) struct Witness {
    /// The node.
    pub ctx: Context,
    /// Signs the request asking an executor to campaign.
    pub signer: crate::consensus::auth::Signer,
    /// How long without a reachable leader before campaigning anyway.
    pub stuck_after: Duration,
    /// The witness's leader lease: voters refuse a new candidate until it
    /// has passed since the last heartbeat.
    pub lease: Duration,
    /// Told when the witness refused a candidate whose log is behind.
    pub refused_behind: Arc<Notify>,
}

impl Witness {
    /// Runs for as long as the node does.
    pub(super) async fn guard(self) {
        let mut since_leader = Instant::now();
        loop {
            let refused = tokio::select! {
                _ = self.refused_behind.notified() => true,
                _ = tokio::time::sleep(CHECK) => false,
            };
            let state = self.ctx.raft.metrics().borrow().state;
            match state {
                ServerState::Shutdown => return,
                ServerState::Leader => {
                    self.hand_off().await;
                    since_leader = Instant::now();
                    continue;
                }
                _ => {}
            }
            if self.leader_reachable().await {
                since_leader = Instant::now();
                continue;
            }
            let stuck = since_leader.elapsed() > self.stuck_after;
            if refused || stuck {
                warn!(
                    refused_a_candidate_behind = refused,
                    "no leader answers and the witness may hold the only complete log: campaigning to hand it on"
                );
                if let Err(e) = self.ctx.raft.trigger().elect().await {
                    warn!(error = %e, "cannot campaign");
                }
                since_leader = Instant::now();
            }
        }
    }

    /// Whether the leader this node follows answers its health check.
    async fn leader_reachable(&self) -> bool {
        match self.ctx.leader() {
            Some((id, _)) if id != self.ctx.id => self.ctx.peer_answers(id, CHECK).await,
            _ => false,
        }
    }

    /// Leading: lets an executing member catch up, then hands leadership
    /// to it (see `handoff.rs`).
    async fn hand_off(&self) {
        warn!("the witness leads; handing leadership to an executing site");
        let h = HandOff {
            ctx: &self.ctx,
            signer: &self.signer,
            lease: self.lease,
        };
        let executing = |_: NodeId, m: &Member| !m.witness;
        // Lets go after CATCH_UP even when none has caught up: it asks
        // whichever has by then, each lease, for up to TAKE_OVER.
        h.wait_caught_up(executing, CATCH_UP).await;
        match h.hand_off(executing, TAKE_OVER).await {
            Some(l) if !self.ctx.members.get(&l).is_some_and(|m| m.witness) => {
                info!(leader = l, "leadership handed to an executing site")
            }
            _ => warn!("no executing site took over yet"),
        }
    }
}
