//! Retrying cloud calls by error kind, with a budget.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::cloud::{CloudError, CloudResult, ErrorKind};
use crate::model::Op;

/// Retries after the first call: 1 s, 2 s, 4 s, 8 s, 16 s, then give up.
/// Throttling, transient failures and conflicts (a resource busy with an
/// earlier change) are retried; not-found and fatal errors are not.
pub const RETRIES_MAX: usize = 5;

/// Retries of a read that builds the plan (observation, preflight): 1 s and
/// 2 s. A dry run against endpoints that do not answer then ends within
/// three call timeouts and three seconds per read, reads running at once.
pub const READ_RETRIES_MAX: usize = 2;

/// One failed attempt that will be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Which attempt failed, from 1.
    pub number: usize,
    /// How many attempts the budget allows.
    pub of: usize,
    /// The wait before the next attempt.
    pub delay: Duration,
}

/// How one call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The longest one attempt may take before it counts as a retryable
    /// failure (`execution.call_timeout`).
    pub call_timeout: Duration,
    /// Retries after the first attempt.
    pub retries: usize,
}

impl Budget {
    /// The budget of a mutating step's calls.
    pub fn step(call_timeout: Duration) -> Self {
        Self {
            call_timeout,
            retries: RETRIES_MAX,
        }
    }

    /// The budget of an observation read.
    pub fn read(call_timeout: Duration) -> Self {
        Self {
            call_timeout,
            retries: READ_RETRIES_MAX,
        }
    }

    /// The longest a call under this budget can take in all, when every
    /// attempt runs out of time.
    pub fn bound(&self) -> Duration {
        let attempts = u32::try_from(self.retries + 1).unwrap_or(u32::MAX);
        let waits: u64 = (0..self.retries).map(|i| (1u64 << i).min(30)).sum();
        self.call_timeout * attempts + Duration::from_secs(waits)
    }
}

fn backoff(retries: usize) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(30))
        .with_factor(2.0)
        .with_max_times(retries)
}

/// Runs `call` with a per-attempt timeout, retrying by error kind within
/// the budget. `what` names where the call goes (`rds.us-west-2`), for the
/// error of an attempt that got no answer. `on_retry` hears each failure that
/// will be retried, with the attempt's number and the delay before the next.
pub async fn with_retry<T, F, Fut>(
    budget: Budget,
    what: &str,
    mut call: F,
    mut on_retry: impl FnMut(&CloudError, Attempt),
) -> CloudResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = CloudResult<T>>,
{
    let limit = budget.call_timeout;
    let timed = move || {
        let fut = call();
        async move {
            tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
                Err(CloudError::new(
                    ErrorKind::Retryable,
                    Op::AnyCall,
                    what,
                    format!(
                        "no answer for {} (execution.call_timeout)",
                        crate::duration::fmt(limit)
                    ),
                ))
            })
        }
    };
    let mut number = 0;
    let of = budget.retries + 1;
    timed
        .retry(backoff(budget.retries))
        .sleep(tokio::time::sleep)
        .when(|e: &CloudError| e.kind.is_retryable())
        .notify(|e, delay| {
            number += 1;
            on_retry(e, Attempt { number, of, delay });
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const BUDGET: Budget = Budget {
        call_timeout: Duration::from_secs(10),
        retries: RETRIES_MAX,
    };

    fn err(kind: ErrorKind) -> CloudError {
        CloudError::new(kind, Op::PromoteReadReplica, "r", "boom")
    }

    #[tokio::test(start_paused = true)]
    async fn retries_throttling_until_it_passes() {
        let calls = Cell::new(0);
        let r = with_retry(
            BUDGET,
            "test",
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(err(ErrorKind::Throttled))
                    } else {
                        Ok(n)
                    }
                }
            },
            |_, _| {},
        )
        .await;
        assert_eq!(r.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_not_found_or_fatal() {
        for kind in [ErrorKind::NotFound, ErrorKind::Fatal] {
            let calls = Cell::new(0);
            let r: CloudResult<()> = with_retry(
                BUDGET,
                "test",
                || {
                    calls.set(calls.get() + 1);
                    async move { Err(err(kind)) }
                },
                |_, _| {},
            )
            .await;
            assert_eq!(r.unwrap_err().kind, kind);
            assert_eq!(calls.get(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_budget_numbering_each_attempt() {
        let calls = Cell::new(0);
        let mut seen = Vec::new();
        let r: CloudResult<()> = with_retry(
            BUDGET,
            "test",
            || {
                calls.set(calls.get() + 1);
                async move { Err(err(ErrorKind::Retryable)) }
            },
            |_, a| seen.push((a.number, a.of)),
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), RETRIES_MAX + 1);
        assert_eq!(seen.first(), Some(&(1, RETRIES_MAX + 1)));
        assert_eq!(seen.last(), Some(&(RETRIES_MAX, RETRIES_MAX + 1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_hangs_times_out_naming_where_it_went_within_the_bound() {
        let start = tokio::time::Instant::now();
        let budget = Budget::read(Duration::from_secs(10));
        let mut notes = Vec::new();
        let r: CloudResult<()> =
            with_retry(budget, "rds.us-west-2", std::future::pending, |e, a| {
                notes.push(format!("{e}; attempt {} of {}", a.number, a.of));
            })
            .await;
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Retryable);
        assert!(e.to_string().contains("rds.us-west-2"), "{e}");
        assert!(e.message.contains("no answer for 10s"), "{e}");
        assert!(notes[0].ends_with("attempt 1 of 3"), "{notes:?}");
        assert_eq!(start.elapsed(), budget.bound());
        assert_eq!(budget.bound(), Duration::from_secs(33));
    }
}
