//! Replication heartbeats: the source of truth for data loss.
//!
//! Each controller site writes its wall clock (Unix milliseconds) into a row
//! or key of its own on the primary, and reads back the newest value of that
//! row visible on the replica. The difference between the last acknowledged
//! write and the value visible on the replica bounds what a failover to that
//! replica would lose right now.
//!
//! Every network wait is bounded by the timeout given at construction.
//! TLS is not supported yet: connections are plain TCP (or Unix sockets).

use std::future::Future;
use std::time::Duration;

use crate::redact::redact;

#[path = "heartbeat_postgres.rs"]
mod postgres;
#[path = "heartbeat_redis.rs"]
mod redis_kv;

pub(crate) use postgres::PgConn;
pub use postgres::{promote_postgres, PostgresHeartbeat};
pub(crate) use redis_kv::RedisConn;
pub use redis_kv::{promote_redis, replicate_redis, RedisHeartbeat};

/// Result of one heartbeat write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// The value written: the wall clock just before the write, Unix ms.
    pub written_ms: u64,
    /// The wall clock when the primary acknowledged the write, Unix ms.
    pub acked_ms: u64,
}

/// Why a heartbeat, visibility read or promotion failed.
///
/// Messages name the endpoint (its role and `host:port`) and the operation,
/// never a password.
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    /// A connection string or URL could not be used.
    #[error("{role} connection string is invalid: {detail}")]
    Config {
        /// Which endpoint: `primary`, `replica` or `standby`.
        role: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The endpoint refused or dropped the connection attempt.
    #[error("{role} {endpoint}: connect failed: {detail}")]
    Connect {
        /// Which endpoint: `primary`, `replica` or `standby`.
        role: &'static str,
        /// Its `host:port`.
        endpoint: String,
        /// The client library's account of the failure.
        detail: String,
    },
    /// An operation did not finish within the timeout.
    #[error("{role} {endpoint}: {op} timed out after {}", humantime::format_duration(*.after))]
    Timeout {
        /// Which endpoint: `primary`, `replica` or `standby`.
        role: &'static str,
        /// Its `host:port`.
        endpoint: String,
        /// The operation that was cut short.
        op: &'static str,
        /// The timeout that expired.
        after: Duration,
    },
    /// The endpoint answered with an error, or with something unusable.
    #[error("{role} {endpoint}: {op} failed: {detail}")]
    Query {
        /// Which endpoint: `primary`, `replica` or `standby`.
        role: &'static str,
        /// Its `host:port`.
        endpoint: String,
        /// The operation that failed.
        op: &'static str,
        /// The server's or client library's account of the failure.
        detail: String,
    },
}

/// One endpoint as named in errors: its role and `host:port`.
#[derive(Debug, Clone)]
struct Endpoint {
    role: &'static str,
    name: String,
    timeout: Duration,
}

impl Endpoint {
    /// Runs `fut` bounded by the timeout; a failure becomes a connect error
    /// when `op` is `"connect"`, a query error otherwise.
    async fn bounded<T, E, F>(&self, op: &'static str, fut: F) -> Result<T, HeartbeatError>
    where
        E: std::error::Error,
        F: Future<Output = Result<T, E>>,
    {
        match self.within(op, fut).await? {
            Err(e) if op == "connect" => Err(HeartbeatError::Connect {
                role: self.role,
                endpoint: self.name.clone(),
                detail: redact(&chain(&e)),
            }),
            Err(e) => Err(self.query_error(op, chain(&e))),
            Ok(v) => Ok(v),
        }
    }

    /// Runs `fut` bounded by the timeout, leaving its own error to the caller.
    async fn within<F: Future>(
        &self,
        op: &'static str,
        fut: F,
    ) -> Result<F::Output, HeartbeatError> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| HeartbeatError::Timeout {
                role: self.role,
                endpoint: self.name.clone(),
                op,
                after: self.timeout,
            })
    }

    fn query_error(&self, op: &'static str, detail: String) -> HeartbeatError {
        HeartbeatError::Query {
            role: self.role,
            endpoint: self.name.clone(),
            op,
            detail: redact(&detail),
        }
    }
}

/// A connection string the client library refused, as an error: the
/// library's account, redacted (it may quote the string it was given).
fn config_error(role: &'static str, detail: &str) -> HeartbeatError {
    HeartbeatError::Config {
        role,
        detail: redact(detail),
    }
}

/// An error and its causes on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("error connecting to server")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_joins_causes_on_one_line() {
        let err = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            chain(&err),
            "error connecting to server: connection refused"
        );
    }

    #[tokio::test]
    async fn bounded_names_endpoint_and_operation_on_timeout() {
        let ep = Endpoint {
            role: "replica",
            name: "10.0.0.1:6379".into(),
            timeout: Duration::from_millis(10),
        };
        let never = std::future::pending::<Result<(), std::io::Error>>();
        let err = ep.bounded("read", never).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "replica 10.0.0.1:6379: read timed out after 10ms"
        );
    }

    #[tokio::test]
    async fn bounded_reports_connect_and_query_failures_apart() {
        let ep = Endpoint {
            role: "primary",
            name: "db:5432".into(),
            timeout: Duration::from_secs(1),
        };
        let refused = async { Err::<(), _>(std::io::Error::other("refused")) };
        let err = ep.bounded("connect", refused).await.unwrap_err();
        assert_eq!(err.to_string(), "primary db:5432: connect failed: refused");
        let denied = async { Err::<(), _>(std::io::Error::other("denied")) };
        let err = ep.bounded("write", denied).await.unwrap_err();
        assert_eq!(err.to_string(), "primary db:5432: write failed: denied");
    }

    #[tokio::test]
    async fn a_client_error_quoting_a_connection_string_is_shown_redacted() {
        let ep = Endpoint {
            role: "primary",
            name: "db:5432".into(),
            timeout: Duration::from_secs(1),
        };
        let quoting = || {
            let text = "cannot reach postgresql://drctl:hunter2@db:5432/app (password=hunter2)";
            async move { Err::<(), _>(std::io::Error::other(text)) }
        };
        for op in ["connect", "write"] {
            let err = ep.bounded(op, quoting()).await.unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("postgresql://drctl:***@db:5432/app"), "{err}");
        }
        let err = config_error("replica", "bad url redis://:hunter2@x:y").to_string();
        assert_eq!(
            err,
            "replica connection string is invalid: bad url redis://***@x:y"
        );
    }

    #[test]
    fn a_connection_string_that_does_not_parse_is_never_echoed() {
        let t = Duration::from_secs(1);
        let good_pg = "host=127.0.0.1";
        for bad in [
            "postgresql://drctl:hunter2@db:notaport/app",
            "postgresql://drctl:hunter2@/app",
            "host=db password=hunter2 port=x",
        ] {
            let err = PostgresHeartbeat::new("eu", bad, good_pg, None, t)
                .err()
                .unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        for bad in [
            "redis://u:hunter2@cache:notaport",
            "rediss://u:hunter2@cache:6379",
            "redis+unix://u:hunter2@/tmp/x?db=z",
        ] {
            let err = RedisHeartbeat::new("eu", bad, "redis://127.0.0.1", None, t)
                .err()
                .unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }
}
