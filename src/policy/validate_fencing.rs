//! Stage two, fencing: the lease must end before the majority can confirm
//! the outage, and every method names what it fences.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::*;
use super::validate::Validator;
use super::*;

/// The default clock-skew allowance between sites.
pub(crate) const DEFAULT_SKEW: Duration = Duration::from_secs(5);

impl Validator {
    /// The `fencing` section, checked against the detection settings (the
    /// lease) and the tiers (what can be fenced).
    pub(super) fn fencing(
        &mut self,
        raw: RawFencing,
        detection: &Detection,
        tiers: Option<&Tiers>,
    ) -> Option<Fencing> {
        let after = self.positive("fencing.self_fence_after", raw.self_fence_after, None);
        let skew = self.positive(
            "fencing.max_clock_skew",
            raw.max_clock_skew,
            Some(DEFAULT_SKEW),
        );
        let database = raw.database.and_then(|d| self.database_fencing(d, tiers));
        let cache = raw.cache.and_then(|c| self.cache_fencing(c, tiers));
        let node_groups = raw.node_groups.and_then(|n| self.node_group_fencing(n));
        let (after, skew) = (after?, skew?);
        let fencing = Fencing {
            self_fence_after: after,
            max_clock_skew: skew,
            on_return: raw.on_return.unwrap_or(true),
            database,
            cache,
            node_groups,
        };
        let limit = fencing.earliest_confirmation(detection);
        if limit.is_zero() {
            self.problem(
                "fencing.max_clock_skew",
                Some(crate::duration::fmt(skew)),
                format!(
                    "less than consecutive_failures × probe_interval ({} × {}): otherwise the majority may confirm an outage before any lease could end",
                    detection.consecutive_failures,
                    crate::duration::fmt(detection.probe_interval),
                ),
            );
            return None;
        }
        if after >= limit {
            self.problem(
                "fencing.self_fence_after",
                Some(crate::duration::fmt(after)),
                format!(
                    "less than {}: the majority may confirm the outage after consecutive_failures × probe_interval ({} × {}) less max_clock_skew ({}), and the cut-off primary must have fenced itself by then",
                    crate::duration::fmt(limit),
                    detection.consecutive_failures,
                    crate::duration::fmt(detection.probe_interval),
                    crate::duration::fmt(skew),
                ),
            );
            return None;
        }
        if fencing.database.is_none() && fencing.cache.is_none() && fencing.node_groups.is_none() {
            self.problem(
                "fencing",
                None,
                "at least one of database, cache, node_groups to fence",
            );
            return None;
        }
        Some(fencing)
    }

    fn database_fencing(
        &mut self,
        raw: RawDatabaseFencing,
        tiers: Option<&Tiers>,
    ) -> Option<DatabaseFencing> {
        let at = "fencing.database";
        if tiers.is_some_and(|t| t.database.is_none()) {
            self.problem(
                at,
                None,
                "no database fencing: the policy has no database tier",
            );
            return None;
        }
        let what = "libpq connection settings of the primary as the fencing role (host=… port=… dbname=… user=…), without a password";
        let connection = self.required(&format!("{at}.connection"), raw.connection, what);
        let connection =
            connection.and_then(|c| self.pg_connection(&format!("{at}.connection"), c, what));
        let secondary_connection = match raw.secondary_connection {
            None => Some(None),
            Some(c) => {
                let what = "libpq connection settings of the DR instance as the fencing role, without a password";
                self.pg_connection(&format!("{at}.secondary_connection"), c, what)
                    .map(Some)
            }
        };
        let roles = self.identifiers(&format!("{at}.roles"), raw.roles, "application role");
        let password = self.secret_source(at, raw.password_env, raw.password_file);
        Some(DatabaseFencing {
            connection: connection?,
            secondary_connection: secondary_connection?,
            password: password?,
            ca_file: raw.ca_file.map(PathBuf::from),
            roles: roles?,
        })
    }

    /// Libpq connection settings without a password (`what` says whose).
    fn pg_connection(&mut self, at: &str, c: String, what: &str) -> Option<String> {
        if c.to_ascii_lowercase().contains("password") || c.contains("://") {
            self.problem(at, None, what);
            None
        } else if !c.contains('=') {
            self.problem(at, Some(format!("{c:?}")), what);
            None
        } else {
            Some(c)
        }
    }

