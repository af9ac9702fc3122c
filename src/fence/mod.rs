//! Fencing the writers of a data tier, and measuring what an old primary
//! accepted after the fork.
//!
//! A controller node that has lost the majority, or a new leader that sees
//! the old primary's region answer again, must make sure the old primary
//! takes no more application writes. Each [`WriterFence`] does that for one
//! kind of server without any privilege the managed services withhold:
//!
//! - [`PgRevokeLogin`]: PostgreSQL (RDS included): `ALTER ROLE … NOLOGIN`
//!   for the application roles, then their sessions are terminated.
//! - [`RedisAclFence`]: self-managed Redis: the application users lose the
//!   `@write` commands (`ACL SETUSER`), their clients are killed.
//! - [`ElastiCacheUserFence`]: ElastiCache, where ACL commands are disabled:
//!   the RBAC users' access strings deny `@write` (`ModifyUser`).
//!
//! Every method is idempotent (a second `fence` reports "already fenced")
//! and reversible (`unfence` restores what `fence` changed). [`Divergence`]
//! reports, in WAL bytes or replication offset and in heartbeats, what the
//! old primary accepted after the replica's recorded position.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

mod build;
mod divergence;
mod elasticache;
mod measure_postgres;
mod measure_redis;
mod postgres;
mod redis_acl;

pub use build::from_policy;
pub use divergence::{CachePosition, DatabasePosition, Divergence};
pub use elasticache::{ElastiCacheUserFence, FENCED_SUFFIX};
pub use measure_postgres::{measure_postgres, record_postgres};
pub use measure_redis::{measure_redis, record_redis};
pub use postgres::PgRevokeLogin;
pub use redis_acl::{RedisAclFence, SAVED_RULES_PREFIX};

/// Most application roles or users one fence handles: a bound on the
/// statements and calls one `fence` makes.
pub const WRITERS_MAX: usize = 32;

/// One way of stopping the application's writes on one server.
///
/// Object-safe, so a policy can name the method and the controller hold a
/// `Box<dyn WriterFence>`. Each call is idempotent: `fence` on a fenced
/// server and `unfence` on an open one change nothing and say so.
pub trait WriterFence: Send + Sync {
    /// What this fence acts on, for logs and reports:
    /// `postgres 10.0.0.5:5432 roles emr_app, emr_batch`.
    fn describe(&self) -> String;

    /// Stops the application's writes: new ones are refused and the
    /// sessions that could still write are ended.
    fn fence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>>;

    /// Gives the application its writes back, exactly as before `fence`.
    fn unfence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>>;

    /// Whether the application can still write here.
    fn state(&self) -> BoxFuture<'_, Result<FenceState, FenceError>>;
}

/// What one `fence` or `unfence` call changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceOutcome {
    /// Whether anything changed (false: it was already so).
    pub changed: bool,
    /// What changed, as a sentence for the journal and the report:
    /// "revoked LOGIN from emr_app, emr_batch; terminated 4 sessions".
    pub summary: String,
    /// What `unfence` needs to restore, when the server itself cannot keep
    /// it: ElastiCache user id → access string before the fence. The caller
    /// journals it and hands it back (see [`ElastiCacheUserFence`]). Never a
    /// secret.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub restore: std::collections::BTreeMap<String, String>,
}

impl FenceOutcome {
    /// An outcome that changed something, described by `summary`.
    pub fn changed(summary: impl Into<String>) -> Self {
        Self {
            changed: true,
            summary: summary.into(),
            restore: Default::default(),
        }
    }

    /// An outcome that changed nothing, described by `summary`.
    pub fn unchanged(summary: impl Into<String>) -> Self {
        Self {
            changed: false,
            summary: summary.into(),
            restore: Default::default(),
        }
    }
}

/// Whether the application can still write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FenceState {
    /// No application writer is left: every role or user is denied, and no
    /// session that could write remains.
    Fenced,
    /// Some writers remain, each named with what still lets it write
    /// ("emr_app can log in", "emr_batch has 2 sessions").
    Open {
        /// The writers left, one sentence each.
        writers: Vec<String>,
    },
}

