//! The divergence report: what an old primary accepted after the fork.
//!
//! Right before the replica is promoted, the controller records the
//! replica's position ([`DatabasePosition`], [`CachePosition`]) in the
//! journal. When the old primary answers again, the same figures read there
//! give the [`Divergence`]: the WAL bytes (or replication-stream bytes) it
//! wrote past that position, and the heartbeats newer than the newest one
//! the replica had. Application rows are table-specific; the heartbeat
//! table (one row or key per controller site, see
//! [`crate::probe::PostgresHeartbeat`]) is the common ground every platform
//! has, and the byte count covers every write.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::DataTier;

/// The replica's PostgreSQL position, recorded right before promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabasePosition {
    /// The WAL position the promotion starts from: the greater of
    /// `pg_last_wal_receive_lsn()` and `pg_last_wal_replay_lsn()` (the
    /// promotion replays all it has received), as `pg_lsn` text (`0/3000148`).
    pub lsn: String,
    /// The newest heartbeat (`max(at_ms)` of `drctl_heartbeat`) on the
    /// replica, Unix ms; `None` when it has none.
    pub newest_heartbeat_ms: Option<u64>,
    /// When the position was read, Unix ms.
    pub at_ms: u64,
}

/// The replica's Redis position, recorded right before promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePosition {
    /// The replication offset it had received from the primary
    /// (`slave_repl_offset`; on an already promoted replica, the offset at
    /// which its new history starts, `second_repl_offset - 1`).
    pub offset: u64,
    /// The newest heartbeat (`drctl:heartbeat:<site>` keys) on the replica,
    /// Unix ms; `None` when it has none.
    pub newest_heartbeat_ms: Option<u64>,
    /// When the position was read, Unix ms.
    pub at_ms: u64,
}

/// What the old primary of one tier accepted after the fork, measured on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// The data tier measured.
    pub tier: DataTier,
    /// Bytes written past the recorded position: WAL bytes
    /// (`pg_wal_lsn_diff`) or replication-stream bytes (offset difference).
    /// An upper bound of the application's writes: the server's own
    /// records (checkpoints, pings to replicas) count too.
    pub bytes: u64,
    /// Heartbeat rows (or keys), one per controller site, holding a
    /// heartbeat newer than the newest the replica had: the sites that
    /// wrote to the old primary after the fork.
    pub heartbeat_rows: u64,
    /// The newest heartbeat the replica had, Unix ms: the divergent writes
    /// came after it. `None` when the replica had none.
    pub window_start_ms: Option<u64>,
    /// The newest heartbeat on the old primary, when newer than the
    /// replica's, Unix ms: the last write known to have been accepted.
    pub window_end_ms: Option<u64>,
    /// When the old primary was measured, Unix ms.
    pub measured_at_ms: u64,
}

impl Divergence {
    /// Whether the old primary accepted nothing the replica lacks.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0 && self.heartbeat_rows == 0
    }
}

impl fmt::Display for Divergence {
    /// "database: 48 KiB of WAL and 3 heartbeat rows written on the old
    /// primary after the fork, 12:00:05–12:01:07 UTC".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (stream, rows) = match self.tier {
            DataTier::Database => ("WAL", "heartbeat row"),
            _ => ("replication stream", "heartbeat key"),
        };
        let plural = if self.heartbeat_rows == 1 { "" } else { "s" };
        write!(
            f,
            "{}: {} of {stream} and {} {rows}{plural} written on the old primary after the fork",
            self.tier.name(),
            human_bytes(self.bytes),
            self.heartbeat_rows,
        )?;
        match (self.window_start_ms, self.window_end_ms) {
            (Some(start), Some(end)) => {
                write!(f, ", {}–{} UTC", clock(start), clock(end))
            }
            (None, Some(end)) => write!(f, ", until {} UTC", clock(end)),
            _ => Ok(()),
        }
    }
}

/// `bytes` as people read them: `312 B`, `48 KiB`, `1.5 MiB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 && value.fract() >= 0.05 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// The UTC time of day of `ms` (Unix ms), `HH:MM:SS`.
fn clock(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01 12:00:05 UTC in Unix ms.
    const NOON_05: u64 = 1_796_126_405_000;

    #[test]
    fn a_divergence_reads_as_a_sentence() {
        let d = Divergence {
            tier: DataTier::Database,
            bytes: 48 * 1024,
            heartbeat_rows: 3,
            window_start_ms: Some(NOON_05),
            window_end_ms: Some(NOON_05 + 62_000),
            measured_at_ms: NOON_05 + 120_000,
        };
        assert_eq!(
            d.to_string(),
            "database: 48 KiB of WAL and 3 heartbeat rows written on the old primary \
             after the fork, 12:00:05–12:01:07 UTC"
        );
        let cache = Divergence {
            tier: DataTier::Cache,
            bytes: 312,
            heartbeat_rows: 1,
            window_start_ms: None,
            window_end_ms: None,
            ..d
        };
        assert_eq!(
            cache.to_string(),
            "cache: 312 B of replication stream and 1 heartbeat key written on the old \
             primary after the fork"
        );
        assert!(!cache.is_empty());
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(human_bytes(200 * 1024 * 1024), "200 MiB");
    }

    #[test]
    fn positions_round_trip_through_json() {
        let p = DatabasePosition {
            lsn: "0/3000148".into(),
            newest_heartbeat_ms: Some(NOON_05),
            at_ms: NOON_05 + 1,
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<DatabasePosition>(&json).unwrap(), p);
    }
}