    fn cache_fencing(
        &mut self,
        raw: RawCacheFencing,
        tiers: Option<&Tiers>,
    ) -> Option<CacheFencing> {
        let at = "fencing.cache";
        if tiers.is_some_and(|t| t.cache.is_none()) {
            self.problem(at, None, "no cache fencing: the policy has no cache tier");
            return None;
        }
        let method = match raw.method.as_deref() {
            None | Some("elasticache_user") => Some(CacheFenceMethod::ElasticacheUser),
            Some("acl") => Some(CacheFenceMethod::Acl),
            Some(other) => {
                self.problem(
                    format!("{at}.method"),
                    Some(format!("{other:?}")),
                    "elasticache_user (ModifyUser on the ElastiCache API) or acl (self-managed Redis)",
                );
                None
            }
        };
        let connection = match (method, raw.connection) {
            (Some(CacheFenceMethod::Acl), None) => {
                self.problem(
                    format!("{at}.connection"),
                    None,
                    "required with method acl: the primary's redis:// URL",
                );
                None
            }
            (Some(CacheFenceMethod::ElasticacheUser), Some(_)) => {
                self.problem(
                    format!("{at}.connection"),
                    None,
                    "no connection with method elasticache_user: the users are changed through the ElastiCache API",
                );
                None
            }
            (_, Some(c)) if !c.starts_with("redis://") || c.contains('@') => {
                self.problem(
                    format!("{at}.connection"),
                    None,
                    "a redis:// URL without user or password (put the password in password_env or password_file)",
                );
                None
            }
            (_, c) => c,
        };
        let secondary_connection = match (method, raw.secondary_connection) {
            (_, None) => Some(None),
            (Some(CacheFenceMethod::Acl), Some(c))
                if c.starts_with("redis://") && !c.contains('@') =>
            {
                Some(Some(c))
            }
            (_, Some(_)) => {
                self.problem(
                    format!("{at}.secondary_connection"),
                    None,
                    "with method acl only: the DR member's redis:// URL without user or password",
                );
                None
            }
        };
        let users = self.identifiers(&format!("{at}.users"), raw.users, "application user");
        let password = self.secret_source(at, raw.password_env, raw.password_file);
        let method = method?;
        if method == CacheFenceMethod::Acl && connection.is_none() {
            return None;
        }
        Some(CacheFencing {
            method,
            connection,
            secondary_connection: secondary_connection?,
            password: password?,
            users: users?,
        })
    }

    fn node_group_fencing(&mut self, raw: RawNodeGroupFencing) -> Option<NodeGroupFencing> {
        let at = "fencing.node_groups";
        let cluster = self.name(
            &format!("{at}.cluster"),
            raw.cluster,
            "the primary region's EKS cluster name",
        );
        let groups = self.identifiers(&format!("{at}.groups"), raw.groups, "node group name");
        Some(NodeGroupFencing {
            cluster: cluster?,
            groups: groups?,
        })
    }

    /// A non-empty list of distinct names made of letters, digits, `_`,
    /// `-` and `.` (database roles, Redis users, node groups).
    fn identifiers(&mut self, path: &str, raw: Vec<String>, what: &str) -> Option<Vec<String>> {
        if raw.is_empty() {
            self.problem(path, None, format!("at least one {what}"));
            return None;
        }
        let mut ok = true;
        let mut seen = std::collections::BTreeSet::new();
        for (i, name) in raw.iter().enumerate() {
            let valid = !name.is_empty()
                && name.len() <= 63
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                self.problem(
                    format!("{path}[{i}]"),
                    Some(format!("{name:?}")),
                    format!("a {what}: 1 to 63 letters, digits, '_', '-' or '.'"),
                );
                ok = false;
            } else if !seen.insert(name) {
                self.problem(
                    format!("{path}[{i}]"),
                    Some(format!("{name:?}")),
                    format!("a {what} not listed twice"),
                );
                ok = false;
            }
        }
        ok.then_some(raw)
    }

    /// Where a password comes from: `password_env` or `password_file`.
    fn secret_source(
        &mut self,
        at: &str,
        env: Option<String>,
        file: Option<String>,
    ) -> Option<SecretSource> {
        match (env, file) {
            (Some(_), Some(_)) => {
                self.problem(
                    format!("{at}.password_file"),
                    None,
                    "only one of password_env and password_file",
                );
                None
            }
            (Some(var), None) => Some(SecretSource::Env(self.name(
                &format!("{at}.password_env"),
                Some(var),
                "an environment variable name",
            )?)),
            (None, Some(file)) => Some(SecretSource::File(PathBuf::from(file))),
            (None, None) => Some(SecretSource::None),
        }
    }
}
