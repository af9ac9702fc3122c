//! When the runner starts an execution again after its task ended with the
//! execution still running: at once never, with a doubling delay after a
//! failure, and not at all on this node after too many failures, once
//! another leader owns it, or when this node cannot run it (a policy it
//! does not have). Without a bound, an execution that fails the same way
//! each time is restarted every second forever, each start a claim in the
//! replicated log and a line in the audit history.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{error, warn};

use crate::execute::JournalError;

/// The delay before the first restart after a failure; it doubles with each
/// further failure.
pub(super) const RESTART_AFTER: Duration = Duration::from_secs(1);

/// The longest delay between two restarts.
pub(super) const RESTART_AFTER_MAX: Duration = Duration::from_secs(60);

/// The longest delay between two restarts after the journal was
/// unavailable: short, so that a leader whose majority is back resumes
/// within seconds.
pub(super) const UNAVAILABLE_AFTER_MAX: Duration = Duration::from_secs(5);

/// How many failed runs of one execution (errors or panics) this node
/// tries before it stops restarting it until leadership changes.
pub(super) const FAILURES_MAX: u32 = 5;

/// How an execution's task on this node ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::controller) enum RunEnd {
    /// It ran to its end (the record says how).
    Ended,
    /// The journal could not be written in time: try again later.
    Unavailable(String),
    /// Another leader owns it: this node must not run it again.
    Fenced(String),
    /// This node cannot run it (it lacks the execution's policy).
    Declined(String),
    /// It failed otherwise (a journal error, a panic).
    Failed(String),
}

impl From<JournalError> for RunEnd {
    /// The runner's reading of why the executor stopped: a journal that
    /// could not commit is retried, a fenced executor stops for good.
    fn from(e: JournalError) -> Self {
        match e {
            JournalError::Fenced(why) => Self::Fenced(why),
            JournalError::Unavailable(why) => Self::Unavailable(why),
            e @ JournalError::Io(_) => Self::Failed(e.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// When it may start again; `None`: not on this node.
    not_before: Option<Instant>,
}

/// Restart bookkeeping per execution id.
#[derive(Debug, Default)]
pub(super) struct Restarts {
    entries: HashMap<String, Entry>,
}

impl Restarts {
    /// Whether the execution `id` may be started now.
    pub(super) fn may_start(&self, id: &str) -> bool {
        self.entries
            .get(id)
            .is_none_or(|e| e.not_before.is_some_and(|t| Instant::now() >= t))
    }

    /// Records how the run of `id` ended, and logs a stop once.
    pub(super) fn ended(&mut self, id: &str, end: &RunEnd) {
        let entry = self.entries.entry(id.to_string()).or_insert(Entry {
            failures: 0,
            not_before: Some(Instant::now()),
        });
        match end {
            RunEnd::Ended => {
                self.entries.remove(id);
            }
            RunEnd::Unavailable(why) => {
                entry.failures += 1;
                let delay = delay(entry.failures).min(UNAVAILABLE_AFTER_MAX);
                entry.not_before = Some(Instant::now() + delay);
                warn!(execution_id = %id, error = %why, retry_in_ms = delay.as_millis() as u64, "execution stopped on this node: journal unavailable; retrying");
            }
            RunEnd::Fenced(why) | RunEnd::Declined(why) => {
                entry.not_before = None;
                warn!(execution_id = %id, reason = %why, "execution stopped on this node; not resuming it here");
            }
            RunEnd::Failed(why) => {
                entry.failures += 1;
                if entry.failures >= FAILURES_MAX {
                    entry.not_before = None;
                    error!(execution_id = %id, error = %why, failures = entry.failures, "execution failed on every run on this node; not resuming it here until leadership changes: see the error, then start a new failover");
                } else {
                    let delay = delay(entry.failures);
                    entry.not_before = Some(Instant::now() + delay);
                    warn!(execution_id = %id, error = %why, retry_in_ms = delay.as_millis() as u64, "execution failed on this node; retrying");
                }
            }
        }
    }

    /// Forgets everything (leadership changed: the next leader judges afresh).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// [`RESTART_AFTER`] doubled for each failure after the first, at most
/// [`RESTART_AFTER_MAX`].
fn delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (RESTART_AFTER * 2u32.pow(doublings)).min(RESTART_AFTER_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failing_execution_backs_off_then_stops() {
        let mut r = Restarts::default();
        assert!(r.may_start("x"));
        let fail = RunEnd::Failed("panicked".into());
        let mut waited = Vec::new();
        for _ in 0..FAILURES_MAX - 1 {
            r.ended("x", &fail);
            assert!(!r.may_start("x"));
            let t0 = Instant::now();
            while !r.may_start("x") {
                tokio::time::advance(Duration::from_millis(100)).await;
            }
            waited.push(t0.elapsed().as_secs());
        }
        assert_eq!(waited, vec![1, 2, 4, 8]);
        r.ended("x", &fail);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(!r.may_start("x"), "stopped after {FAILURES_MAX} failures");
        r.clear();
        assert!(r.may_start("x"));
    }

    #[tokio::test(start_paused = true)]
    async fn unavailable_retries_while_fenced_stops_at_once() {
        let mut r = Restarts::default();
        let unavailable = JournalError::Unavailable("not committed within 5s".into());
        let fenced = JournalError::Fenced("a later leader owns this execution".into());
        for _ in 0..20 {
            r.ended(
                "u",
                &RunEnd::from(JournalError::Unavailable("no majority".into())),
            );
        }
        assert_eq!(
            RunEnd::from(unavailable),
            RunEnd::Unavailable("not committed within 5s".into())
        );
        tokio::time::advance(UNAVAILABLE_AFTER_MAX).await;
        assert!(
            r.may_start("u"),
            "unavailable is retried, at most 5 s apart"
        );
        r.ended("f", &RunEnd::from(fenced));
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(!r.may_start("f"));
        r.ended("u", &RunEnd::Ended);
        assert!(r.may_start("u"));
    }
}
