//! A writer fence that keeps no state of its own, as the ElastiCache user
//! fence: `fence` returns the access strings it replaced and `unfence`
//! needs them back, or refuses.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use crate::fence::{FenceError, FenceOutcome, FenceState, WriterFence};
use crate::policy::Policy;

/// What the fake appends to fence a user, as the ElastiCache fence does.
const DENY: &str = " -@write";

/// The users' access strings, by (region, user id).
pub(super) type Users = Arc<Mutex<BTreeMap<(String, String), String>>>;

/// Writers whose fences are [`AccessStringFence`]s over `users`.
pub(super) struct AccessStrings {
    pub users: Users,
}

impl AccessStrings {
    /// `user` in every region of `policy` with access string `access`.
    pub fn new(policy: &Policy, user: &str, access: &str) -> Self {
        let users = [&policy.regions.primary, &policy.regions.secondary]
            .into_iter()
            .map(|r| ((r.clone(), user.to_string()), access.to_string()))
            .collect();
        Self {
            users: Arc::new(Mutex::new(users)),
        }
    }

    /// `user`'s access string in `region`.
    pub fn access(&self, region: &str, user: &str) -> String {
        self.users.lock().unwrap()[&(region.to_string(), user.to_string())].clone()
    }
}

impl crate::cloud::Writers for AccessStrings {
    fn writer_fences(
        &self,
        policy: &Policy,
        restore: &BTreeMap<String, String>,
    ) -> Result<Vec<Box<dyn WriterFence>>, String> {
        Ok(vec![Box::new(AccessStringFence {
            users: self.users.clone(),
            region: policy.regions.primary.clone(),
            restore: restore.clone(),
        })])
    }
}

/// The users of one region, fenced by their access strings.
pub(super) struct AccessStringFence {
    users: Users,
    region: String,
    restore: BTreeMap<String, String>,
}

impl AccessStringFence {
    fn mine(&self) -> Vec<(String, String)> {
        let users = self.users.lock().unwrap();
        users
            .iter()
            .filter(|((r, _), _)| *r == self.region)
            .map(|((_, u), a)| (u.clone(), a.clone()))
            .collect()
    }

    fn set(&self, user: &str, access: String) {
        let key = (self.region.clone(), user.to_string());
        self.users.lock().unwrap().insert(key, access);
    }
}

impl WriterFence for AccessStringFence {
    fn describe(&self) -> String {
        format!("access strings in {}", self.region)
    }

    fn fence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(async move {
            let mut out = FenceOutcome::unchanged("already fenced");
            for (user, access) in self.mine() {
                if !access.ends_with(DENY) {
                    self.set(&user, format!("{access}{DENY}"));
                    out.restore.insert(user, access);
                    out.changed = true;
                }
            }
            Ok(out)
        })
    }

    fn unfence(&self) -> BoxFuture<'_, Result<FenceOutcome, FenceError>> {
        Box::pin(async move {
            for (user, access) in self.mine() {
                match self.restore.get(&user) {
                    Some(before) => self.set(&user, before.clone()),
                    None if access.ends_with(DENY) => {
                        return Err(FenceError::other(
                            &user,
                            "denies @write but no access string from before the fence was \
                             recorded: restore it by hand",
                        ))
                    }
                    None => {}
                }
            }
            Ok(FenceOutcome::changed("restored"))
        })
    }

    fn state(&self) -> BoxFuture<'_, Result<FenceState, FenceError>> {
        Box::pin(async move {
            let writers: Vec<String> = self
                .mine()
                .into_iter()
                .filter(|(_, a)| !a.ends_with(DENY))
                .map(|(u, _)| u)
                .collect();
            Ok(if writers.is_empty() {
                FenceState::Fenced
            } else {
                FenceState::Open { writers }
            })
        })
    }
}
