//! Stopping a node gracefully, as SIGTERM asks (Kubernetes sends it before
//! a pod goes away, `terminationGracePeriodSeconds` before it kills it).
//!
//! In order: the executor takes no more work (queued requests are answered
//! unavailable, the API answers 503), the running executions get `drain`
//! to end and are stopped where their journal says if they do not (the
//! next leader resumes them, as after a crash); then a leader hands
//! leadership to a caught-up executing member (`handoff.rs`), so the
//! cluster does not wait out an election timeout for a node that told it
//! was going; then the HTTP server finishes the requests it serves, and
//! raft stops. A node that does not lead just stops.

use std::time::Duration;

use tracing::{info, warn};

use super::handoff::HandOff;
use super::runner::Drained;
use super::NodeHandle;
use crate::consensus::{Member, NodeId};

/// How long a leader waits for an executing member to catch up with its
/// log before handing leadership to it.
const CATCH_UP: Duration = Duration::from_secs(2);
/// How long the HTTP server may take to answer the requests in flight.
const CLOSE: Duration = Duration::from_secs(5);

/// What a graceful stop did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Executions whose run on this node ended within the drain.
    pub ended: Vec<String>,
    /// Executions stopped when the drain was over (the next leader resumes
    /// them from their journal).
    pub stopped: Vec<String>,
    /// Failover requests queued here and answered as unavailable.
    pub refused: usize,
    /// Whether this node led when its executor had stopped.
    pub led: bool,
    /// The member that took leadership over from this node, if one did.
    pub handed_to: Option<NodeId>,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} execution(s) ended within the drain, {} stopped for the next leader to resume",
            self.ended.len(),
            self.stopped.len()
        )?;
        match (self.led, self.handed_to) {
            (true, Some(id)) => write!(f, "; leadership handed to node {id}"),
            (true, None) => write!(
                f,
                "; no executing member took leadership over: the others elect one"
            ),
            (false, _) => Ok(()),
        }
    }
}

impl NodeHandle {
    /// Stops the node gracefully (see the module's notes), giving running
    /// executions up to `drain` to end.
    pub async fn shutdown(mut self, drain: Duration) -> Stopped {
        info!(?drain, "shutting down: taking no more work");
        let _ = self.stop.send(Some(drain));
        let drained = match self.runner.take() {
            Some(runner) => runner.await.unwrap_or_default(),
            None => Drained::default(),
        };
        let (signer, lease) = &self.hand_off;
        let h = HandOff {
            ctx: &self.ctx,
            signer,
            lease: *lease,
        };
        let executes = |_: NodeId, m: &Member| !m.witness;
        let led = h.leading();
        let handed_to = if led {
            if h.wait_caught_up(executes, CATCH_UP).await.is_empty() {
                None
            } else {
                h.hand_off(executes, *lease * 4).await
            }
        } else {
            None
        };
        let stopped = Stopped {
            ended: drained.ended,
            stopped: drained.stopped,
            refused: drained.refused,
            led,
            handed_to,
        };
        if led && handed_to.is_none() {
            warn!("shutting down: {stopped}");
        } else {
            info!("shutting down: {stopped}");
        }
        let _ = self.close.send(true);
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(CLOSE, &mut server).await.is_err() {
                server.abort();
            }
        }
        self.kill().await;
        stopped
    }
}
