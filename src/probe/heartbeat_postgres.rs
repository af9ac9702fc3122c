//! The heartbeat on a PostgreSQL primary/standby pair, and promotion of a
//! standby.
//!
//! With `sslmode=require` in the connection settings the connection uses TLS
//! (rustls), verifying the server's certificate and host name against the
//! public web roots plus an optional PEM bundle (`ca_file`, such as RDS's
//! `global-bundle.pem`); otherwise it is plain TCP.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{chain, config_error, Beat, Endpoint, HeartbeatError};
use crate::clock::now_ms;

const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS drctl_heartbeat (site text PRIMARY KEY, at_ms bigint NOT NULL)";
const UPSERT: &str = "INSERT INTO drctl_heartbeat (site, at_ms) VALUES ($1, $2) \
     ON CONFLICT (site) DO UPDATE SET at_ms = EXCLUDED.at_ms";
const SELECT: &str = "SELECT at_ms FROM drctl_heartbeat WHERE site = $1";

/// A heartbeat on a PostgreSQL primary/standby pair: row `site` of table
/// `drctl_heartbeat (site text primary key, at_ms bigint not null)`.
pub struct PostgresHeartbeat {
    site: String,
    primary: PgConn,
    replica: PgConn,
    /// The upsert prepared on the current primary connection, once the table
    /// is known to exist.
    upsert: Option<Statement>,
}

impl PostgresHeartbeat {
    /// `primary`/`replica` are libpq-style conninfo strings
    /// (`host=127.0.0.1 port=5432 user=drctl dbname=postgres`); `password`
    /// overrides any password in them (it comes from the environment or a
    /// file, never the policy). `site` names the row. `timeout` bounds the
    /// connect and each query.
    ///
    /// Fails if either conninfo does not parse or names no host; the error
    /// says which one.
    pub fn new(
        site: &str,
        primary: &str,
        replica: &str,
        password: Option<String>,
        timeout: Duration,
    ) -> Result<Self, HeartbeatError> {
        Ok(Self {
            site: site.to_owned(),
            primary: PgConn::parse("primary", primary, password.as_deref(), timeout)?,
            replica: PgConn::parse("replica", replica, password.as_deref(), timeout)?,
            upsert: None,
        })
    }

    /// Trusts the certificates of the PEM bundle `ca_file` too, for
    /// connections with `sslmode=require`.
    ///
    /// # Errors
    ///
    /// The file cannot be read or holds no certificate.
    pub fn with_ca_file(mut self, ca_file: &Path) -> Result<Self, HeartbeatError> {
        let tls =
            tls(Some(ca_file)).map_err(|detail| config_error("primary and replica", &detail))?;
        self.primary.tls = tls.clone();
        self.replica.tls = tls;
        Ok(self)
    }

    /// Writes the wall clock into this site's row on the primary, creating
    /// the table on first use (several sites creating it at once is not an
    /// error). The connection is kept between calls and made anew after any
    /// error.
    pub async fn beat(&mut self) -> Result<Beat, HeartbeatError> {
        let result = self.try_beat().await;
        if result.is_err() {
            self.primary.client = None;
            self.upsert = None;
        }
        result
    }

    async fn try_beat(&mut self) -> Result<Beat, HeartbeatError> {
        if !self.primary.connected() {
            // A prepared statement lives and dies with its connection.
            self.upsert = None;
        }
        let ep = self.primary.endpoint.clone();
        let client = self.primary.client().await?;
        let upsert = match &self.upsert {
            Some(statement) => statement.clone(),
            None => {
                match ep
                    .within("create table", client.batch_execute(CREATE_TABLE))
                    .await?
                {
                    Ok(()) => {}
                    Err(e) if lost_create_race(&e) => {}
                    Err(e) => return Err(ep.query_error("create table", chain(&e))),
                }
                let statement = ep.bounded("prepare", client.prepare(UPSERT)).await?;
                self.upsert = Some(statement.clone());
                statement
            }
        };
        let written_ms = now_ms();
        let at_ms = i64::try_from(written_ms).unwrap_or(i64::MAX);
        ep.bounded("write", client.execute(&upsert, &[&self.site, &at_ms]))
            .await?;
        Ok(Beat {
            written_ms,
            acked_ms: now_ms(),
        })
    }

    /// The newest value of this site's row visible on the replica; `None`
    /// while the table or the row has not reached it.
    pub async fn visible(&mut self) -> Result<Option<u64>, HeartbeatError> {
        let result = self.try_visible().await;
        if result.is_err() {
            self.replica.client = None;
        }
        result
    }

