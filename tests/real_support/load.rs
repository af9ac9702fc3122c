//! A steady write load on a primary, and what of it a promoted replica lost.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{interval, timeout, MissedTickBehavior};

use super::{bounded, now_ms, pg_connect};

/// Bound on any one write, connect or read of the load.
const LIMIT: Duration = Duration::from_secs(2);

const PG_CREATE: &str =
    "CREATE TABLE IF NOT EXISTS load (id bigserial PRIMARY KEY, at_ms bigint NOT NULL)";
const PG_INSERT: &str = "INSERT INTO load (at_ms) VALUES ($1) RETURNING id";

/// One write the primary acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// Row id (PostgreSQL) or key number (Redis: key `load:<id>`).
    pub id: u64,
    /// The value written: the wall clock just before the write, Unix ms.
    pub at_ms: u64,
    /// The wall clock when the acknowledgement came back, Unix ms.
    pub acked_ms: u64,
    /// Which target acknowledged it: 0 for the first, then one more each
    /// time the target moved ([`WriteLoad::postgres_following`]).
    pub target: u32,
}

/// What a (promoted) replica lacks of the acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// Acknowledged writes that are not there.
    pub count: usize,
    /// Newest acknowledged `at_ms` minus the newest `at_ms` present (zero
    /// when the replica has the newest).
    pub span: Duration,
}

/// Writes at a steady rate until stopped, remembering every acknowledged
/// write. Failed writes are not remembered; the next one reconnects.
pub struct WriteLoad {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    acked: Arc<Mutex<Vec<Acked>>>,
}

impl WriteLoad {
    /// Inserts rows into `load (id bigserial, at_ms bigint)` on the
    /// PostgreSQL primary at `conninfo` every `every`.
    pub async fn postgres(conninfo: &str, every: Duration) -> WriteLoad {
        let (_, target) = watch::channel(conninfo.to_owned());
        Self::postgres_following(target, every).await
    }

    /// The same on whatever server `target` names now, as an application
    /// behind a DNS name: when it changes, the load reconnects there, and
    /// counts the acknowledgements from then on as the next target's.
    pub async fn postgres_following(target: watch::Receiver<String>, every: Duration) -> WriteLoad {
        let first = target.borrow().clone();
        let client = pg_connect(&first).await;
        bounded(client.batch_execute(PG_CREATE)).await.unwrap();
        Self::spawn(|stop, acked| pg_writes(target, every, stop, acked))
    }

    /// Sets keys `load:<n>` to the wall clock on the Redis primary at `url`
    /// every `every`.
    pub async fn redis(url: &str, every: Duration) -> WriteLoad {
        let url = url.to_owned();
        Self::spawn(|stop, acked| redis_writes(url, every, stop, acked))
    }

    fn spawn<F, Fut>(writes: F) -> WriteLoad
    where
        F: FnOnce(watch::Receiver<bool>, Arc<Mutex<Vec<Acked>>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stop_rx) = watch::channel(false);
        let acked = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(writes(stop_rx, acked.clone()));
        WriteLoad { stop, task, acked }
    }

    /// The writes acknowledged so far.
    pub fn acked(&self) -> Vec<Acked> {
        self.acked.lock().unwrap().clone()
    }

    /// Stops writing (waiting at most for the write in flight) and returns
    /// every acknowledged write, oldest first.
    pub async fn stop(self) -> Vec<Acked> {
        let WriteLoad { stop, task, acked } = self;
        stop.send_replace(true);
        let _ = timeout(LIMIT * 2, task).await;
        let acked = acked.lock().unwrap().clone();
        acked
    }
}

