//! Recording a Redis replica's position and measuring an old primary's
//! divergence from it.

use std::time::Duration;

use super::divergence::{CachePosition, Divergence};
use super::FenceError;
use crate::clock::now_ms;
use crate::model::DataTier;
use crate::probe::RedisConn;

/// The heartbeat keys `crate::probe::RedisHeartbeat` writes.
const HEARTBEAT_KEYS: &str = "drctl:heartbeat:*";

/// Most SCAN rounds over the heartbeat keys: a bound on one measurement
/// (each round asks for 1000 keys).
const SCAN_ROUNDS_MAX: usize = 10_000;

/// Reads the position of the Redis replica at `url` right before its
/// promotion: its replication offset and newest heartbeat. `password`
/// overrides any in `url`; `timeout` bounds the connect and each command.
///
/// # Errors
///
/// The replica cannot be reached or read, or it is a primary that never
/// replicated from another.
pub async fn record_redis(
    url: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<CachePosition, FenceError> {
    let (mut conn, target) = connect("replica", url, password, timeout)?;
    let info = replication(&mut conn, &target).await?;
    let offset = match info.field("role") {
        Some("slave") => info.number("slave_repl_offset"),
        // Already promoted: its own history starts right after the fork.
        _ => info
            .number("second_repl_offset")
            .filter(|&o| o > 0)
            .map(|o| o - 1),
    };
    let offset = offset.ok_or_else(|| {
        FenceError::other(&target, "not a replica, and never was one since it started")
    })?;
    let beats = heartbeats(&mut conn, &target).await?;
    Ok(CachePosition {
        offset,
        newest_heartbeat_ms: beats.iter().copied().max(),
        at_ms: now_ms(),
    })
}

/// Measures, on the old Redis primary at `url`, what it wrote after the
/// replica's recorded position `since`: replication-stream bytes past
/// `since.offset` and heartbeat keys newer than `since.newest_heartbeat_ms`.
///
/// # Errors
///
/// The old primary cannot be reached or read, or it is a replica now (its
/// divergent writes are gone).
pub async fn measure_redis(
    url: &str,
    password: Option<&str>,
    timeout: Duration,
    since: &CachePosition,
) -> Result<Divergence, FenceError> {
    let (mut conn, target) = connect("old primary", url, password, timeout)?;
    let info = replication(&mut conn, &target).await?;
    if info.field("role") != Some("master") {
        return Err(FenceError::other(
            &target,
            "a replica now, so what it wrote after the fork cannot be measured",
        ));
    }
    let offset = info
        .number("master_repl_offset")
        .ok_or_else(|| FenceError::other(&target, "INFO replication has no master_repl_offset"))?;
    let after = since.newest_heartbeat_ms.unwrap_or(0);
    let newer: Vec<u64> = heartbeats(&mut conn, &target)
        .await?
        .into_iter()
        .filter(|&ms| ms > after)
        .collect();
    Ok(Divergence {
        tier: DataTier::Cache,
        bytes: offset.saturating_sub(since.offset),
        heartbeat_rows: newer.len() as u64,
        window_start_ms: since.newest_heartbeat_ms,
        window_end_ms: newer.iter().copied().max(),
        measured_at_ms: now_ms(),
    })
}

fn connect(
    role: &'static str,
    url: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<(RedisConn, String), FenceError> {
    let conn = RedisConn::parse(role, url, password, timeout)
        .map_err(|e| FenceError::from_probe("redis", e))?;
    let target = format!("redis {role} {}", conn.name());
    Ok((conn, target))
}

/// The fields of `INFO replication`.
struct Info(String);

impl Info {
    fn field(&self, name: &str) -> Option<&str> {
        self.0
            .lines()
            .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.field(name)?.parse().ok()
    }
}

async fn replication(conn: &mut RedisConn, target: &str) -> Result<Info, FenceError> {
    let info = redis::cmd("INFO").arg("replication").clone();
    conn.run("info replication", info)
        .await
        .map(Info)
        .map_err(|e| FenceError::from_probe(target, e))
}

/// The values of every heartbeat key (values that are not numbers are
/// skipped: they are no heartbeat).
async fn heartbeats(conn: &mut RedisConn, target: &str) -> Result<Vec<u64>, FenceError> {
    let mut cursor = 0u64;
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..SCAN_ROUNDS_MAX {
        let scan = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(HEARTBEAT_KEYS)
            .arg("COUNT")
            .arg(1000)
            .clone();
        let (next, batch): (u64, Vec<String>) = conn
            .run("scan heartbeats", scan)
            .await
            .map_err(|e| FenceError::from_probe(target, e))?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    // SCAN may return a key twice.
    keys.sort();
    keys.dedup();
    let mut values = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mget = redis::cmd("MGET").arg(chunk).clone();
        let batch: Vec<Option<String>> = conn
            .run("read heartbeats", mget)
            .await
            .map_err(|e| FenceError::from_probe(target, e))?;
        values.extend(
            batch
                .into_iter()
                .flatten()
                .filter_map(|v| v.parse::<u64>().ok()),
        );
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_are_read_by_name() {
        let info = Info("# Replication\r\nrole:slave\r\nslave_repl_offset:1234\r\n".into());
        assert_eq!(info.field("role"), Some("slave"));
        assert_eq!(info.number("slave_repl_offset"), Some(1234));
        assert_eq!(info.number("master_repl_offset"), None);
    }
}