    /// Whether the replica's WAL receiver is streaming from its source:
    /// `Some(false)` when it reports no connection (no WAL receiver, or one
    /// not streaming), `None` on a server that is not a standby.
    pub async fn source_link(&mut self) -> Result<Option<bool>, HeartbeatError> {
        let ep = self.replica.endpoint.clone();
        let client = self.replica.client().await?;
        let sql = "SELECT pg_is_in_recovery(), \
                   (SELECT status FROM pg_stat_wal_receiver LIMIT 1)";
        let row = ep
            .within("read", client.query_one(sql, &[]))
            .await?
            .map_err(|e| ep.query_error("read", chain(&e)))?;
        let standby: bool = row
            .try_get(0)
            .map_err(|e| ep.query_error("read", chain(&e)))?;
        let status: Option<String> = row
            .try_get(1)
            .map_err(|e| ep.query_error("read", chain(&e)))?;
        Ok(standby.then(|| status.as_deref() == Some("streaming")))
    }

    async fn try_visible(&mut self) -> Result<Option<u64>, HeartbeatError> {
        let ep = self.replica.endpoint.clone();
        let client = self.replica.client().await?;
        let row = match ep
            .within("read", client.query_opt(SELECT, &[&self.site]))
            .await?
        {
            Ok(row) => row,
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
            Err(e) => return Err(ep.query_error("read", chain(&e))),
        };
        let Some(row) = row else { return Ok(None) };
        let at_ms: i64 = row
            .try_get(0)
            .map_err(|e| ep.query_error("read", chain(&e)))?;
        Ok(Some(u64::try_from(at_ms).unwrap_or(0)))
    }
}

/// Promotes the PostgreSQL standby at `conninfo` with
/// `SELECT pg_promote(true, 60)`: returns once it accepts writes. A server
/// that is already a primary (`pg_is_in_recovery()` false) is left alone.
/// `timeout` bounds the connect and each query, the promotion included, so
/// give it the time the promotion may take.
pub async fn promote_postgres(
    conninfo: &str,
    password: Option<String>,
    timeout: Duration,
) -> Result<(), HeartbeatError> {
    let mut conn = PgConn::parse("standby", conninfo, password.as_deref(), timeout)?;
    let ep = conn.endpoint.clone();
    let client = conn.client().await?;
    if !in_recovery(&ep, client).await? {
        return Ok(());
    }
    match ep
        .bounded(
            "promote",
            client.query_one("SELECT pg_promote(true, 60)", &[]),
        )
        .await
    {
        Ok(row) if row.get::<_, bool>(0) => Ok(()),
        Ok(_) => Err(ep.query_error("promote", "still in recovery after 60 s".into())),
        // Someone else may have promoted it in between ("recovery is not in
        // progress"): that is success too.
        Err(e) => match in_recovery(&ep, client).await {
            Ok(false) => Ok(()),
            _ => Err(e),
        },
    }
}

async fn in_recovery(ep: &Endpoint, client: &Client) -> Result<bool, HeartbeatError> {
    let row = ep
        .bounded(
            "recovery check",
            client.query_one("SELECT pg_is_in_recovery()", &[]),
        )
        .await?;
    Ok(row.get(0))
}

/// Whether a failed `CREATE TABLE IF NOT EXISTS` lost a race with another
/// site creating the same table: the catalog's unique index on type names
/// or relation names fires instead of the `IF NOT EXISTS` check.
fn lost_create_race(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    )
}

/// One PostgreSQL endpoint: its parsed configuration and, once connected,
/// its client. The fencing methods and the divergence measurement connect
/// through it too, so every PostgreSQL connection of drctl shares its TLS and
/// timeout handling.
pub(crate) struct PgConn {
    endpoint: Endpoint,
    config: Config,
    client: Option<Client>,
    /// How to make TLS connections (used with `sslmode=require`).
    tls: MakeRustlsConnect,
}

