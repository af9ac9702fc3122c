//! Real PostgreSQL and Redis primary/replica pairs for the tests, on
//! 127.0.0.1 only, on free ports, in temporary directories, removed again on
//! drop. The replica's replication link runs through a [`Proxy`] that can
//! stall it, so a test can make the replica fall behind and then kill the
//! primary: real data loss, measured by a [`WriteLoad`].
//!
//! The server binaries come from `DRCTL_PG_BIN` / `DRCTL_REDIS_SERVER`
//! (scripts/test.sh installs them and sets both); without them the tests
//! fail, saying so. Every wait is bounded.
//!
//! Each test binary (and the bench) uses part of this module, so unused
//! items are allowed.

#![allow(dead_code, unused_imports)]

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod exposure;
pub mod failback;
mod load;
mod postgres;
mod proxy;
mod redis_pair;
mod standby;

pub use exposure::RealExposures;
pub use load::{missing_postgres, missing_redis, Acked, Missing, WriteLoad};
pub use postgres::{pg_connect, PgPair};
pub use proxy::Proxy;
pub use redis_pair::{RedisAlone, RedisPair};
pub use standby::Standbys;

/// The wall clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

/// Awaits `fut` for at most 10 s, panicking after that.
async fn bounded<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("took over 10 s")
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Whether this process runs as root (then PostgreSQL must run as `postgres`).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Polls `done` every 50 ms until it holds; false if `limit` passes first.
fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` to completion within `limit`, its output appended to `log`;
/// panics (showing the log) if it fails or overruns.
fn run(mut cmd: Command, what: &str, log: &Path, limit: Duration) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(append(log))
        .stderr(append(log))
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let mut child = Reaped(child);
    let mut status = None;
    let finished = poll_until(limit, || {
        status = child.0.try_wait().unwrap();
        status.is_some()
    });
    if !finished {
        panic!("{what} took over {limit:?}; log:\n{}", tail(log));
    }
    let status = status.unwrap();
    assert!(
        status.success(),
        "{what} failed ({status}); log:\n{}",
        tail(log)
    );
}

/// A log file opened for appending, for a child's stdout or stderr.
fn append(log: &Path) -> File {
    File::options().create(true).append(true).open(log).unwrap()
}

/// The last lines of a log file, for failure messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A child process that is killed and reaped when dropped.
struct Reaped(Child);

impl Reaped {
    /// SIGKILLs the process and waits (at most 10 s) until it is gone.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let gone = poll_until(Duration::from_secs(10), || {
            !matches!(self.0.try_wait(), Ok(None))
        });
        assert!(gone, "process {} survived SIGKILL for 10 s", self.0.id());
    }

    fn exited(&mut self) -> bool {
        !matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if !self.exited() {
            let _ = self.0.kill();
            poll_until(Duration::from_secs(10), || self.exited());
        }
    }
}

/// A binary that must be there, or the test fails saying how to get it.
fn required(path: PathBuf, what: &str, env: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{what} not found at {}: run scripts/test.sh, which installs it and sets {env} \
         (or set {env} yourself)",
        path.display()
    );
    path
}