impl FenceState {
    /// Whether no application writer is left.
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced)
    }
}

/// Why a fence, unfence, state read or divergence measurement failed.
///
/// Messages name the target (`postgres 10.0.0.5:5432`, `elasticache user
/// emr-app`) and never contain a password: URL user information is
/// redacted before it reaches a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FenceError {
    /// The server or API did not answer (connect failed or timed out).
    #[error("{target}: unreachable: {detail}")]
    Unreachable {
        /// What was called.
        target: String,
        /// The client's account of the failure.
        detail: String,
    },
    /// The server answered but refused: the fencing role or credentials
    /// lack a permission.
    #[error("{target}: refused: {detail}")]
    Refused {
        /// What was called.
        target: String,
        /// The server's account, naming the permission where it says.
        detail: String,
    },
    /// Anything else: bad configuration, an unknown role, an unexpected
    /// answer.
    #[error("{target}: {detail}")]
    Other {
        /// What was called.
        target: String,
        /// What went wrong.
        detail: String,
    },
}

impl FenceError {
    /// A bounded label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "unreachable",
            Self::Refused { .. } => "refused",
            Self::Other { .. } => "other",
        }
    }

    pub(crate) fn unreachable(target: &str, detail: impl AsRef<str>) -> Self {
        Self::Unreachable {
            target: crate::redact::redact(target),
            detail: crate::redact::redact(detail.as_ref()),
        }
    }

    pub(crate) fn refused(target: &str, detail: impl AsRef<str>) -> Self {
        Self::Refused {
            target: crate::redact::redact(target),
            detail: crate::redact::redact(detail.as_ref()),
        }
    }

    pub(crate) fn other(target: &str, detail: impl AsRef<str>) -> Self {
        Self::Other {
            target: crate::redact::redact(target),
            detail: crate::redact::redact(detail.as_ref()),
        }
    }

    /// Maps a connection error of the shared probe code: connect failures
    /// and timeouts are `Unreachable`, the rest `Other`.
    pub(crate) fn from_probe(target: &str, e: crate::probe::HeartbeatError) -> Self {
        use crate::probe::HeartbeatError as H;
        match &e {
            H::Connect { .. } | H::Timeout { .. } => Self::unreachable(target, e.to_string()),
            H::Config { .. } | H::Query { .. } => Self::other(target, e.to_string()),
        }
    }
}

/// Checks the list of application roles or users a fence is given: not
/// empty, at most [`WRITERS_MAX`], no empty or duplicate name.
pub(crate) fn check_writers(target: &str, what: &str, names: &[String]) -> Result<(), FenceError> {
    if names.is_empty() {
        return Err(FenceError::other(target, format!("no {what} to fence")));
    }
    if names.len() > WRITERS_MAX {
        return Err(FenceError::other(
            target,
            format!("{} {what} given, at most {WRITERS_MAX}", names.len()),
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(FenceError::other(
                target,
                format!("an empty name in {what}"),
            ));
        }
        if names[..i].contains(name) {
            return Err(FenceError::other(
                target,
                format!("{what}: {name} given twice"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_show_a_url_password() {
        let err = FenceError::unreachable("redis://u:hunter2@h", "postgres://a:hunter2@b failed");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(err.metric_label(), "unreachable");
    }

    #[test]
    fn writer_lists_are_checked() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let err = check_writers("t", "roles", &[]).unwrap_err().to_string();
        assert_eq!(err, "t: no roles to fence");
        let err = check_writers("t", "roles", &names(&["a", "a"])).unwrap_err();
        assert_eq!(err.to_string(), "t: roles: a given twice");
        let err = check_writers("t", "users", &names(&["a", " "])).unwrap_err();
        assert_eq!(err.to_string(), "t: an empty name in users");
        let many: Vec<String> = (0..=WRITERS_MAX).map(|i| format!("r{i}")).collect();
        assert!(check_writers("t", "roles", &many).is_err());
        assert!(check_writers("t", "roles", &names(&["a", "b"])).is_ok());
    }
}
