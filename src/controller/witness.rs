//! The witness campaigns only to unblock the cluster, and then hands
//! leadership to an executing site.
//!
//! Normally the witness never campaigns: executing sites win elections with
//! its vote. But raft grants a vote only to a candidate whose log is at
//! least as complete as the voter's; when the witness alone holds the
//! latest committed entries (the leader reached only the witness before it
//! died), no executing site can win. The witness notices that it has
//! reached no leader for a while, campaigns, and, leading, replicates its
//! log; as soon as an executing member has caught up it stops sending
//! heartbeats, so that member's election timer fires and it wins the next
//! term. Then the witness stops campaigning again.

use std::time::Duration;

use openraft::ServerState;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Context;

/// How often the witness checks that it can reach a leader.
const CHECK: Duration = Duration::from_millis(500);
/// How long executors get to catch up before the witness lets go anyway.
const CATCH_UP: Duration = Duration::from_secs(2);
/// How long the witness waits for an executor to take over.
const TAKE_OVER: Duration = Duration::from_secs(30);

/// Runs on the witness for as long as its raft does. `stuck_after`: how
/// long without a reachable leader before the witness campaigns.
pub(super) async fn guard(ctx: Context, stuck_after: Duration) {
    let mut since_leader = Instant::now();
    let mut campaigning = false;
    loop {
        tokio::time::sleep(CHECK).await;
        let state = ctx.raft.metrics().borrow().state;
        match state {
            ServerState::Shutdown => return,
            ServerState::Leader => {
                hand_off(&ctx).await;
                since_leader = Instant::now();
                continue;
            }
            _ => {}
        }
        if leader_reachable(&ctx).await {
            since_leader = Instant::now();
            if campaigning {
                ctx.raft.runtime_config().elect(false);
                campaigning = false;
            }
        } else if !campaigning && since_leader.elapsed() > stuck_after {
            warn!(
                "no leader reachable for {}s: the witness may hold the only complete log; campaigning to hand it on",
                since_leader.elapsed().as_secs()
            );
            ctx.raft.runtime_config().elect(true);
            campaigning = true;
        }
    }
}

/// Whether the leader this node follows answers its health check.
async fn leader_reachable(ctx: &Context) -> bool {
    let Some((id, leader)) = ctx.leader().filter(|(id, _)| *id != ctx.id) else {
        return false;
    };
    if !ctx.links.up(ctx.id, id) {
        return false;
    }
    matches!(
        ctx.http.get(format!("{}/healthz", leader.addr)).timeout(CHECK).send().await,
        Ok(r) if r.status().is_success()
    )
}

/// Leading: lets an executing member catch up, then stops heartbeats until
/// one of them takes over.
async fn hand_off(ctx: &Context) {
    warn!("the witness leads; handing leadership to an executing site");
    let mut metrics = ctx.raft.metrics();
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let m = metrics.borrow().clone();
        let caught_up = m.replication.as_ref().is_some_and(|r| {
            r.iter().any(|(id, matched)| {
                ctx.members.get(id).is_some_and(|x| !x.witness)
                    && matched.map(|l| l.index) >= m.last_log_index
            })
        });
        if caught_up || m.state != ServerState::Leader || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.raft.runtime_config().elect(false);
    ctx.raft.runtime_config().heartbeat(false);
    let deadline = Instant::now() + TAKE_OVER;
    while metrics.borrow().state == ServerState::Leader && Instant::now() < deadline {
        tokio::select! {
            _ = metrics.changed() => {},
            _ = tokio::time::sleep(Duration::from_millis(100)) => {},
        }
    }
    ctx.raft.runtime_config().heartbeat(true);
    match ctx.leader() {
        Some((l, m)) if !m.witness => info!(leader = l, "leadership handed to an executing site"),
        _ => warn!("no executing site took over yet"),
    }
}
