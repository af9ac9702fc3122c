//! The PostgreSQL fence: the application roles lose LOGIN and their
//! sessions are terminated.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::{check_writers, FenceError, FenceOutcome, FenceState, WriterFence};
use crate::probe::{chain, PgConn};

/// How long `pg_terminate_backend` waits for each session to exit, in ms,
/// so that `state` right after `fence` no longer sees it.
const TERMINATE_WAIT_MS: i64 = 5_000;

const ROLES: &str = "SELECT rolname::text, rolcanlogin FROM pg_roles WHERE rolname::text = ANY($1)";
const SESSIONS: &str = "SELECT usename::text, count(*) FROM pg_stat_activity \
     WHERE usename::text = ANY($1) AND pid <> pg_backend_pid() GROUP BY usename";
const TERMINATE: &str = "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2)) \
     FROM pg_stat_activity WHERE usename::text = ANY($1) AND pid <> pg_backend_pid()";

/// Runs `$fence.$method(client)` on the connection (connecting first);
/// any error drops the connection so that the next call makes a new one.
macro_rules! on_client {
    ($fence:expr, $method:ident) => {
        async move {
            let fence = $fence;
            let mut conn = fence.conn.lock().await;
            let result = match conn.client().await {
                Ok(client) => fence.$method(client).await,
                Err(e) => Err(FenceError::from_probe(&fence.target, e)),
            };
            if result.is_err() {
                conn.disconnect();
            }
            result
        }
    };
}

/// Fences a PostgreSQL primary by revoking LOGIN from the application roles
/// (`ALTER ROLE … NOLOGIN`) and terminating their sessions; `unfence`
/// gives every named role LOGIN again. It needs neither `ALTER SYSTEM` nor
/// a superuser, so it works on RDS.
///
/// The fencing role (the user of the connection) needs, on RDS:
///
/// - `CREATEROLE`, which members of `rds_superuser` have (the master user
///   grants it: `CREATE ROLE drctl_fence LOGIN CREATEROLE IN ROLE
///   rds_superuser`), to run `ALTER ROLE … [NO]LOGIN`;
/// - from PostgreSQL 16 on, `ADMIN OPTION` on each application role
///   (`GRANT emr_app TO drctl_fence WITH ADMIN OPTION`), since
///   `CREATEROLE` alone no longer covers roles it did not create;
/// - `pg_signal_backend` (`GRANT pg_signal_backend TO drctl_fence`) to
///   terminate the application's sessions.
///
/// It cannot fence a superuser or `rds_superuser` role, and refuses to
/// fence the role it connects as. `unfence` does not remember which named
/// roles could log in before: name only roles that log in.
pub struct PgRevokeLogin {
    roles: Vec<String>,
    target: String,
    timeout: Duration,
    conn: Mutex<PgConn>,
}

impl PgRevokeLogin {
    /// A fence of `roles` on the primary at `conninfo` (key=value or URL),
    /// connecting as the fencing role; `password` (from an environment
    /// variable or file, never the policy) overrides any in `conninfo`.
    /// `timeout` bounds the connect and each statement.
    ///
    /// # Errors
    ///
    /// `conninfo` does not parse or names no host, or `roles` is empty,
    /// too long or repeats a name.
    pub fn new(
        conninfo: &str,
        password: Option<String>,
        roles: Vec<String>,
        timeout: Duration,
    ) -> Result<Self, FenceError> {
        let conn = PgConn::parse("primary", conninfo, password.as_deref(), timeout)
            .map_err(|e| FenceError::from_probe("postgres", e))?;
        let target = format!("postgres {}", conn.name());
        check_writers(&target, "roles", &roles)?;
        Ok(Self {
            roles,
            target,
            timeout,
            conn: Mutex::new(conn),
        })
    }

    /// Trusts the certificates of the PEM bundle `ca_file` too (RDS's
    /// `global-bundle.pem`), for connections with `sslmode=require`.
    ///
    /// # Errors
    ///
    /// The file cannot be read or holds no certificate.
    pub fn with_ca_file(self, ca_file: &Path) -> Result<Self, FenceError> {
        let target = self.target.clone();
        let mut conn = self.conn.into_inner();
        conn.use_ca_file(ca_file)
            .map_err(|e| FenceError::from_probe(&target, e))?;
        Ok(Self {
            conn: Mutex::new(conn),
            ..self
        })
    }

    async fn fence_on(&self, client: &Client) -> Result<FenceOutcome, FenceError> {
        self.refuse_self(client).await?;
        let can_login = self.logins(client).await?;
        let revoke: Vec<&String> = self.roles.iter().filter(|r| can_login[*r]).collect();
        for role in &revoke {
            let sql = format!("ALTER ROLE {} NOLOGIN", quote_ident(role));
            self.run("revoke login", client.batch_execute(&sql)).await?;
        }
        let params: [&(dyn ToSql + Sync); 2] = [&self.roles, &TERMINATE_WAIT_MS];
        let row = self
            .run("terminate sessions", client.query_one(TERMINATE, &params))
            .await?;
        let terminated: i64 = row.get(0);
        Ok(fence_outcome(&revoke, terminated))
    }

    async fn unfence_on(&self, client: &Client) -> Result<FenceOutcome, FenceError> {
        let can_login = self.logins(client).await?;
        let grant: Vec<&String> = self.roles.iter().filter(|r| !can_login[*r]).collect();
        for role in &grant {
            let sql = format!("ALTER ROLE {} LOGIN", quote_ident(role));
            self.run("grant login", client.batch_execute(&sql)).await?;
        }
        Ok(if grant.is_empty() {
            FenceOutcome::unchanged("already unfenced")
        } else {
            FenceOutcome::changed(format!("granted LOGIN to {}", join(&grant)))
        })
    }

