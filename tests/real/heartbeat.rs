//! Heartbeats against real PostgreSQL and Redis primary/replica pairs: the
//! exposure they report must match the replica's own lag, and the data
//! really lost when a lagging replica is promoted.
//!
//! Needs PostgreSQL 15 and redis-server: run scripts/test.sh.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::real_support::{
    missing_postgres, missing_redis, pg_connect, Missing, PgPair, RedisPair, WriteLoad,
};
use drctl::probe::{promote_postgres, promote_redis, Beat, PostgresHeartbeat, RedisHeartbeat};
use tokio::task::JoinHandle;

const BEAT: Duration = Duration::from_millis(200);
const LOAD: Duration = Duration::from_millis(20);
const TIMEOUT: Duration = Duration::from_secs(5);
/// Slack on top of one beat interval for reading the clock at slightly
/// different moments on either side (write vs. acknowledgement, sampling).
const SLACK: Duration = Duration::from_millis(50);

/// Beats every [`BEAT`] until aborted; the last acknowledged beat is shared.
fn beat_forever<F, Fut>(mut beat: F) -> (JoinHandle<()>, Arc<Mutex<Option<Beat>>>)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<Beat>> + Send,
{
    let last = Arc::new(Mutex::new(None));
    let shared = last.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(BEAT);
        loop {
            tick.tick().await;
            if let Some(b) = beat().await {
                *shared.lock().unwrap() = Some(b);
            }
        }
    });
    (task, last)
}

fn pg_beats(pair: &PgPair) -> (JoinHandle<()>, Arc<Mutex<Option<Beat>>>) {
    let hb = PostgresHeartbeat::new(
        "eu",
        &pair.primary_conninfo(),
        &pair.standby_conninfo(),
        None,
        TIMEOUT,
    )
    .unwrap();
    let hb = Arc::new(tokio::sync::Mutex::new(hb));
    beat_forever(move || {
        let hb = hb.clone();
        async move { hb.lock().await.beat().await.ok() }
    })
}

fn pg_reader(pair: &PgPair) -> PostgresHeartbeat {
    let (primary, standby) = (pair.primary_conninfo(), pair.standby_conninfo());
    PostgresHeartbeat::new("eu", &primary, &standby, None, TIMEOUT).unwrap()
}

