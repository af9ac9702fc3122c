//! The self-managed Redis fence: the application users lose the `@write`
//! commands through the ACL, and their clients are killed.

use futures::future::BoxFuture;
use tokio::sync::Mutex;

use super::{check_writers, FenceError, FenceOutcome, FenceState, WriterFence};
use crate::probe::{HeartbeatError, RedisConn};

/// Prefix of the key that keeps a fenced user's ACL rules from before the
/// fence, until `unfence` restores them: `drctl:fence:acl:<user>`.
pub const SAVED_RULES_PREFIX: &str = "drctl:fence:acl:";

/// What `unfence` clears before it applies the saved rules: everything an
/// `ACL LIST` line sets, except the payload-sanitizing flags the fence
/// leaves alone.
const CLEAR_RULES: [&str; 6] = [
    "off",
    "resetpass",
    "resetkeys",
    "resetchannels",
    "clearselectors",
    "-@all",
];

/// Fences a self-managed Redis primary (Redis 7 or newer) by denying the
/// application users every `@write` command and killing their clients.
///
/// `fence` first keeps each user's rules exactly as `ACL LIST` shows them
/// in key `drctl:fence:acl:<user>` on the same server (set only if absent,
/// so that a repeated fence never saves the fenced rules), then runs
/// `ACL SETUSER <user> clearselectors -@write` and `CLIENT KILL USER
/// <user>`. `unfence` runs `ACL SETUSER <user> off resetpass resetkeys resetchannels
/// clearselectors -@all <saved rules>`, which
/// gives back exactly the rules of before (password hashes, keys, channels,
/// selectors included), and deletes the key. Keep these keys out of any
/// `allkeys-*` eviction (or the fence must be undone by hand; `unfence`
/// then says so). The fencing user needs `+acl +client +get +set +del` on
/// `~drctl:fence:*`.
///
/// ElastiCache disables the ACL commands: use
/// [`ElastiCacheUserFence`](super::ElastiCacheUserFence) there.
pub struct RedisAclFence {
    users: Vec<String>,
    target: String,
    conn: Mutex<RedisConn>,
}

impl RedisAclFence {
    /// A fence of `users` on the primary at `url` (`redis://[user@]host:port`),
    /// connecting as the fencing user; `password` (from an environment
    /// variable or file) overrides any in `url`. `timeout` bounds the
    /// connect and each command.
    ///
    /// # Errors
    ///
    /// `url` does not parse (or asks for TLS), or `users` is empty, too
    /// long or repeats a name.
    pub fn new(
        url: &str,
        password: Option<String>,
        users: Vec<String>,
        timeout: std::time::Duration,
    ) -> Result<Self, FenceError> {
        let conn = RedisConn::parse("primary", url, password.as_deref(), timeout)
            .map_err(|e| FenceError::from_probe("redis", e))?;
        let target = format!("redis {}", conn.name());
        check_writers(&target, "users", &users)?;
        Ok(Self {
            users,
            target,
            conn: Mutex::new(conn),
        })
    }

    async fn fence_now(&self) -> Result<FenceOutcome, FenceError> {
        let mut conn = self.conn.lock().await;
        let me: String = self
            .run(&mut conn, "acl whoami", cmd(&["ACL", "WHOAMI"]))
            .await?;
        let mut denied = Vec::new();
        let mut killed = 0;
        for user in &self.users {
            if *user == me {
                return Err(FenceError::other(
                    &self.target,
                    format!("refusing to fence {user}: it is the fencing user itself"),
                ));
            }
            let rules = self.rules(&mut conn, user).await?;
            let save = cmd(&["SET", &saved_key(user), &rules, "NX"]);
            let _: Option<String> = self.run(&mut conn, "save acl", save).await?;
            if !self.can_write(&mut conn, user).await? {
                continue;
            }
            let deny = cmd(&["ACL", "SETUSER", user, "clearselectors", "-@write"]);
            let () = self.run(&mut conn, "acl setuser", deny).await?;
            let kill = cmd(&["CLIENT", "KILL", "USER", user]);
            let n: i64 = self.run(&mut conn, "client kill", kill).await?;
            killed += n;
            denied.push(user.as_str());
        }
        Ok(if denied.is_empty() {
            FenceOutcome::unchanged("already fenced")
        } else {
            FenceOutcome::changed(format!(
                "denied @write to {}; killed {killed} client{}",
                denied.join(", "),
                if killed == 1 { "" } else { "s" }
            ))
        })
    }

