//! Retrying cloud calls by error kind, with a budget.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::cloud::{CloudError, CloudResult, ErrorKind};

/// The longest one cloud call may take before it counts as a retryable failure.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Retries after the first call: 1 s, 2 s, 4 s, 8 s, 16 s, then give up.
/// Throttling, transient failures and conflicts (a resource busy with an
/// earlier change) are retried; not-found and fatal errors are not.
pub const RETRIES_MAX: usize = 5;

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(30))
        .with_factor(2.0)
        .with_max_times(RETRIES_MAX)
}

/// Runs `call` with a per-call timeout, retrying by error kind within the
/// budget. `on_retry` hears each failure that will be retried, with the
/// delay before the next try.
pub async fn with_retry<T, F, Fut>(
    mut call: F,
    on_retry: impl FnMut(&CloudError, Duration),
) -> CloudResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = CloudResult<T>>,
{
    let timed = move || {
        let fut = call();
        async move {
            tokio::time::timeout(CALL_TIMEOUT, fut)
                .await
                .unwrap_or_else(|_| {
                    Err(CloudError::new(
                        ErrorKind::Retryable,
                        "call",
                        "-",
                        format!("no answer within {}s", CALL_TIMEOUT.as_secs()),
                    ))
                })
        }
    };
    timed
        .retry(backoff())
        .sleep(tokio::time::sleep)
        .when(|e: &CloudError| e.kind.is_retryable())
        .notify(on_retry)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn err(kind: ErrorKind) -> CloudError {
        CloudError::new(kind, "test:Op", "r", "boom")
    }

    #[tokio::test(start_paused = true)]
    async fn retries_throttling_until_it_passes() {
        let calls = Cell::new(0);
        let r = with_retry(
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
    async fn gives_up_after_the_budget() {
        let calls = Cell::new(0);
        let r: CloudResult<()> = with_retry(
            || {
                calls.set(calls.get() + 1);
                async move { Err(err(ErrorKind::Retryable)) }
            },
            |_, _| {},
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), RETRIES_MAX + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_hangs_times_out_as_retryable() {
        let r: CloudResult<()> = with_retry(std::future::pending, |_, _| {}).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Retryable);
        assert!(e.message.contains("no answer"));
    }
}
