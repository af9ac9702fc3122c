//! New PostgreSQL standbys made from a running primary with
//! `pg_basebackup`, as a reprotect makes the replica in the old primary's
//! region: the simulated cloud calls [`Standbys`] (a
//! [`StandbyMaker`]) when its CreateDBInstanceReadReplica is accepted.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use drctl::cloud::sim::{BackingServer, StandbyMaker};
use futures::future::BoxFuture;
use tempfile::TempDir;

use super::postgres::{as_postgres, conninfo, new_dir, pg_bin, PgServer, STEP};
use super::{poll_until, run, tail};

/// The standbys made so far, stopped and removed on drop.
#[derive(Clone)]
pub struct Standbys {
    inner: Arc<Inner>,
}

struct Inner {
    bin: PathBuf,
    dir: TempDir,
    servers: Mutex<Vec<PgServer>>,
}

impl Standbys {
    /// No standby yet; they go in a temporary directory of their own.
    pub fn new() -> Standbys {
        Standbys {
            inner: Arc::new(Inner {
                bin: pg_bin(),
                dir: new_dir(),
                servers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Conninfo of every standby made, oldest first.
    pub fn made(&self) -> Vec<String> {
        let servers = self.inner.servers.lock().unwrap();
        servers.iter().map(|s| conninfo(s.port)).collect()
    }

    /// Clones the server at `primary` (libpq conninfo) with
    /// `pg_basebackup -R` (standby.signal, primary_conninfo pointing at
    /// it), starts it and waits until it streams. Blocking.
    pub fn make(&self, primary: &str) -> Result<String, String> {
        let inner = &self.inner;
        let n = inner.servers.lock().unwrap().len();
        let base = inner.dir.path();
        let data = base.join(format!("standby-{n}"));
        let log = base.join("setup.log");
        let mut backup = as_postgres(&inner.bin.join("pg_basebackup"), base);
        backup
            .args([
                "-d", primary, "-R", "-X", "stream", "-c", "fast", "-N", "-D",
            ])
            .arg(&data);
        run(backup, "pg_basebackup", &log, STEP);
        let server = PgServer::start(&inner.bin, base, data, &format!("standby-{n}"));
        let (port, server_log) = (server.port, server.log.clone());
        inner.servers.lock().unwrap().push(server);
        let streaming = poll_until(STEP, || {
            psql(&inner.bin, port, "SELECT status FROM pg_stat_wal_receiver") == "streaming"
        });
        if !streaming {
            return Err(format!(
                "the new standby never streamed; log:\n{}",
                tail(&server_log)
            ));
        }
        Ok(conninfo(port))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let servers = self.servers.get_mut().unwrap();
        for s in servers.iter_mut() {
            s.stop(&self.bin, self.dir.path());
        }
    }
}

impl StandbyMaker for Standbys {
    fn postgres_standby(
        &self,
        primary: BackingServer,
    ) -> BoxFuture<'static, Result<BackingServer, String>> {
        let me = self.clone();
        Box::pin(async move {
            let made = tokio::task::spawn_blocking(move || me.make(&primary.replica))
                .await
                .map_err(|e| format!("the standby maker panicked: {e}"))??;
            Ok(BackingServer {
                replica: made,
                password: None,
            })
        })
    }
}

/// Runs one query with psql on 127.0.0.1:`port`; its output, trimmed ("" on error).
fn psql(bin: &std::path::Path, port: u16, sql: &str) -> String {
    let output = Command::new(bin.join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-XAtq",
        ])
        .args(["-p", &port.to_string(), "-c", sql])
        .env("PGCONNECT_TIMEOUT", "2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
