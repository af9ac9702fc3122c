//! Fencing and the divergence report against real PostgreSQL and Redis
//! primary/replica pairs: a fence stops an application's writes under load
//! and gives them back, and after a fork the old primary's extra writes are
//! measured exactly in heartbeats and in bytes.
//!
//! Needs PostgreSQL 15 and redis-server: run scripts/test.sh.

use std::time::Duration;

use crate::real_support::{pg_connect, PgPair, RedisPair, WriteLoad};
use drctl::fence::{
    measure_postgres, measure_redis, record_postgres, record_redis, FenceOutcome, FenceState,
    PgRevokeLogin, RedisAclFence, WriterFence,
};
use drctl::model::DataTier;
use drctl::probe::{promote_postgres, promote_redis, PostgresHeartbeat, RedisHeartbeat};

const LOAD: Duration = Duration::from_millis(20);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Waits until the load has `n` more acknowledged writes than `from`
/// (at most 10 s).
async fn load_grows(load: &WriteLoad, from: usize, n: usize) {
    for _ in 0..200 {
        if load.acked().len() >= from + n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the load did not write {n} more rows within 10 s");
}

/// The load acknowledges nothing more over 600 ms.
async fn load_is_stopped(load: &WriteLoad) {
    // A write acknowledged by the server just before the fence may still be
    // on its way to the load's books.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = load.acked().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(load.acked().len(), before, "the load still writes");
}

fn with_user(conninfo: &str, user: &str) -> String {
    conninfo.replace("user=postgres", &format!("user={user}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_login_stops_the_applications_writes_until_unfenced() {
    let pair = PgPair::start();
    let admin = pg_connect(&pair.primary_conninfo()).await;
    admin
        .batch_execute(
            "CREATE ROLE emr_app LOGIN; GRANT ALL ON SCHEMA public TO emr_app; \
             CREATE ROLE drctl_fence LOGIN CREATEROLE; \
             GRANT pg_signal_backend TO drctl_fence; CREATE ROLE weak LOGIN",
        )
        .await
        .unwrap();
    let app = with_user(&pair.primary_conninfo(), "emr_app");
    let load = WriteLoad::postgres(&app, LOAD).await;
    load_grows(&load, 0, 10).await;
    let idle_session = pg_connect(&app).await;
    let fencer = with_user(&pair.primary_conninfo(), "drctl_fence");
    let fence = PgRevokeLogin::new(&fencer, None, vec!["emr_app".into()], TIMEOUT).unwrap();

    let outcome = fence.fence().await.unwrap();
    assert!(outcome.changed);
    assert!(
        outcome
            .summary
            .starts_with("revoked LOGIN from emr_app; terminated "),
        "{}",
        outcome.summary
    );
    let terminated: u32 = outcome
        .summary
        .rsplit("terminated ")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        terminated >= 2,
        "the load's and the idle session: {outcome:?}"
    );
    assert_eq!(fence.state().await.unwrap(), FenceState::Fenced);
    load_is_stopped(&load).await;
    assert!(idle_session.simple_query("SELECT 1").await.is_err());
    let refused = tokio_postgres::connect(&app, tokio_postgres::NoTls).await;
    let err = refused.err().expect("emr_app cannot log in");
    let message = err.as_db_error().map(|e| e.message().to_owned());
    assert_eq!(
        message.as_deref(),
        Some("role \"emr_app\" is not permitted to log in")
    );

    let again = fence.fence().await.unwrap();
    assert_eq!(again, FenceOutcome::unchanged("already fenced"));

    let restored = fence.unfence().await.unwrap();
    assert_eq!(restored, FenceOutcome::changed("granted LOGIN to emr_app"));
    let acked = load.acked().len();
    load_grows(&load, acked, 5).await;
    assert_eq!(
        fence.state().await.unwrap(),
        FenceState::Open {
            writers: vec!["emr_app can log in".into(), "emr_app has 1 session".into()]
        }
    );
    assert_eq!(
        fence.unfence().await.unwrap(),
        FenceOutcome::unchanged("already unfenced")
    );
    load.stop().await;

    let own = PgRevokeLogin::new(&fencer, None, vec!["drctl_fence".into()], TIMEOUT).unwrap();
    let err = own.fence().await.unwrap_err().to_string();
    assert!(err.ends_with("refusing to fence drctl_fence: it is the fencing role itself"));
    let ghost = PgRevokeLogin::new(&fencer, None, vec!["ghost".into()], TIMEOUT).unwrap();
    let err = ghost.fence().await.unwrap_err().to_string();
    assert!(err.ends_with("no such role: ghost"), "{err}");
    let weak = with_user(&pair.primary_conninfo(), "weak");
    let weak = PgRevokeLogin::new(&weak, None, vec!["emr_app".into()], TIMEOUT).unwrap();
    let err = weak.fence().await.unwrap_err();
    assert_eq!(err.metric_label(), "refused", "{err}");
}

/// Beats once for each of `sites` on the pair's primary, 5 ms apart;
/// returns the newest value written.
async fn pg_beats(pair: &PgPair, sites: &[&str]) -> u64 {
    let mut newest = 0;
    for site in sites {
        let (primary, standby) = (pair.primary_conninfo(), pair.standby_conninfo());
        let mut hb = PostgresHeartbeat::new(site, &primary, &standby, None, TIMEOUT).unwrap();
        newest = hb.beat().await.unwrap().written_ms;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    newest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn divergence_counts_the_heartbeats_and_wal_the_old_primary_took_after_the_fork() {
    let pair = PgPair::start();
    let admin = pg_connect(&pair.primary_conninfo()).await;
    admin
        .batch_execute("CREATE TABLE app (id bigserial PRIMARY KEY, body text NOT NULL)")
        .await
        .unwrap();
    let shared = pg_beats(&pair, &["east", "west", "witness"]).await;
    let standby = pair.standby_conninfo();
    let mut caught_up = false;
    for _ in 0..200 {
        let pos = record_postgres(&standby, None, None, TIMEOUT)
            .await
            .unwrap();
        if pos.newest_heartbeat_ms == Some(shared) {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the standby never saw the shared heartbeats");

    // The fork: replication stops, the replica's position is recorded and
    // it is promoted, while the old primary goes on taking writes.
    pair.proxy().stall();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fork = record_postgres(&standby, None, None, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(fork.newest_heartbeat_ms, Some(shared));
    promote_postgres(&standby, None, Duration::from_secs(60))
        .await
        .unwrap();
    let newest = pg_beats(&pair, &["east", "witness"]).await;

    let primary = pair.primary_conninfo();
    let first = measure_postgres(&primary, None, None, TIMEOUT, &fork)
        .await
        .unwrap();
    assert_eq!(first.tier, DataTier::Database);
    assert_eq!(first.heartbeat_rows, 2, "{first}");
    assert_eq!(first.window_start_ms, Some(shared));
    assert_eq!(first.window_end_ms, Some(newest));
    assert!(first.bytes > 0, "{first}");

    admin
        .batch_execute(
            "INSERT INTO app (body) SELECT repeat('x', 200) FROM generate_series(1, 500)",
        )
        .await
        .unwrap();
    let second = measure_postgres(&primary, None, None, TIMEOUT, &fork)
        .await
        .unwrap();
    assert_eq!(
        second.heartbeat_rows, 2,
        "application rows are no heartbeats"
    );
    assert!(
        second.bytes >= first.bytes + 500 * 200,
        "500 rows of 200 bytes: {first} then {second}"
    );
    let text = second.to_string();
    assert!(
        text.starts_with("database: ") && text.contains(" of WAL and 2 heartbeat rows written"),
        "{text}"
    );
    // The promoted replica has none of it.
    let promoted = pg_connect(&standby).await;
    let rows: i64 = promoted
        .query_one("SELECT count(*) FROM app", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
}

async fn redis_query<T: redis::FromRedisValue>(
    url: &str,
    cmd: &redis::Cmd,
) -> redis::RedisResult<T> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await?;
    cmd.query_async(&mut conn).await
}

fn acl(args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd("ACL");
    cmd.arg(args);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acl_fence_makes_the_application_read_only_until_unfenced() {
    let pair = RedisPair::start();
    let url = pair.primary_url();
    let app_rules = [
        "SETUSER",
        "emr_app",
        "on",
        ">apppw",
        "~*",
        "&*",
        "+@all",
        "(~cache:* +get)",
    ];
    let () = redis_query(&url, &acl(&app_rules)).await.unwrap();
    let fencer_rules = [
        "SETUSER",
        "drctl_fence",
        "on",
        ">fencepw",
        "~*",
        "&*",
        "+@all",
    ];
    let () = redis_query(&url, &acl(&fencer_rules)).await.unwrap();
    let list: Vec<String> = redis_query(&url, &acl(&["LIST"])).await.unwrap();
    let before: Vec<String> = list.into_iter().filter(|l| l.contains("emr_app")).collect();
    let app = url.replace("redis://", "redis://emr_app:apppw@");
    let load = WriteLoad::redis(&app, LOAD).await;
    load_grows(&load, 0, 10).await;

    let fencer = url.replace("redis://", "redis://drctl_fence@");
    let users = vec!["emr_app".to_string()];
    let fence = RedisAclFence::new(&fencer, Some("fencepw".into()), users, TIMEOUT).unwrap();
    let outcome = fence.fence().await.unwrap();
    assert!(outcome.changed);
    assert!(
        outcome
            .summary
            .starts_with("denied @write to emr_app; killed "),
        "{}",
        outcome.summary
    );
    assert_eq!(fence.state().await.unwrap(), FenceState::Fenced);
    load_is_stopped(&load).await;
    let set = redis::cmd("SET").arg("load:x").arg(1).clone();
    let err = redis_query::<()>(&app, &set).await.unwrap_err().to_string();
    assert!(err.to_ascii_uppercase().contains("NOPERM"), "{err}");
    let get = redis::cmd("GET").arg("load:0").clone();
    let read: Option<String> = redis_query(&app, &get).await.unwrap();
    assert!(read.is_some(), "reads still work");
    assert_eq!(
        fence.fence().await.unwrap(),
        FenceOutcome::unchanged("already fenced")
    );

    let restored = fence.unfence().await.unwrap();
    assert_eq!(
        restored,
        FenceOutcome::changed("restored the ACL of emr_app")
    );
    let list: Vec<String> = redis_query(&url, &acl(&["LIST"])).await.unwrap();
    let after: Vec<String> = list.into_iter().filter(|l| l.contains("emr_app")).collect();
    assert_eq!(after, before, "the ACL is exactly as before the fence");
    let acked = load.acked().len();
    load_grows(&load, acked, 5).await;
    assert_eq!(
        fence.unfence().await.unwrap(),
        FenceOutcome::unchanged("already unfenced")
    );
    load.stop().await;

    let own = vec!["drctl_fence".to_string()];
    let own = RedisAclFence::new(&fencer, Some("fencepw".into()), own, TIMEOUT).unwrap();
    let err = own.fence().await.unwrap_err().to_string();
    assert!(err.ends_with("it is the fencing user itself"), "{err}");
    let weak_rules = [
        "SETUSER",
        "weak",
        "on",
        ">weakpw",
        "~*",
        "+@read",
        "+acl|whoami",
    ];
    let () = redis_query(&url, &acl(&weak_rules)).await.unwrap();
    let weak = url.replace("redis://", "redis://weak@");
    let users = vec!["emr_app".to_string()];
    let weak = RedisAclFence::new(&weak, Some("weakpw".into()), users, TIMEOUT).unwrap();
    let err = weak.fence().await.unwrap_err();
    assert_eq!(err.metric_label(), "refused", "{err}");
}

/// Beats once for each of `sites` on the pair's primary, 5 ms apart;
/// returns the newest value written.
async fn redis_beats(pair: &RedisPair, sites: &[&str]) -> u64 {
    let mut newest = 0;
    for site in sites {
        let (primary, replica) = (pair.primary_url(), pair.replica_url());
        let mut hb = RedisHeartbeat::new(site, &primary, &replica, None, TIMEOUT).unwrap();
        newest = hb.beat().await.unwrap().written_ms;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    newest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn divergence_counts_the_heartbeats_and_offset_the_old_redis_primary_took() {
    let pair = RedisPair::start();
    let shared = redis_beats(&pair, &["east", "west", "witness"]).await;
    let replica = pair.replica_url();
    let mut caught_up = false;
    for _ in 0..200 {
        let pos = record_redis(&replica, None, TIMEOUT).await.unwrap();
        if pos.newest_heartbeat_ms == Some(shared) {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the replica never saw the shared heartbeats");

    pair.proxy().stall();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fork = record_redis(&replica, None, TIMEOUT).await.unwrap();
    promote_redis(&replica, None, TIMEOUT).await.unwrap();
    // Recorded again after the promotion, the fork is at the same offset.
    let promoted = record_redis(&replica, None, TIMEOUT).await.unwrap();
    assert_eq!(promoted.offset, fork.offset);
    let newest = redis_beats(&pair, &["east", "witness"]).await;

    let primary = pair.primary_url();
    let first = measure_redis(&primary, None, TIMEOUT, &fork).await.unwrap();
    assert_eq!(first.tier, DataTier::Cache);
    assert_eq!(first.heartbeat_rows, 2, "{first}");
    assert_eq!(first.window_start_ms, Some(shared));
    assert_eq!(first.window_end_ms, Some(newest));
    assert!(first.bytes > 0, "{first}");

    for i in 0..100 {
        let set = redis::cmd("SET")
            .arg(format!("app:{i}"))
            .arg("x".repeat(100))
            .clone();
        let () = redis_query(&primary, &set).await.unwrap();
    }
    let second = measure_redis(&primary, None, TIMEOUT, &fork).await.unwrap();
    assert_eq!(second.heartbeat_rows, 2);
    assert!(
        second.bytes >= first.bytes + 100 * 100,
        "{first} then {second}"
    );
    let text = second.to_string();
    assert!(
        text.contains("of replication stream and 2 heartbeat keys written"),
        "{text}"
    );
}