/// Polls until the replica shows some heartbeat (at most 10 s).
async fn first_visible(reader: &mut PostgresHeartbeat) -> u64 {
    for _ in 0..200 {
        if let Some(at) = reader.visible().await.unwrap() {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no heartbeat reached the standby within 10 s");
}

/// The heartbeat's exposure (last acknowledged beat minus the newest one
/// visible on the promoted replica) is within one beat of the writes really
/// lost, and something was lost.
fn assert_exposure_matches_loss(
    what: &str,
    last_beat: Beat,
    visible: u64,
    lost: &Missing,
    acked: usize,
) {
    let exposure = last_beat.acked_ms as i64 - visible as i64;
    eprintln!(
        "{} of {acked} {what} lost, spanning {} ms; heartbeat exposure {exposure} ms",
        lost.count,
        ms(lost.span)
    );
    assert!(lost.count > 0, "nothing was lost: {lost:?}");
    assert!(
        (exposure - ms(lost.span)).abs() <= ms(BEAT + SLACK),
        "exposure {exposure} ms vs lost span {lost:?}"
    );
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beat_becomes_visible_on_the_standby() {
    let pair = PgPair::start();
    let mut hb = pg_reader(&pair);
    assert_eq!(hb.visible().await.unwrap(), None, "no table yet");
    // Several sites creating the table at once must all succeed.
    let mut first = tokio::task::JoinSet::new();
    for site in ["us", "ap", "sa", "af"] {
        let (primary, standby) = (pair.primary_conninfo(), pair.standby_conninfo());
        let mut other = PostgresHeartbeat::new(site, &primary, &standby, None, TIMEOUT).unwrap();
        first.spawn(async move { other.beat().await });
    }
    while let Some(beat) = first.join_next().await {
        beat.unwrap().unwrap();
    }
    let beat = hb.beat().await.unwrap();
    assert!(beat.written_ms <= beat.acked_ms);
    let mut seen = None;
    for _ in 0..100 {
        seen = hb.visible().await.unwrap();
        if seen == Some(beat.written_ms) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, Some(beat.written_ms));
    // The connections are kept: a second beat moves the value on.
    let again = hb.beat().await.unwrap();
    assert!(again.written_ms >= beat.written_ms);
    // A connection the server drops is made anew: one beat may fail.
    let admin = pg_connect(&pair.primary_conninfo()).await;
    let kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'";
    admin.batch_execute(kill).await.unwrap();
    if let Err(e) = hb.beat().await {
        eprintln!("first beat after the disconnect: {e}");
    }
    hb.beat().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposure_tracks_the_standby_replay_lag_while_replay_is_paused() {
    let pair = PgPair::start();
    let load = WriteLoad::postgres(&pair.primary_conninfo(), LOAD).await;
    let (beats, last) = pg_beats(&pair);
    let mut reader = pg_reader(&pair);
    first_visible(&mut reader).await;

    pair.pause_replay().await;
    let mut samples = Vec::new();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let acked = last.lock().unwrap().unwrap().acked_ms;
        let visible = reader.visible().await.unwrap().unwrap();
        let lag = pair.replay_lag().await;
        samples.push((acked as i64 - visible as i64, ms(lag)));
    }
    pair.resume_replay().await;
    beats.abort();
    load.stop().await;

    eprintln!("(exposure ms, replay lag ms): {samples:?}");
    let (_, final_lag) = samples[samples.len() - 1];
    assert!(final_lag >= 2500, "replay was not paused: {samples:?}");
    for (exposure, lag) in &samples {
        assert!(
            (exposure - lag).abs() <= ms(BEAT + SLACK),
            "exposure {exposure} ms vs replay lag {lag} ms: {samples:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposure_matches_the_rows_lost_when_a_lagging_standby_is_promoted() {
    let mut pair = PgPair::start();
    let load = WriteLoad::postgres(&pair.primary_conninfo(), LOAD).await;
    let (beats, last) = pg_beats(&pair);
    let mut reader = pg_reader(&pair);
    first_visible(&mut reader).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    pair.proxy().stall();
    tokio::time::sleep(Duration::from_secs(2)).await;
    pair.kill_primary();
    beats.abort();
    let acked = load.stop().await;
    let last_beat = last.lock().unwrap().unwrap();

    promote_postgres(&pair.standby_conninfo(), None, Duration::from_secs(60))
        .await
        .unwrap();
    let lost = missing_postgres(&pair.standby_conninfo(), &acked).await;
    let visible = reader.visible().await.unwrap().unwrap();
    assert_exposure_matches_loss("rows", last_beat, visible, &lost, acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_exposure_matches_the_keys_lost_when_a_lagging_replica_is_promoted() {
    let mut pair = RedisPair::start();
    let load = WriteLoad::redis(&pair.primary_url(), LOAD).await;
    let (primary, replica) = (pair.primary_url(), pair.replica_url());
    let new = || RedisHeartbeat::new("eu", &primary, &replica, None, TIMEOUT).unwrap();
    let writer = Arc::new(tokio::sync::Mutex::new(new()));
    let (beats, last) = beat_forever(move || {
        let hb = writer.clone();
        async move { hb.lock().await.beat().await.ok() }
    });
    let mut reader = new();
    let mut shown = false;
    for _ in 0..200 {
        if reader.visible().await.unwrap().is_some() {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shown, "no heartbeat reached the replica within 10 s");
    tokio::time::sleep(Duration::from_millis(500)).await;

    pair.proxy().stall();
    tokio::time::sleep(Duration::from_secs(2)).await;
    pair.kill_primary();
    beats.abort();
    let acked = load.stop().await;
    let last_beat = last.lock().unwrap().unwrap();

    promote_redis(&pair.replica_url(), None, TIMEOUT)
        .await
        .unwrap();
    let lost = missing_redis(&pair.replica_url(), &acked).await;
    let visible = reader.visible().await.unwrap().unwrap();
    assert_exposure_matches_loss("keys", last_beat, visible, &lost, acked.len());
    // Promoted: it takes writes now.
    let mut hb = new();
    let beat = hb.beat().await;
    assert!(beat.is_err(), "the killed primary took a write");
    let mut on_replica = RedisHeartbeat::new("eu", &replica, &replica, None, TIMEOUT).unwrap();
    let beat = on_replica.beat().await.unwrap();
    assert_eq!(on_replica.visible().await.unwrap(), Some(beat.written_ms));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoting_a_server_that_is_already_primary_is_ok() {
    let pair = PgPair::start();
    let standby = pair.standby_conninfo();
    promote_postgres(&standby, None, Duration::from_secs(60))
        .await
        .unwrap();
    promote_postgres(&standby, None, TIMEOUT).await.unwrap();
    promote_postgres(&pair.primary_conninfo(), None, TIMEOUT)
        .await
        .unwrap();
    // The promoted standby takes writes.
    let mut hb = PostgresHeartbeat::new("eu", &standby, &standby, None, TIMEOUT).unwrap();
    let beat = hb.beat().await.unwrap();
    assert_eq!(hb.visible().await.unwrap(), Some(beat.written_ms));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sslmode_require_the_heartbeat_goes_over_tls_and_checks_the_certificate() {
    let pair = PgPair::start_tls();
    let tls = |c: String| format!("{c} sslmode=require");
    let (primary, standby) = (tls(pair.primary_conninfo()), tls(pair.standby_conninfo()));

    // The servers' certificate comes from a CA nobody trusts by default.
    let mut untrusting = PostgresHeartbeat::new("eu", &primary, &standby, None, TIMEOUT).unwrap();
    let refused = untrusting.beat().await.unwrap_err().to_string();
    assert!(refused.contains("primary 127.0.0.1:"), "{refused}");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    // Trusting the CA: beats go over TLS and reach the standby.
    let mut hb = PostgresHeartbeat::new("eu", &primary, &standby, None, TIMEOUT)
        .unwrap()
        .with_ca_file(&pair.ca_file())
        .unwrap();
    let beat = hb.beat().await.unwrap();
    assert_eq!(first_visible(&mut hb).await, beat.written_ms);
    let tls_sessions: i64 = pg_connect(&pair.primary_conninfo())
        .await
        .query_one("SELECT count(*) FROM pg_stat_ssl WHERE ssl", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        tls_sessions >= 1,
        "the heartbeat's session is not encrypted"
    );

    // A bundle that is not PEM is named.
    let bad = std::env::temp_dir().join(format!("drctl-not-pem-{}", std::process::id()));
    std::fs::write(&bad, "not a certificate").unwrap();
    let err = PostgresHeartbeat::new("eu", &primary, &standby, None, TIMEOUT)
        .unwrap()
        .with_ca_file(&bad)
        .err()
        .unwrap()
        .to_string();
    let _ = std::fs::remove_file(&bad);
    assert!(err.contains("no PEM certificate"), "{err}");
}