/// A TLS connector trusting the public web roots and, when given, the
/// certificates in `ca_file`.
fn tls(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let unreadable = |e: &dyn std::fmt::Display| format!("ca_file {}: {e}", path.display());
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
            let cert = cert.map_err(|e| unreadable(&e))?;
            roots.add(cert).map_err(|e| unreadable(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "ca_file {}: no PEM certificate in it",
                path.display()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

impl PgConn {
    /// Parses `conninfo` (key=value or URL) for the endpoint called `role`
    /// in errors; `password` overrides any password in it; `timeout` bounds
    /// the connect.
    pub(crate) fn parse(
        role: &'static str,
        conninfo: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, HeartbeatError> {
        let bad = |detail: String| config_error(role, &detail);
        let mut config: Config = conninfo.parse().map_err(|e| bad(chain(&e)))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(bad("no host given".into()));
        }
        if let Some(password) = password {
            config.password(password);
        }
        config.connect_timeout(timeout);
        Ok(Self {
            endpoint: Endpoint {
                role,
                name: endpoint_name(&config),
                timeout,
            },
            config,
            client: None,
            tls: tls(None).map_err(bad)?,
        })
    }

    /// Trusts the certificates of the PEM bundle `ca_file` too, for
    /// connections with `sslmode=require`.
    pub(crate) fn use_ca_file(&mut self, ca_file: &Path) -> Result<(), HeartbeatError> {
        self.tls = tls(Some(ca_file)).map_err(|detail| HeartbeatError::Config {
            role: self.endpoint.role,
            detail,
        })?;
        Ok(())
    }

    /// The endpoint's `host:port`, as errors name it.
    pub(crate) fn name(&self) -> &str {
        &self.endpoint.name
    }

    /// Drops the connection, so that the next call makes a new one.
    pub(crate) fn disconnect(&mut self) {
        self.client = None;
    }

    /// Whether there is a client whose connection is still open.
    fn connected(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// The connected client, connecting first if there is none (or the last
    /// one was closed).
    pub(crate) async fn client(&mut self) -> Result<&Client, HeartbeatError> {
        if !self.connected() {
            // Drives the socket; ends when the client is dropped or the
            // connection fails, which the next call then sees.
            let client = if self.config.get_ssl_mode() == SslMode::Require {
                let (client, connection) = self
                    .endpoint
                    .bounded("connect", self.config.connect(self.tls.clone()))
                    .await?;
                crate::clock::spawn(async move {
                    let _ = connection.await;
                });
                client
            } else {
                let (client, connection) = self
                    .endpoint
                    .bounded("connect", self.config.connect(NoTls))
                    .await?;
                crate::clock::spawn(async move {
                    let _ = connection.await;
                });
                client
            };
            self.client = Some(client);
        }
        Ok(self.client.as_ref().expect("connected just above"))
    }
}

/// `host:port` of every host in `config`, comma-separated, as errors name it.
fn endpoint_name(config: &Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| match ports {
        [] => 5432,
        [only] => *only,
        many => many.get(i).copied().unwrap_or(5432),
    };
    let hosts: Vec<String> = if config.get_hosts().is_empty() {
        config
            .get_hostaddrs()
            .iter()
            .map(ToString::to_string)
            .collect()
    } else {
        config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect()
    };
    hosts
        .iter()
        .enumerate()
        .map(|(i, host)| format!("{host}:{}", port(i)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1);

    fn parse_err(primary: &str, replica: &str) -> String {
        match PostgresHeartbeat::new("eu", primary, replica, None, T) {
            Ok(_) => panic!("{primary:?} / {replica:?} parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_bad_conninfo_is_reported_with_its_role() {
        let good = "host=127.0.0.1 port=5432 user=drctl dbname=postgres";
        let err = parse_err("host=a port=notaport", good);
        assert!(
            err.starts_with("primary connection string is invalid"),
            "{err}"
        );
        let err = parse_err(good, "host=b bogus_option=1");
        assert!(
            err.starts_with("replica connection string is invalid"),
            "{err}"
        );
        let err = parse_err(good, "user=drctl dbname=postgres");
        assert_eq!(err, "replica connection string is invalid: no host given");
    }

    #[test]
    fn parse_errors_do_not_echo_the_password() {
        let err = parse_err("host=a password=hunter2 port=x", "host=b");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn endpoints_are_named_host_colon_port() {
        let hb = PostgresHeartbeat::new(
            "eu",
            "host=10.0.0.1 port=6432 user=drctl",
            "host=r1,r2 port=5433,5434",
            Some("secret".into()),
            T,
        )
        .unwrap();
        assert_eq!(hb.primary.endpoint.name, "10.0.0.1:6432");
        assert_eq!(hb.replica.endpoint.name, "r1:5433,r2:5434");
        let default_port = PgConn::parse("standby", "hostaddr=127.0.0.1", None, T).unwrap();
        assert_eq!(default_port.endpoint.name, "127.0.0.1:5432");
    }

    #[tokio::test]
    async fn an_unreachable_primary_is_a_connect_error_naming_it() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let primary = format!("host=127.0.0.1 port={port} user=drctl connect_timeout=1");
        let mut hb = PostgresHeartbeat::new("eu", &primary, &primary, None, T).unwrap();
        let err = hb.beat().await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("primary 127.0.0.1:{port}: connect failed")),
            "{err}"
        );
    }
}