async fn pg_writes(
    mut target: watch::Receiver<String>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    acked: Arc<Mutex<Vec<Acked>>>,
) {
    let mut tick = interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut client: Option<tokio_postgres::Client> = None;
    let mut conninfo = target.borrow_and_update().clone();
    let mut generation = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        if target.has_changed().unwrap_or(false) {
            conninfo = target.borrow_and_update().clone();
            generation += 1;
            client = None;
        }
        if client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            client = pg_try_connect(&conninfo).await;
        }
        let Some(c) = &client else { continue };
        let at_ms = now_ms();
        let at = i64::try_from(at_ms).unwrap();
        match timeout(LIMIT, c.query_one(PG_INSERT, &[&at])).await {
            Ok(Ok(row)) => {
                let id = u64::try_from(row.get::<_, i64>(0)).unwrap();
                acked.lock().unwrap().push(Acked {
                    id,
                    at_ms,
                    acked_ms: now_ms(),
                    target: generation,
                });
            }
            _ => client = None,
        }
    }
}

async fn redis_writes(
    url: String,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    acked: Arc<Mutex<Vec<Acked>>>,
) {
    let mut tick = interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut conn: Option<MultiplexedConnection> = None;
    for id in 0u64.. {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        if conn.is_none() {
            conn = redis_try_connect(&url).await;
        }
        let Some(c) = &mut conn else { continue };
        let at_ms = now_ms();
        let set = redis::cmd("SET")
            .arg(format!("load:{id}"))
            .arg(at_ms)
            .clone();
        match timeout(LIMIT, set.query_async::<()>(c)).await {
            Ok(Ok(())) => acked.lock().unwrap().push(Acked {
                id,
                at_ms,
                acked_ms: now_ms(),
                target: 0,
            }),
            _ => conn = None,
        }
    }
}

/// What the PostgreSQL server at `conninfo` lacks of `acked`.
pub async fn missing_postgres(conninfo: &str, acked: &[Acked]) -> Missing {
    let client = pg_connect(conninfo).await;
    let rows = bounded(client.query("SELECT id, at_ms FROM load", &[]))
        .await
        .unwrap();
    let present = rows.iter().map(|row| {
        let id: i64 = row.get(0);
        let at_ms: i64 = row.get(1);
        (id as u64, at_ms as u64)
    });
    missing(acked, present)
}

/// What the Redis server at `url` lacks of `acked`.
pub async fn missing_redis(url: &str, acked: &[Acked]) -> Missing {
    let mut conn = redis_try_connect(url)
        .await
        .expect("cannot connect to redis");
    let keys: Vec<String> = bounded(redis::cmd("KEYS").arg("load:*").query_async(&mut conn))
        .await
        .unwrap();
    let mut present = Vec::new();
    for chunk in keys.chunks(500) {
        let values: Vec<Option<u64>> =
            bounded(redis::cmd("MGET").arg(chunk).query_async(&mut conn))
                .await
                .unwrap();
        for (key, value) in chunk.iter().zip(values) {
            let id = key.trim_start_matches("load:").parse().unwrap();
            present.extend(value.map(|at_ms| (id, at_ms)));
        }
    }
    missing(acked, present)
}

fn missing(acked: &[Acked], present: impl IntoIterator<Item = (u64, u64)>) -> Missing {
    let mut ids = HashSet::new();
    let mut newest_present = 0;
    for (id, at_ms) in present {
        ids.insert(id);
        newest_present = newest_present.max(at_ms);
    }
    let newest_acked = acked.iter().map(|a| a.at_ms).max().unwrap_or(0);
    Missing {
        count: acked.iter().filter(|a| !ids.contains(&a.id)).count(),
        span: Duration::from_millis(newest_acked.saturating_sub(newest_present)),
    }
}

async fn pg_try_connect(conninfo: &str) -> Option<tokio_postgres::Client> {
    let connect = tokio_postgres::connect(conninfo, tokio_postgres::NoTls);
    let (client, connection) = timeout(LIMIT, connect).await.ok()?.ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Some(client)
}

async fn redis_try_connect(url: &str) -> Option<MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(LIMIT))
        .set_response_timeout(Some(LIMIT));
    let connect = client.get_multiplexed_async_connection_with_config(&config);
    timeout(LIMIT, connect).await.ok()?.ok()
}
