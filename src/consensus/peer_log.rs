//! How a node logs its peers' reachability: once at WARN when a peer stops
//! answering, again at most every [`REPEAT_EVERY`] while it stays down,
//! and once at INFO when it answers again. openraft itself logs every
//! failed call at ERROR (several a second for a peer that is down); the
//! process's log filter drops those lines (see `cli/logging.rs`), so these
//! are the lines an operator sees.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::NodeId;

/// How often a peer that stays unreachable is logged again.
pub const REPEAT_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Down {
    since: Instant,
    logged: Instant,
    failures: u64,
}

/// The peers this node currently cannot reach.
#[derive(Debug, Default)]
pub struct PeerLog {
    down: Mutex<HashMap<NodeId, Down>>,
}

impl PeerLog {
    /// A call to `peer` at `addr` failed without an answer.
    pub fn failed(&self, peer: NodeId, addr: &str, error: &str) {
        let now = Instant::now();
        let mut down = self.down.lock().expect("peer log lock");
        match down.get_mut(&peer) {
            None => {
                down.insert(
                    peer,
                    Down {
                        since: now,
                        logged: now,
                        failures: 1,
                    },
                );
                tracing::warn!(peer, addr, error, "peer unreachable");
            }
            Some(d) => {
                d.failures += 1;
                if now.duration_since(d.logged) >= REPEAT_EVERY {
                    d.logged = now;
                    let down_s = now.duration_since(d.since).as_secs();
                    tracing::warn!(
                        peer,
                        addr,
                        error,
                        down_s,
                        failures = d.failures,
                        "peer still unreachable"
                    );
                }
            }
        }
    }

    /// `peer` at `addr` answered a call.
    pub fn answered(&self, peer: NodeId, addr: &str) {
        let was = self.down.lock().expect("peer log lock").remove(&peer);
        if let Some(d) = was {
            let down_s = Instant::now().duration_since(d.since).as_secs();
            tracing::info!(peer, addr, down_s, "peer reachable again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stays_down_is_logged_once_a_minute() {
        let (subscriber, log) = crate::test_log::capture();
        let _guard = tracing::subscriber::set_default(subscriber);
        let peers = PeerLog::default();
        // Two failed calls a second for three minutes.
        for _ in 0..360 {
            peers.failed(2, "http://10.0.0.2:7100", "connection refused");
            tokio::time::advance(Duration::from_millis(500)).await;
        }
        peers.answered(2, "http://10.0.0.2:7100");
        peers.answered(2, "http://10.0.0.2:7100");
        let warns = log.lines_with("WARN");
        assert_eq!(warns.len(), 3, "{warns:#?}");
        assert!(warns[0].contains("peer unreachable"), "{}", warns[0]);
        assert!(warns[1].contains("peer still unreachable"), "{}", warns[1]);
        assert_eq!(log.lines_with("peer reachable again").len(), 1);
        assert!(log.lines_with("ERROR").is_empty());
    }
}
