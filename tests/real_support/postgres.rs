//! A PostgreSQL 15 primary and its streaming standby.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{append, bounded, free_port, is_root, poll_until, required, run, tail, Proxy, Reaped};

/// How long any one start-up step may take.
pub(super) const STEP: Duration = Duration::from_secs(60);

/// A PostgreSQL 15 primary and a hot standby that streams from it through a
/// [`Proxy`], both on 127.0.0.1 with trust authentication for user
/// `postgres`. As root, the servers run as the `postgres` user. Dropping it
/// stops both servers and removes their directory.
pub struct PgPair {
    bin: PathBuf,
    primary: PgServer,
    standby: PgServer,
    proxy: Proxy,
    dir: TempDir,
}

/// One running server.
pub(super) struct PgServer {
    pub(super) port: u16,
    data: PathBuf,
    pub(super) log: PathBuf,
    /// The postmaster itself (`setpriv` execs it in place).
    postmaster: Option<Reaped>,
    /// Its System V segment, removed by hand when the postmaster is killed.
    shmem_id: Option<String>,
}

impl PgPair {
    /// Initialises and starts the primary, clones the standby from it with
    /// `pg_basebackup -R` through the proxy, and waits until it streams.
    pub fn start() -> PgPair {
        Self::start_in(new_dir(), false)
    }

    /// The same with TLS on both servers (`ssl=on`), their certificate
    /// issued for 127.0.0.1 by a test CA whose certificate is [`ca_file`].
    ///
    /// [`ca_file`]: PgPair::ca_file
    pub fn start_tls() -> PgPair {
        Self::start_in(new_dir(), true)
    }

    /// The test CA's certificate (PEM), for [`PgPair::start_tls`] pairs.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn start_in(dir: tempfile::TempDir, tls: bool) -> PgPair {
        let bin = pg_bin();
        let base = dir.path().to_path_buf();
        if tls {
            make_certificates(&base);
        }
        let log = base.join("setup.log");
        let primary_data = base.join("primary");
        let mut initdb = as_postgres(&bin.join("initdb"), &base);
        initdb.arg("-D").arg(&primary_data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ]);
        run(initdb, "initdb", &log, STEP);
        let primary = PgServer::start(&bin, &base, primary_data, "primary");
        let proxy = Proxy::start(([127, 0, 0, 1], primary.port).into());
        let standby_data = base.join("standby");
        let mut backup = as_postgres(&bin.join("pg_basebackup"), &base);
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ])
            .args(["-N", "-p", &proxy.port().to_string(), "-D"])
            .arg(&standby_data);
        run(backup, "pg_basebackup", &log, STEP);
        let standby = PgServer::start(&bin, &base, standby_data, "standby");
        let pair = PgPair {
            bin,
            primary,
            standby,
            proxy,
            dir,
        };
        let streaming = poll_until(STEP, || {
            pair.psql(&pair.standby, "SELECT status FROM pg_stat_wal_receiver") == "streaming"
        });
        assert!(
            streaming,
            "standby never streamed; log:\n{}",
            tail(&pair.standby.log)
        );
        pair
    }

    /// Conninfo of the primary, as user `postgres`.
    pub fn primary_conninfo(&self) -> String {
        conninfo(self.primary.port)
    }

    /// Conninfo of the standby, as user `postgres`.
    pub fn standby_conninfo(&self) -> String {
        conninfo(self.standby.port)
    }

    /// The proxy between the standby and the primary.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// SIGKILLs the primary's postmaster (its backends follow on their own).
    pub fn kill_primary(&mut self) {
        self.primary.kill();
    }

    /// Pauses WAL replay on the standby (it keeps receiving).
    pub async fn pause_replay(&self) {
        let client = pg_connect(&self.standby_conninfo()).await;
        bounded(client.batch_execute("SELECT pg_wal_replay_pause()"))
            .await
            .unwrap();
    }

    /// Resumes WAL replay on the standby.
    pub async fn resume_replay(&self) {
        let client = pg_connect(&self.standby_conninfo()).await;
        bounded(client.batch_execute("SELECT pg_wal_replay_resume()"))
            .await
            .unwrap();
    }

    /// The standby's own account of its lag: now minus the commit time of
    /// the last transaction it replayed.
    pub async fn replay_lag(&self) -> Duration {
        let client = pg_connect(&self.standby_conninfo()).await;
        let sql = "SELECT COALESCE(EXTRACT(EPOCH FROM \
                   clock_timestamp() - pg_last_xact_replay_timestamp()), 0)::float8";
        let secs: f64 = bounded(client.query_one(sql, &[])).await.unwrap().get(0);
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// Runs one query with psql and returns its output, trimmed ("" on error).
    fn psql(&self, server: &PgServer, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-XAtq",
            ])
            .args(["-p", &server.port.to_string(), "-c", sql])
            .env("PGCONNECT_TIMEOUT", "2")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        for server in [&mut self.standby, &mut self.primary] {
            server.stop(&self.bin, self.dir.path());
        }
    }
}

impl PgServer {
    /// Starts a server on `data`, on a free port (another one if that one
    /// is taken by the time the server binds), and waits until it accepts
    /// connections.
    pub(super) fn start(bin: &Path, base: &Path, data: PathBuf, name: &str) -> PgServer {
        let log = base.join(format!("{name}.log"));
        for _ in 0..5 {
            let port = free_port();
            let mut postgres = as_postgres(&bin.join("postgres"), base);
            postgres.arg("-D").arg(&data).args(settings(port, base));
            let child = postgres
                .stdin(Stdio::null())
                .stdout(append(&log))
                .stderr(append(&log))
                .spawn()
                .unwrap();
            let mut server = PgServer {
                port,
                data: data.clone(),
                log: log.clone(),
                postmaster: Some(Reaped(child)),
                shmem_id: None,
            };
            if server.wait_ready(bin) {
                server.shmem_id = shmem_id(&data);
                return server;
            }
            server.postmaster = None;
            if !tail(&log).contains("could not bind") {
                break;
            }
        }
        panic!("{name} did not start; log:\n{}", tail(&log));
    }

