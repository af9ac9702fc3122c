//! Recording a PostgreSQL replica's position and measuring an old
//! primary's divergence from it.

use std::path::Path;
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::divergence::{DatabasePosition, Divergence};
use super::FenceError;
use crate::clock::now_ms;
use crate::model::DataTier;
use crate::probe::{chain, PgConn};

/// The heartbeat table `crate::probe::PostgresHeartbeat` writes.
const HEARTBEAT_TABLE: &str = "drctl_heartbeat";

const REPLICA_LSN: &str = "SELECT greatest(pg_last_wal_receive_lsn(), \
     pg_last_wal_replay_lsn())::text";
const PRIMARY_WAL: &str = "SELECT pg_is_in_recovery(), \
     CASE WHEN pg_is_in_recovery() THEN NULL \
     ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::float8 END";
const NEWER_BEATS: &str = "SELECT count(*), max(at_ms) FROM drctl_heartbeat WHERE at_ms > $1";

/// Reads the position of the PostgreSQL replica at `conninfo` right before
/// its promotion: its WAL position and newest heartbeat. `password`
/// overrides any in `conninfo`; `ca_file` adds trusted certificates for
/// `sslmode=require`; `timeout` bounds the connect and each query.
///
/// # Errors
///
/// The replica cannot be reached or read, or it never was a standby (it
/// has no received or replayed WAL position).
pub async fn record_postgres(
    conninfo: &str,
    password: Option<&str>,
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<DatabasePosition, FenceError> {
    let (mut conn, target) = connect("replica", conninfo, password, ca_file, timeout)?;
    let client = conn
        .client()
        .await
        .map_err(|e| FenceError::from_probe(&target, e))?;
    let q = Query {
        client,
        target: &target,
        timeout,
    };
    let row = q.one("read wal position", REPLICA_LSN, &[]).await?;
    let lsn: Option<String> = row.get(0);
    let lsn = lsn.ok_or_else(|| {
        FenceError::other(&target, "not a standby: it has no received or replayed WAL")
    })?;
    let newest_heartbeat_ms = q.newest_heartbeat().await?;
    Ok(DatabasePosition {
        lsn,
        newest_heartbeat_ms,
        at_ms: now_ms(),
    })
}

/// Measures, on the old PostgreSQL primary at `conninfo`, what it wrote
/// after the replica's recorded position `since`: WAL bytes past `since.lsn`
/// and heartbeat rows newer than `since.newest_heartbeat_ms`. Connection
/// parameters as for [`record_postgres`].
///
/// # Errors
///
/// The old primary cannot be reached or read, or it is in recovery (a
/// standby now: its divergent WAL is gone or was never written).
pub async fn measure_postgres(
    conninfo: &str,
    password: Option<&str>,
    ca_file: Option<&Path>,
    timeout: Duration,
    since: &DatabasePosition,
) -> Result<Divergence, FenceError> {
    let (mut conn, target) = connect("old primary", conninfo, password, ca_file, timeout)?;
    let client = conn
        .client()
        .await
        .map_err(|e| FenceError::from_probe(&target, e))?;
    let q = Query {
        client,
        target: &target,
        timeout,
    };
    let row = q
        .one("read wal position", PRIMARY_WAL, &[&since.lsn])
        .await?;
    let (in_recovery, diff): (bool, Option<f64>) = (row.get(0), row.get(1));
    if in_recovery {
        return Err(FenceError::other(
            &target,
            "in recovery: it is a standby now, so what it wrote after the fork cannot be measured",
        ));
    }
    // Negative only if it is behind the replica's position: nothing diverged.
    let bytes = diff.unwrap_or(0.0).max(0.0) as u64;
    let after = since.newest_heartbeat_ms.unwrap_or(0);
    let (heartbeat_rows, newest) = if q.has_heartbeat_table().await? {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let row = q.one("read heartbeats", NEWER_BEATS, &[&after]).await?;
        let (count, newest): (i64, Option<i64>) = (row.get(0), row.get(1));
        (count, newest)
    } else {
        (0, None)
    };
    Ok(Divergence {
        tier: DataTier::Database,
        bytes,
        heartbeat_rows: u64::try_from(heartbeat_rows).unwrap_or(0),
        window_start_ms: since.newest_heartbeat_ms,
        window_end_ms: newest.and_then(|ms| u64::try_from(ms).ok()),
        measured_at_ms: now_ms(),
    })
}

fn connect(
    role: &'static str,
    conninfo: &str,
    password: Option<&str>,
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<(PgConn, String), FenceError> {
    let mut conn = PgConn::parse(role, conninfo, password, timeout)
        .map_err(|e| FenceError::from_probe("postgres", e))?;
    let target = format!("postgres {role} {}", conn.name());
    if let Some(path) = ca_file {
        conn.use_ca_file(path)
            .map_err(|e| FenceError::from_probe(&target, e))?;
    }
    Ok((conn, target))
}

/// Bounded queries on one connection, their failures naming the target.
struct Query<'a> {
    client: &'a Client,
    target: &'a str,
    timeout: Duration,
}

impl Query<'_> {
    async fn one(
        &self,
        op: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, FenceError> {
        match tokio::time::timeout(self.timeout, self.client.query_one(sql, params)).await {
            Err(_) => Err(FenceError::unreachable(
                self.target,
                format!(
                    "{op} timed out after {}",
                    humantime::format_duration(self.timeout)
                ),
            )),
            Ok(Ok(row)) => Ok(row),
            Ok(Err(e)) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => Err(
                FenceError::refused(self.target, format!("{op} failed: {}", chain(&e))),
            ),
            Ok(Err(e)) if e.is_closed() => Err(FenceError::unreachable(
                self.target,
                format!("{op} failed: {}", chain(&e)),
            )),
            Ok(Err(e)) => Err(FenceError::other(
                self.target,
                format!("{op} failed: {}", chain(&e)),
            )),
        }
    }

    async fn has_heartbeat_table(&self) -> Result<bool, FenceError> {
        let sql = "SELECT to_regclass($1) IS NOT NULL";
        let row = self
            .one("find heartbeats", sql, &[&HEARTBEAT_TABLE])
            .await?;
        Ok(row.get(0))
    }

    /// The newest heartbeat of any site; `None` without the table or rows.
    async fn newest_heartbeat(&self) -> Result<Option<u64>, FenceError> {
        if !self.has_heartbeat_table().await? {
            return Ok(None);
        }
        let sql = "SELECT max(at_ms) FROM drctl_heartbeat";
        let row = self.one("read heartbeats", sql, &[]).await?;
        let newest: Option<i64> = row.get(0);
        Ok(newest.and_then(|ms| u64::try_from(ms).ok()))
    }
}
