//! When the detector's failover may be asked for again after an answer
//! that started nothing (no quorum, a journal write that failed): not on
//! the next of raft's metrics changes, which each failed request itself
//! causes. Without the wait a leader cut off from the others with a
//! `down` verdict asked again at once, forever, and stopped the
//! simulation's clock (seed 391).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// How long the runner waits before it asks again.
pub(super) const START_RETRY: Duration = Duration::from_secs(1);

/// Per policy: when to ask again, and the answer last logged.
#[derive(Debug, Default)]
pub(super) struct StartRetries(HashMap<String, (Instant, String)>);

impl StartRetries {
    /// Whether `policy`'s failover may be asked for now.
    pub(super) fn due(&self, policy: &str) -> bool {
        self.0
            .get(policy)
            .is_none_or(|(at, _)| Instant::now() >= *at)
    }

    /// Keeps an answer that started nothing: the next request waits
    /// [`START_RETRY`]. Returns whether to log it (the first such answer,
    /// or one that differs from the last).
    pub(super) fn not_started(&mut self, policy: &str, answer: String) -> bool {
        let at = Instant::now() + START_RETRY;
        let new = self.0.get(policy).is_none_or(|(_, last)| *last != answer);
        self.0.insert(policy.to_string(), (at, answer));
        new
    }

    /// Forgets `policy`'s wait: its failover started, or was refused.
    pub(super) fn clear(&mut self, policy: &str) {
        self.0.remove(policy);
    }

    /// Forgets every wait (this node no longer leads).
    pub(super) fn reset(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_answer_that_started_nothing_waits_a_second_and_is_logged_once() {
        let mut r = StartRetries::default();
        assert!(r.due("p"));
        assert!(
            r.not_started("p", "no quorum".into()),
            "logged the first time"
        );
        assert!(!r.due("p"));
        assert!(r.due("other"), "per policy");
        tokio::time::advance(START_RETRY).await;
        assert!(r.due("p"));
        assert!(
            !r.not_started("p", "no quorum".into()),
            "the same answer again"
        );
        assert!(r.not_started("p", "journal write failed".into()));
        r.clear("p");
        assert!(r.due("p"));
        r.not_started("p", "no quorum".into());
        r.reset();
        assert!(r.due("p"));
    }
}
