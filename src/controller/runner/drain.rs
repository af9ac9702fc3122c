//! A runner stopping for a graceful shutdown: no new work, the running
//! executions given a bounded time to end, the rest stopped where their
//! journal says (the next leader resumes them, as after a crash).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::RunEnd;
use crate::controller::{FailoverAnswer, FailoverRequest};

/// What became of the executions this node ran when it stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drained {
    /// Executions whose run on this node ended within the drain.
    pub ended: Vec<String>,
    /// Executions still running when the drain was over, stopped there.
    pub stopped: Vec<String>,
    /// Failover requests queued here and answered as unavailable.
    pub refused: usize,
}

/// Why a request reaching a stopping node is not served.
pub(super) const STOPPING: &str =
    "this node is shutting down: ask another member (drctl tries each --controller in turn)";

/// Closes `requests` (the API answers 503 from then on) and answers those
/// already queued as unavailable.
pub(super) fn refuse_queued(requests: &mut mpsc::Receiver<FailoverRequest>) -> usize {
    requests.close();
    let mut refused = 0;
    while let Ok(req) = requests.try_recv() {
        let _ = req.reply.send(FailoverAnswer::Unavailable {
            message: STOPPING.into(),
        });
        refused += 1;
    }
    refused
}

/// Waits up to `within` for every task in `active` to end, then stops the
/// rest.
pub(super) async fn drain(
    active: &mut HashMap<String, JoinHandle<RunEnd>>,
    within: Duration,
) -> Drained {
    let deadline = tokio::time::Instant::now() + within;
    let mut out = Drained::default();
    let mut ids: Vec<String> = active.keys().cloned().collect();
    ids.sort();
    if !ids.is_empty() {
        info!(executions = ?ids, drain = ?within, "shutting down: letting running executions end");
    }
    for id in ids {
        let Some(mut task) = active.remove(&id) else {
            continue;
        };
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(_) => out.ended.push(id),
            Err(_) => {
                warn!(execution_id = %id, "shutting down: the drain is over; stopping the execution here (the next leader resumes it from its journal)");
                task.abort();
                let _ = task.await;
                out.stopped.push(id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(reply: tokio::sync::oneshot::Sender<FailoverAnswer>) -> FailoverRequest {
        FailoverRequest {
            kind: Default::default(),
            dry_run: false,
            divergence_reviewed: None,
            policy: "emr-platform".into(),
            accept_data_loss: None,
            accept_unknown: Vec::new(),
            operator: "sre".into(),
            reason: None,
            phases: None,
            reply,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_execution_ending_within_the_drain_ends_and_one_that_does_not_is_stopped() {
        let mut active = HashMap::new();
        active.insert(
            "quick".to_string(),
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                RunEnd::Ended
            }),
        );
        active.insert(
            "slow".to_string(),
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                RunEnd::Ended
            }),
        );
        let started = tokio::time::Instant::now();
        let d = drain(&mut active, Duration::from_secs(10)).await;
        assert_eq!(d.ended, ["quick"]);
        assert_eq!(d.stopped, ["slow"]);
        assert!(active.is_empty());
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn queued_requests_are_answered_unavailable_and_no_more_are_taken() {
        let (tx, mut rx) = mpsc::channel(4);
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(request(reply)).await.unwrap();
        assert_eq!(refuse_queued(&mut rx), 1);
        match answer.await.unwrap() {
            FailoverAnswer::Unavailable { message } => assert!(message.contains("shutting down")),
            other => panic!("{other:?}"),
        }
        let (reply, _answer) = tokio::sync::oneshot::channel();
        assert!(tx.send(request(reply)).await.is_err());
    }
}