    async fn state_on(&self, client: &Client) -> Result<FenceState, FenceError> {
        let can_login = self.logins(client).await?;
        let rows = self
            .run("read sessions", client.query(SESSIONS, &[&self.roles]))
            .await?;
        let mut writers: Vec<String> = self
            .roles
            .iter()
            .filter(|r| can_login[*r])
            .map(|r| format!("{r} can log in"))
            .collect();
        for row in rows {
            let (role, n): (String, i64) = (row.get(0), row.get(1));
            writers.push(format!("{role} has {n} session{}", plural(n)));
        }
        Ok(if writers.is_empty() {
            FenceState::Fenced
        } else {
            FenceState::Open { writers }
        })
    }

    /// Refuses to fence the role the connection uses: it would lock the
    /// fence out of its own unfence.
    async fn refuse_self(&self, client: &Client) -> Result<(), FenceError> {
        let row = self
            .run(
                "read current_user",
                client.query_one("SELECT current_user::text", &[]),
            )
            .await?;
        let me: String = row.get(0);
        if self.roles.contains(&me) {
            return Err(FenceError::other(
                &self.target,
                format!("refusing to fence {me}: it is the fencing role itself"),
            ));
        }
        Ok(())
    }

    /// Whether each named role can log in; an error names the roles that
    /// do not exist.
    async fn logins(&self, client: &Client) -> Result<BTreeMap<String, bool>, FenceError> {
        let rows = self
            .run("read roles", client.query(ROLES, &[&self.roles]))
            .await?;
        let found: BTreeMap<String, bool> =
            rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        let missing: Vec<&String> = self
            .roles
            .iter()
            .filter(|r| !found.contains_key(*r))
            .collect();
        if !missing.is_empty() {
            return Err(FenceError::other(
                &self.target,
                format!("no such role: {}", join(&missing)),
            ));
        }
        Ok(found)
    }

    /// Awaits one statement within the timeout, classifying its failure.
    async fn run<T>(
        &self,
        op: &str,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, FenceError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(FenceError::unreachable(
                &self.target,
                format!(
                    "{op} timed out after {}",
                    humantime::format_duration(self.timeout)
                ),
            )),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(&self.target, op, &e)),
        }
    }
}

impl WriterFence for PgRevokeLogin {
    fn describe(&self) -> String {
        format!("{} roles {}", self.target, self.roles.join(", "))
    }

    fn fence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(on_client!(self, fence_on))
    }

    fn unfence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(on_client!(self, unfence_on))
    }

    fn state(&self) -> BoxFuture<'_, Result<FenceState, FenceError>> {
        Box::pin(on_client!(self, state_on))
    }
}

/// The outcome of a fence that revoked LOGIN from `revoked` and terminated
/// `terminated` sessions.
fn fence_outcome(revoked: &[&String], terminated: i64) -> FenceOutcome {
    let sessions = format!("terminated {terminated} session{}", plural(terminated));
    match (revoked.is_empty(), terminated) {
        (true, 0) => FenceOutcome::unchanged("already fenced"),
        (true, _) => FenceOutcome::changed(format!("LOGIN already revoked; {sessions}")),
        (false, _) => {
            FenceOutcome::changed(format!("revoked LOGIN from {}; {sessions}", join(revoked)))
        }
    }
}

/// A statement's failure: a missing privilege is `Refused`, a broken
/// connection `Unreachable`, anything else `Other`.
fn classify(target: &str, op: &str, e: &tokio_postgres::Error) -> FenceError {
    let detail = format!("{op} failed: {}", chain(e));
    match e.code() {
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => FenceError::refused(target, detail),
        Some(_) => FenceError::other(target, detail),
        None if e.is_closed() => FenceError::unreachable(target, detail),
        None => FenceError::other(target, detail),
    }
}

/// `name` as a PostgreSQL identifier: double-quoted, inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("emr_app"), "\"emr_app\"");
        assert_eq!(
            quote_ident("a\"; DROP ROLE x; --"),
            "\"a\"\"; DROP ROLE x; --\""
        );
    }

    #[test]
    fn outcomes_say_what_changed() {
        let (a, b) = ("emr_app".to_string(), "emr_batch".to_string());
        let out = fence_outcome(&[&a, &b], 4);
        assert!(out.changed);
        assert_eq!(
            out.summary,
            "revoked LOGIN from emr_app, emr_batch; terminated 4 sessions"
        );
        assert_eq!(
            fence_outcome(&[], 0),
            FenceOutcome::unchanged("already fenced")
        );
        assert_eq!(
            fence_outcome(&[], 1).summary,
            "LOGIN already revoked; terminated 1 session"
        );
    }

    #[test]
    fn a_url_conninfo_error_hides_its_password() {
        let err = PgRevokeLogin::new(
            "postgresql://fence:hunter2@db:notaport/postgres",
            None,
            vec!["emr_app".into()],
            Duration::from_secs(1),
        )
        .err()
        .expect("a bad port is refused");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_primary_is_unreachable() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let fence = PgRevokeLogin::new(
            &format!("host=127.0.0.1 port={port} user=fence"),
            Some("hunter2".into()),
            vec!["emr_app".into()],
            Duration::from_secs(1),
        )
        .unwrap();
        let err = fence.fence().await.unwrap_err();
        assert_eq!(err.metric_label(), "unreachable", "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(
            fence.describe(),
            format!("postgres 127.0.0.1:{port} roles emr_app")
        );
    }
}