    /// Waits until `pg_isready` succeeds; false if the server exits first.
    fn wait_ready(&mut self, bin: &Path) -> bool {
        let postmaster = self.postmaster.as_mut().unwrap();
        let port = self.port.to_string();
        poll_until(STEP, || {
            postmaster.exited()
                || Command::new(bin.join("pg_isready"))
                    .args(["-q", "-h", "127.0.0.1", "-t", "1", "-p", &port])
                    .status()
                    .is_ok_and(|s| s.success())
        }) && !postmaster.exited()
    }

    fn kill(&mut self) {
        if let Some(mut postmaster) = self.postmaster.take() {
            postmaster.kill();
        }
        // A killed postmaster leaves its small System V segment behind;
        // marking it removed frees it once the last backend has exited.
        if let Some(id) = self.shmem_id.take() {
            let _ = Command::new("ipcrm")
                .args(["-m", &id])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Immediate shutdown (the postmaster stops its backends and frees its
    /// shared memory), SIGKILL if that does not work within 10 s.
    pub(super) fn stop(&mut self, bin: &Path, base: &Path) {
        if self.postmaster.as_mut().is_some_and(|p| !p.exited()) {
            let mut pg_ctl = as_postgres(&bin.join("pg_ctl"), base);
            pg_ctl
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "-t", "10", "stop"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = pg_ctl.status();
            if self.postmaster.as_mut().is_some_and(|p| p.exited()) {
                self.shmem_id = None;
            }
        }
        self.kill();
    }
}

/// A temporary directory the servers (user `postgres` when we are root)
/// can write.
pub(super) fn new_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("drctl-pg-")
        .tempdir()
        .unwrap();
    if is_root() {
        let mut chown = Command::new("chown");
        chown.arg("postgres:postgres").arg(dir.path());
        run(chown, "chown", &dir.path().join("setup.log"), STEP);
    }
    dir
}

/// A test CA (`ca.crt`) and a server certificate for IP 127.0.0.1 signed
/// by it (`server.crt`, `server.key`, readable by the server only), made
/// with the openssl command.
fn make_certificates(base: &Path) {
    let log = base.join("setup.log");
    let openssl = |args: &[&str], what: &str| {
        let mut cmd = Command::new("openssl");
        cmd.current_dir(base).args(args);
        run(cmd, what, &log, STEP);
    };
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=drctl test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
        "openssl CA",
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        "openssl request",
    );
    std::fs::write(
        base.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
        "openssl sign",
    );
    use std::os::unix::fs::PermissionsExt;
    let key = base.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    if is_root() {
        let mut chown = Command::new("chown");
        chown
            .arg("postgres:postgres")
            .arg(&key)
            .arg(base.join("server.crt"));
        run(chown, "chown", &log, STEP);
    }
}

/// Server settings: 127.0.0.1 only, sockets in the test directory, small,
/// unsynced, ready to stream to a hot standby; TLS on when the test
/// directory holds a server certificate.
fn settings(port: u16, base: &Path) -> Vec<String> {
    let tls = base.join("server.crt").exists().then(|| {
        [
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", base.join("server.crt").display()),
            format!("ssl_key_file={}", base.join("server.key").display()),
        ]
    });
    [
        format!("port={port}"),
        "listen_addresses=127.0.0.1".into(),
        format!("unix_socket_directories={}", base.display()),
        "shared_buffers=16MB".into(),
        "max_connections=40".into(),
        "fsync=off".into(),
        "full_page_writes=off".into(),
        "wal_level=replica".into(),
        "max_wal_senders=5".into(),
        "wal_keep_size=256MB".into(),
        "hot_standby=on".into(),
        "dynamic_shared_memory_type=mmap".into(),
    ]
    .into_iter()
    .chain(tls.into_iter().flatten())
    .flat_map(|setting| ["-c".to_owned(), setting])
    .collect()
}

/// The System V shared memory id from line 7 of `postmaster.pid`.
fn shmem_id(data: &Path) -> Option<String> {
    let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let line = pid_file.lines().nth(6)?;
    line.split_whitespace().nth(1).map(str::to_owned)
}

pub(super) fn conninfo(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user=postgres dbname=postgres")
}

/// A command that runs `program` as the `postgres` user when we are root
/// (PostgreSQL refuses to run as root), in `dir`, with a neutral locale.
pub(super) fn as_postgres(program: &Path, dir: &Path) -> Command {
    let mut cmd = if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ]);
        cmd.arg(program);
        cmd
    } else {
        Command::new(program)
    };
    cmd.current_dir(dir).env("HOME", dir).env("LC_ALL", "C");
    cmd
}

/// The PostgreSQL 15 binaries: `DRCTL_PG_BIN`, else Debian's location.
pub(super) fn pg_bin() -> PathBuf {
    let bin = std::env::var_os("DRCTL_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
    for tool in [
        "postgres",
        "initdb",
        "pg_basebackup",
        "pg_ctl",
        "pg_isready",
        "psql",
    ] {
        required(bin.join(tool), "PostgreSQL 15", "DRCTL_PG_BIN");
    }
    bin
}

/// A connected client; its connection is driven by a spawned task.
pub async fn pg_connect(conninfo: &str) -> tokio_postgres::Client {
    let connect = tokio_postgres::connect(conninfo, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .unwrap_or_else(|_| panic!("connecting to {conninfo} took over 10 s"))
        .unwrap_or_else(|e| panic!("connecting to {conninfo}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}
