//! Where a step's time goes once it has decided to act: acting (the
//! mutating calls themselves) or waiting (backoff between attempts, a busy
//! resource, polling for the postcondition).
//!
//! The report draws the two apart, because they call for different fixes:
//! a slow call is the provider's or the network's, a long wait is the
//! resource changing state (a replica being promoted, nodes joining).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tokio::time::Instant;

/// A step's acting and waiting time, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct StepTime {
    /// Inside mutating calls.
    pub acting_ms: u64,
    /// Everything else after the first call started: backoff, busy
    /// resources, polling for the postcondition.
    pub waiting_ms: u64,
}

/// Measures one step's act and verify phases, from [`PhaseClock::begin`]
/// on; a step that never began (its postcondition already held) has no
/// split.
#[derive(Debug, Default)]
pub(super) struct PhaseClock {
    started: OnceLock<Instant>,
    acting_us: AtomicU64,
}

/// Adds the time since `from` to `acting_us` when dropped, so a call cut
/// off by its timeout still counts as acting.
struct ActingGuard<'a> {
    from: Instant,
    acting_us: &'a AtomicU64,
}

impl Drop for ActingGuard<'_> {
    fn drop(&mut self) {
        let us = u64::try_from(self.from.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.acting_us.fetch_add(us, Ordering::Relaxed);
    }
}

impl PhaseClock {
    /// Starts the clock (once): the step is about to make its first
    /// mutating call.
    pub fn begin(&self) {
        let _ = self.started.get_or_init(Instant::now);
    }

    /// Runs `call`, counting its time as acting.
    pub async fn acting<F: Future>(&self, call: F) -> F::Output {
        let _guard = ActingGuard {
            from: Instant::now(),
            acting_us: &self.acting_us,
        };
        call.await
    }

    /// The split so far: acting, and the rest of the time since the start
    /// as waiting. Both are whole milliseconds rounded down, so their sum
    /// never exceeds the step's own duration.
    pub fn split(&self) -> Option<StepTime> {
        let started = self.started.get()?;
        let total = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let acting_ms = (self.acting_us.load(Ordering::Relaxed) / 1000).min(total);
        Some(StepTime {
            acting_ms,
            waiting_ms: total - acting_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_count_as_acting_and_the_rest_as_waiting() {
        let clock = PhaseClock::default();
        assert_eq!(clock.split(), None);
        tokio::time::sleep(Duration::from_secs(1)).await;
        clock.begin();
        clock
            .acting(tokio::time::sleep(Duration::from_millis(300)))
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        // A call cut off by a timeout still counts.
        let cut = clock.acting(tokio::time::sleep(Duration::from_secs(60)));
        let _ = tokio::time::timeout(Duration::from_millis(200), cut).await;
        // The second before `begin` is neither.
        assert_eq!(
            clock.split(),
            Some(StepTime {
                acting_ms: 500,
                waiting_ms: 2000
            })
        );
    }
}
