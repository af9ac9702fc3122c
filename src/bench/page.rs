//! `drctl bench page`: the cost of serving the status page.
//!
//! Requests `GET /` of a running node (by default node 1 of
//! `drctl local-cluster`) at a fixed rate on loopback, open-loop: each
//! request leaves at its scheduled time whether or not the earlier ones
//! have been answered, and its latency counts from that scheduled time,
//! so a slow server cannot hide its queue by slowing the sender.

use std::time::Duration;

use serde::Serialize;
use tokio::time::{Instant, MissedTickBehavior};

/// Requests in flight at once; beyond it a request counts as dropped.
pub const IN_FLIGHT_MAX: usize = 4096;

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PageLatency {
    /// The page loaded.
    pub url: String,
    /// The rate asked for, per second.
    pub rate: u32,
    /// How long requests were sent, in ms.
    pub duration_ms: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests answered 200.
    pub ok: u64,
    /// Requests that failed, timed out or answered another status.
    pub failed: u64,
    /// Requests not sent because [`IN_FLIGHT_MAX`] were in flight.
    pub dropped: u64,
    /// Bytes of the last page answered.
    pub page_bytes: u64,
    /// Latency of answered requests from their scheduled time, in ms.
    pub p50_ms: f64,
    /// 90th percentile, in ms.
    pub p90_ms: f64,
    /// 99th percentile, in ms.
    pub p99_ms: f64,
    /// The slowest, in ms.
    pub max_ms: f64,
}

/// The `q` quantile (0–1) of `sorted` by nearest rank; 0 when empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sends `GET url` at `rate` per second for `duration`, open-loop, and
/// waits for the answers (each bounded by `timeout`).
///
/// # Errors
///
/// The URL is not one the HTTP client accepts.
pub async fn measure(
    url: &str,
    rate: u32,
    duration: Duration,
    timeout: Duration,
) -> Result<PageLatency, String> {
    let target = reqwest::Url::parse(url).map_err(|e| format!("--url {url:?}: {e}"))?;
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let period = Duration::from_secs(1) / rate;
    let total = (duration.as_secs_f64() * f64::from(rate)).round() as u64;
    let mut tick = tokio::time::interval(period);
    // Late ticks fire at once, so every request keeps its scheduled slot.
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    let mut tally = Tally::default();
    let started = Instant::now();
    for i in 0..total {
        tick.tick().await;
        // Reap answered requests so the set holds only those in flight.
        while let Some(done) = tasks.try_join_next() {
            tally.add(done);
        }
        if tasks.len() >= IN_FLIGHT_MAX {
            tally.dropped += 1;
            continue;
        }
        let scheduled = started + Duration::from_secs_f64(i as f64 / f64::from(rate));
        let (http, target) = (http.clone(), target.clone());
        tally.sent += 1;
        tasks.spawn(async move {
            let answer = match http.get(target).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.ok().map(|b| b.len()),
                _ => None,
            };
            (answer, scheduled.elapsed())
        });
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    while let Some(done) = tasks.join_next().await {
        tally.add(done);
    }
    tally.latencies.sort_unstable();
    let q = |q: f64| quantile(&tally.latencies, q).as_secs_f64() * 1000.0;
    Ok(PageLatency {
        url: url.to_string(),
        rate,
        duration_ms,
        sent: tally.sent,
        ok: tally.latencies.len() as u64,
        failed: tally.failed,
        dropped: tally.dropped,
        page_bytes: tally.page_bytes,
        p50_ms: q(0.5),
        p90_ms: q(0.9),
        p99_ms: q(0.99),
        max_ms: q(1.0),
    })
}

/// Counts as answers come in.
#[derive(Default)]
struct Tally {
    sent: u64,
    failed: u64,
    dropped: u64,
    page_bytes: u64,
    latencies: Vec<Duration>,
}

type Answer = (Option<usize>, Duration);

impl Tally {
    fn add(&mut self, done: Result<Answer, tokio::task::JoinError>) {
        match done {
            Ok((Some(bytes), latency)) => {
                self.page_bytes = bytes as u64;
                self.latencies.push(latency);
            }
            _ => self.failed += 1,
        }
    }
}

/// The figures as a table for people.
pub fn table(r: &PageLatency) -> String {
    format!(
        "GET {url}, {rate}/s open-loop for {d:.1}s ({bytes} bytes per page)\n\n\
{:>8} {:>6} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9}\n\
{:>8} {:>6} {:>7} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}\n",
        "sent",
        "ok",
        "failed",
        "dropped",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        r.sent,
        r.ok,
        r.failed,
        r.dropped,
        r.p50_ms,
        r.p90_ms,
        r.p99_ms,
        r.max_ms,
        url = r.url,
        rate = r.rate,
        d = r.duration_ms as f64 / 1000.0,
        bytes = r.page_bytes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&v[..1], 0.99), Duration::from_millis(1));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    /// A server that takes 300 ms per request: sent on schedule, 40
    /// requests take about 1 s (a closed loop would take 12 s), and each
    /// latency counts the full 300 ms.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_leave_on_schedule_whatever_the_server_takes() {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "page"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}/");
        let r = measure(&url, 40, Duration::from_secs(1), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((r.sent, r.ok, r.failed, r.dropped), (40, 40, 0, 0), "{r:?}");
        assert!(r.duration_ms < 2_000, "{r:?}");
        assert!(r.p50_ms >= 300.0 && r.p99_ms < 3_000.0, "{r:?}");
        assert_eq!(r.page_bytes, 4);
    }

    #[tokio::test]
    async fn a_bad_url_is_named() {
        let e = measure(
            "not a url",
            1,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(e.starts_with("--url \"not a url\""), "{e}");
    }
}
