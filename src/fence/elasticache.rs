//! The ElastiCache fence: the application's RBAC users get an access string
//! that denies `@write`, through the ElastiCache API.

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::User;
use aws_sdk_elasticache::Client;
use futures::future::BoxFuture;

use super::{check_writers, FenceError, FenceOutcome, FenceState, WriterFence};
use crate::cloud::aws::error::classify;
use crate::cloud::{CloudError, ErrorKind};
use crate::model::Op;

/// What a fence appends to a user's access string: Redis applies the rules
/// of an access string in order, so a trailing `-@write` takes every write
/// command away whatever came before.
pub const FENCED_SUFFIX: &str = " -@write";

/// The status of a user whose last change has reached its clusters.
const ACTIVE: &str = "active";

/// Fences ElastiCache (Redis OSS 6+/Valkey with RBAC) by giving each
/// application user its access string followed by `-@write`, with
/// `ModifyUser`; existing connections of the user take the new permissions
/// too, since Redis checks a connection's user on every command.
///
/// ElastiCache allows no other fence: it disables the `ACL` and `CONFIG`
/// commands, so users change only through its API (`ModifyUser`), and
/// `CLIENT PAUSE WRITE` ends after its timeout (and on a restart), so it
/// does not keep a primary fenced.
///
/// The access strings from before the fence are returned in
/// [`FenceOutcome::restore`] (user id → access string; never a secret,
/// passwords are not part of an access string): the caller journals them
/// and builds the fence for `unfence` with [`with_restore`]. A user whose
/// access string already denies `@write` is left alone and not listed, so a
/// repeated `fence` never returns the fenced string as the one to restore;
/// merge outcomes keeping the first entry per user. `unfence` refuses a
/// fenced user it has no recorded access string for, naming it.
///
/// The credentials need `elasticache:DescribeUsers` and
/// `elasticache:ModifyUser` on the users, in the region of the cache.
///
/// [`with_restore`]: ElastiCacheUserFence::with_restore
pub struct ElastiCacheUserFence {
    client: Client,
    region: String,
    users: Vec<String>,
    restore: BTreeMap<String, String>,
}

impl ElastiCacheUserFence {
    /// A fence of the ElastiCache users `users` (user ids) through `client`,
    /// a client for `region` (named in errors).
    ///
    /// # Errors
    ///
    /// `users` is empty, too long or repeats a name.
    pub fn new(client: Client, region: &str, users: Vec<String>) -> Result<Self, FenceError> {
        check_writers(&format!("elasticache {region}"), "users", &users)?;
        Ok(Self {
            client,
            region: region.to_owned(),
            users,
            restore: BTreeMap::new(),
        })
    }

    /// The access strings `unfence` restores: the [`FenceOutcome::restore`]
    /// of the `fence` calls, as journaled.
    pub fn with_restore(mut self, restore: BTreeMap<String, String>) -> Self {
        self.restore = restore;
        self
    }

    async fn fence_now(&self) -> Result<FenceOutcome, FenceError> {
        let mut outcome = FenceOutcome::unchanged("already fenced");
        for id in &self.users {
            let user = self.describe(id).await?;
            let access = user.access_string().unwrap_or_default();
            if is_fenced(access) {
                continue;
            }
            self.modify(id, &format!("{access}{FENCED_SUFFIX}")).await?;
            outcome.restore.insert(id.clone(), access.to_owned());
        }
        if !outcome.restore.is_empty() {
            let ids: Vec<&str> = outcome.restore.keys().map(String::as_str).collect();
            outcome.changed = true;
            outcome.summary = format!("denied @write to {} (ModifyUser)", ids.join(", "));
        }
        Ok(outcome)
    }

    async fn unfence_now(&self) -> Result<FenceOutcome, FenceError> {
        let mut restored = Vec::new();
        for id in &self.users {
            let user = self.describe(id).await?;
            let access = user.access_string().unwrap_or_default();
            match self.restore.get(id) {
                Some(before) if before == access => {}
                Some(before) => {
                    self.modify(id, before).await?;
                    restored.push(id.as_str());
                }
                None if is_fenced(access) => {
                    return Err(FenceError::other(
                        &self.target(id),
                        "denies @write but no access string from before the fence was \
                         recorded: restore it by hand",
                    ));
                }
                None => {}
            }
        }
        Ok(if restored.is_empty() {
            FenceOutcome::unchanged("already unfenced")
        } else {
            FenceOutcome::changed(format!(
                "restored the access string of {} (ModifyUser)",
                restored.join(", ")
            ))
        })
    }

    async fn state_now(&self) -> Result<FenceState, FenceError> {
        let mut writers = Vec::new();
        for id in &self.users {
            let user = self.describe(id).await?;
            let status = user.status().unwrap_or_default();
            if !is_fenced(user.access_string().unwrap_or_default()) {
                writers.push(format!("{id} can write"));
            } else if status != ACTIVE {
                writers.push(format!(
                    "{id} is {status}: the fence has not reached it yet"
                ));
            }
        }
        Ok(if writers.is_empty() {
            FenceState::Fenced
        } else {
            FenceState::Open { writers }
        })
    }

    async fn describe(&self, id: &str) -> Result<User, FenceError> {
        let out = self
            .client
            .describe_users()
            .user_id(id)
            .send()
            .await
            .map_err(|e| self.error(classify(Op::DescribeUsers, self.target(id), e)))?;
        out.users()
            .iter()
            .find(|u| u.user_id() == Some(id))
            .cloned()
            .ok_or_else(|| FenceError::other(&self.target(id), "no such user"))
    }

    async fn modify(&self, id: &str, access_string: &str) -> Result<(), FenceError> {
        self.client
            .modify_user()
            .user_id(id)
            .access_string(access_string)
            .send()
            .await
            .map_err(|e| self.error(classify(Op::ModifyUser, self.target(id), e)))?;
        Ok(())
    }

    fn target(&self, id: &str) -> String {
        format!("elasticache {} user {id}", self.region)
    }

    /// A failed call: silence is `Unreachable`, a denied permission
    /// `Refused`, anything else `Other`.
    fn error(&self, e: CloudError) -> FenceError {
        let detail = format!("{}: {}", e.op, e.message);
        let denied = ["AccessDenied", "UnauthorizedOperation", "NotAuthorized"]
            .iter()
            .any(|code| e.message.starts_with(code));
        if e.no_answer {
            FenceError::unreachable(&e.resource, detail)
        } else if denied {
            FenceError::refused(&e.resource, detail)
        } else if e.kind == ErrorKind::NotFound {
            FenceError::other(&e.resource, format!("no such user ({detail})"))
        } else {
            FenceError::other(&e.resource, detail)
        }
    }
}

impl WriterFence for ElastiCacheUserFence {
    fn describe(&self) -> String {
        format!(
            "elasticache {} users {}",
            self.region,
            self.users.join(", ")
        )
    }

    fn fence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(self.fence_now())
    }

    fn unfence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(self.unfence_now())
    }

    fn state(&self) -> BoxFuture<'_, Result<FenceState, FenceError>> {
        Box::pin(self.state_now())
    }
}

/// Whether an access string ends by denying `@write`.
fn is_fenced(access: &str) -> bool {
    access.split_whitespace().last() == Some(FENCED_SUFFIX.trim_start())
}

#[cfg(test)]
#[path = "elasticache_tests.rs"]
mod tests;
