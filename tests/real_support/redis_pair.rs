//! A Redis primary and its replica.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{append, free_port, poll_until, required, tail, Proxy, Reaped};

/// How long any one start-up step may take.
const STEP: Duration = Duration::from_secs(30);

/// A Redis primary and a replica that replicates from it through a
/// [`Proxy`], both on 127.0.0.1 without persistence. Dropping it kills both
/// and removes their directory.
pub struct RedisPair {
    primary: RedisServer,
    replica: RedisServer,
    proxy: Proxy,
    dir: TempDir,
}

struct RedisServer {
    port: u16,
    log: PathBuf,
    process: Option<Reaped>,
}

impl RedisPair {
    /// Starts the primary, then the replica, and waits until the replica's
    /// link to the primary is up.
    pub fn start() -> RedisPair {
        let bin = redis_server();
        let dir = tempfile::Builder::new()
            .prefix("drctl-redis-")
            .tempdir()
            .unwrap();
        let primary = RedisServer::start(&bin, dir.path(), "primary", None);
        let proxy = Proxy::start(([127, 0, 0, 1], primary.port).into());
        let replica = RedisServer::start(&bin, dir.path(), "replica", Some(proxy.port()));
        let pair = RedisPair {
            primary,
            replica,
            proxy,
            dir,
        };
        let linked = poll_until(STEP, || {
            info_replication(pair.replica.port).contains("master_link_status:up")
        });
        assert!(
            linked,
            "replica never linked; log:\n{}",
            tail(&pair.replica.log)
        );
        pair
    }

    /// URL of the primary.
    pub fn primary_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.primary.port)
    }

    /// URL of the replica.
    pub fn replica_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.replica.port)
    }

    /// The proxy between the replica and the primary.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// The replica's `INFO replication`.
    pub fn replica_info(&self) -> String {
        info_replication(self.replica.port)
    }

    /// SIGKILLs the primary.
    pub fn kill_primary(&mut self) {
        if let Some(mut process) = self.primary.process.take() {
            process.kill();
        }
    }
}

/// One Redis server on its own (no replica, replicating from nothing),
/// killed and removed on drop.
pub struct RedisAlone {
    server: RedisServer,
    _dir: TempDir,
}

impl RedisAlone {
    /// Starts it on a free port of 127.0.0.1.
    pub fn start() -> RedisAlone {
        let bin = redis_server();
        let dir = tempfile::Builder::new()
            .prefix("drctl-redis-")
            .tempdir()
            .unwrap();
        let server = RedisServer::start(&bin, dir.path(), "alone", None);
        RedisAlone { server, _dir: dir }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.server.port)
    }

    /// Its `INFO replication`.
    pub fn info_replication(&self) -> String {
        info_replication(self.server.port)
    }
}

impl RedisServer {
    /// Starts a server on a free port (another one if that one is taken by
    /// the time it binds); a replica of the proxy's port when given.
    fn start(bin: &Path, base: &Path, name: &str, replica_of: Option<u16>) -> RedisServer {
        let log = base.join(format!("{name}.log"));
        let dir = base.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(bin);
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--logfile", "", "--repl-diskless-sync-delay", "0"])
                .arg("--dir")
                .arg(&dir);
            if let Some(upstream) = replica_of {
                cmd.args(["--replicaof", "127.0.0.1", &upstream.to_string()]);
            }
            let child = cmd
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(append(&log))
                .stderr(append(&log))
                .spawn()
                .unwrap();
            let mut process = Reaped(child);
            let up = poll_until(STEP, || process.exited() || ping(port));
            if up && !process.exited() {
                return RedisServer {
                    port,
                    log,
                    process: Some(process),
                };
            }
            drop(process);
            if !tail(&log).contains("Address already in use") {
                break;
            }
        }
        panic!("redis {name} did not start; log:\n{}", tail(&log));
    }
}

fn connection(port: u16) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let conn = client
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    Some(conn)
}

fn ping(port: u16) -> bool {
    connection(port).is_some_and(|mut c| redis::cmd("PING").query::<String>(&mut c).is_ok())
}

fn info_replication(port: u16) -> String {
    connection(port)
        .and_then(|mut c| redis::cmd("INFO").arg("replication").query(&mut c).ok())
        .unwrap_or_default()
}

/// redis-server: `DRCTL_REDIS_SERVER`, else the first on `PATH`.
fn redis_server() -> PathBuf {
    let path = std::env::var_os("DRCTL_REDIS_SERVER")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join("redis-server"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("redis-server"));
    required(path, "redis-server", "DRCTL_REDIS_SERVER")
}