    async fn unfence_now(&self) -> Result<FenceOutcome, FenceError> {
        let mut conn = self.conn.lock().await;
        let mut restored = Vec::new();
        for user in &self.users {
            self.rules(&mut conn, user).await?; // the user must exist
            let get = cmd(&["GET", &saved_key(user)]);
            let saved: Option<String> = self.run(&mut conn, "read saved acl", get).await?;
            let Some(saved) = saved else {
                if self.can_write(&mut conn, user).await? {
                    continue;
                }
                return Err(FenceError::other(
                    &self.target,
                    format!(
                        "{user} is denied writes but key {} is gone: restore its ACL by hand",
                        saved_key(user)
                    ),
                ));
            };
            // `reset` would also set `sanitize-payload`, which the fence
            // never changed: clear exactly what the saved rules set again.
            let mut restore = cmd(&["ACL", "SETUSER", user]);
            for clear in CLEAR_RULES {
                restore.arg(clear);
            }
            for rule in split_rules(&saved) {
                restore.arg(rule);
            }
            let () = self.run(&mut conn, "acl setuser", restore).await?;
            let del = cmd(&["DEL", &saved_key(user)]);
            let _: i64 = self.run(&mut conn, "delete saved acl", del).await?;
            restored.push(user.as_str());
        }
        Ok(if restored.is_empty() {
            FenceOutcome::unchanged("already unfenced")
        } else {
            FenceOutcome::changed(format!("restored the ACL of {}", restored.join(", ")))
        })
    }

    async fn state_now(&self) -> Result<FenceState, FenceError> {
        let mut conn = self.conn.lock().await;
        let mut writers = Vec::new();
        for user in &self.users {
            if self.can_write(&mut conn, user).await? {
                writers.push(format!("{user} can write"));
            }
        }
        Ok(if writers.is_empty() {
            FenceState::Fenced
        } else {
            FenceState::Open { writers }
        })
    }

    /// `user`'s rules as `ACL LIST` shows them, without `user <name>`.
    async fn rules(&self, conn: &mut RedisConn, user: &str) -> Result<String, FenceError> {
        let lines: Vec<String> = self.run(conn, "acl list", cmd(&["ACL", "LIST"])).await?;
        let prefix = format!("user {user} ");
        lines
            .iter()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(str::to_owned)
            .ok_or_else(|| FenceError::other(&self.target, format!("no such user: {user}")))
    }

    /// Whether `user` may run SET (a command in `@write`), by `ACL DRYRUN`;
    /// a refusal because of a key pattern still means it may write.
    async fn can_write(&self, conn: &mut RedisConn, user: &str) -> Result<bool, FenceError> {
        let dry = cmd(&["ACL", "DRYRUN", user, "SET", "drctl:fence:dryrun", "1"]);
        let answer: String = self.run(conn, "acl dryrun", dry).await?;
        Ok(!answer.contains("'set' command"))
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        conn: &mut RedisConn,
        op: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, FenceError> {
        conn.run(op, cmd).await.map_err(|e| match &e {
            HeartbeatError::Query { detail, .. }
                if detail.to_ascii_uppercase().contains("NOPERM") =>
            {
                FenceError::refused(&self.target, e.to_string())
            }
            _ => FenceError::from_probe(&self.target, e),
        })
    }
}

impl WriterFence for RedisAclFence {
    fn describe(&self) -> String {
        format!("{} users {}", self.target, self.users.join(", "))
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

/// A command from its words.
fn cmd(words: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd(words[0]);
    for word in &words[1..] {
        cmd.arg(*word);
    }
    cmd
}

fn saved_key(user: &str) -> String {
    format!("{SAVED_RULES_PREFIX}{user}")
}

/// The rules of an `ACL LIST` line, split at spaces outside parentheses
/// (a selector such as `(~cache:* +get)` is one rule).
fn split_rules(line: &str) -> Vec<String> {
    let mut rules = Vec::new();
    let mut current = String::new();
    let mut depth = 0u32;
    for c in line.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 => {
                if !current.is_empty() {
                    rules.push(std::mem::take(&mut current));
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        rules.push(current);
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_stay_one_rule() {
        assert_eq!(
            split_rules("on #ab12 ~* &* +@all (~cache:* +get +set) -debug"),
            [
                "on",
                "#ab12",
                "~*",
                "&*",
                "+@all",
                "(~cache:* +get +set)",
                "-debug"
            ]
        );
    }

    #[test]
    fn a_tls_url_is_refused_naming_the_fence() {
        let err = RedisAclFence::new(
            "rediss://:hunter2@cache:6379",
            None,
            vec!["app".into()],
            std::time::Duration::from_secs(1),
        )
        .err()
        .expect("TLS is not supported");
        let text = err.to_string();
        assert!(
            text.starts_with("redis: primary connection string"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}
