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

use super::Context;
use crate::consensus::network::ask_to_elect;
use crate::consensus::NodeId;

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
    /// The cluster secret, to ask an executor to campaign.
    pub secret: Arc<str>,
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

    /// The executing members whose log matches the leader's.
    fn caught_up(&self) -> Vec<NodeId> {
        let m = self.ctx.raft.metrics().borrow().clone();
        m.replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, matched)| {
                        self.ctx.members.get(id).is_some_and(|x| !x.witness)
                            && self.ctx.links.up(self.ctx.id, **id)
                            && matched.map(|l| l.index) >= m.last_log_index
                    })
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn leading(&self) -> bool {
        self.ctx.raft.metrics().borrow().state == ServerState::Leader
    }

    /// Leading: lets an executing member catch up, stops heartbeats, and
    /// once its lease is over asks that member to campaign.
    async fn hand_off(&self) {
        warn!("the witness leads; handing leadership to an executing site");
        let deadline = Instant::now() + CATCH_UP;
        let mut ready = self.caught_up();
        while ready.is_empty() && self.leading() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ready = self.caught_up();
        }
        self.ctx.raft.runtime_config().heartbeat(false);
        tokio::time::sleep(self.lease + Duration::from_millis(20)).await;
        let deadline = Instant::now() + TAKE_OVER;
        while self.leading() && Instant::now() < deadline {
            for id in self.caught_up() {
                let addr = &self.ctx.members[&id].addr;
                if let Err(e) = ask_to_elect(&self.ctx.http, addr, &self.secret, CHECK).await {
                    warn!(node = id, error = %e, "cannot ask the member to campaign");
                }
            }
            tokio::time::sleep(self.lease).await;
        }
        self.ctx.raft.runtime_config().heartbeat(true);
        match self.ctx.leader() {
            Some((l, m)) if !m.witness => {
                info!(leader = l, "leadership handed to an executing site")
            }
            _ => warn!("no executing site took over yet"),
        }
    }
}
