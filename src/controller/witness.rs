//! The witness hands leadership to an executing site.
//!
//! The witness campaigns late (twice the executors' election timeout), so
//! it only wins when no executing site can: when its own log is the only
//! complete one. Leading, it replicates that log; as soon as an executing
//! member has caught up, it stops sending heartbeats. The executors' timers
//! then fire, one of them wins the next term (its log is now complete) and
//! the witness steps down; heartbeats are switched back on for the next
//! time.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::ServerState;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::consensus::{Member, NodeId, Raft};

/// How long executors get to catch up before the witness lets go anyway.
const CATCH_UP: Duration = Duration::from_secs(2);
/// How long the witness waits for an executor to take over.
const TAKE_OVER: Duration = Duration::from_secs(30);

/// Runs on the witness for as long as its raft does.
pub(super) async fn hand_off(raft: Raft, members: BTreeMap<NodeId, Member>) {
    let mut metrics = raft.metrics();
    loop {
        if metrics.changed().await.is_err() {
            return;
        }
        if metrics.borrow().state != ServerState::Leader {
            continue;
        }
        warn!("the witness won an election (its log was the most complete); handing leadership to an executing site");
        let deadline = Instant::now() + CATCH_UP;
        loop {
            let m = metrics.borrow().clone();
            let caught_up = m.replication.as_ref().is_some_and(|r| {
                r.iter().any(|(id, matched)| {
                    members.get(id).is_some_and(|x| !x.witness)
                        && matched.map(|l| l.index) >= m.last_log_index
                })
            });
            if caught_up || m.state != ServerState::Leader || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        raft.runtime_config().heartbeat(false);
        let deadline = Instant::now() + TAKE_OVER;
        while metrics.borrow().state == ServerState::Leader && Instant::now() < deadline {
            tokio::select! {
                _ = metrics.changed() => {},
                _ = tokio::time::sleep(Duration::from_millis(100)) => {},
            }
        }
        raft.runtime_config().heartbeat(true);
        match metrics.borrow().current_leader {
            Some(l) if members.get(&l).is_some_and(|m| !m.witness) => {
                info!(leader = l, "leadership handed to an executing site")
            }
            _ => warn!("no executing site took over yet; the witness will try again if it leads"),
        }
    }
}
