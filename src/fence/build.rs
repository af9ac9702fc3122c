//! The fencing methods a policy names, built for its primary region.

use std::collections::BTreeMap;

use super::{ElastiCacheUserFence, PgRevokeLogin, RedisAclFence, WriterFence};
use crate::policy::{CacheFenceMethod, Policy};

/// The writer fences of `policy`'s database and cache methods, for its
/// primary region; `elasticache` gives the ElastiCache client for that
/// region when the cache method needs one, and `restore` the access
/// strings an earlier fence recorded (to unfence).
///
/// # Errors
///
/// A password that cannot be read, connection settings that do not parse,
/// or an ElastiCache method without a client, naming the policy field.
pub fn from_policy(
    policy: &Policy,
    elasticache: Option<aws_sdk_elasticache::Client>,
    restore: &BTreeMap<String, String>,
) -> Result<Vec<Box<dyn WriterFence>>, String> {
    let Some(f) = &policy.fencing else {
        return Ok(Vec::new());
    };
    let timeout = policy.execution.call_timeout;
    let mut out: Vec<Box<dyn WriterFence>> = Vec::new();
    if let Some(d) = &f.database {
        let at = "fencing.database";
        let password = d.password.read().map_err(|e| format!("{at}: {e}"))?;
        let mut fence = PgRevokeLogin::new(&d.connection, password, d.roles.clone(), timeout)
            .map_err(|e| format!("{at}: {e}"))?;
        if let Some(ca) = &d.ca_file {
            fence = fence
                .with_ca_file(ca)
                .map_err(|e| format!("{at}.ca_file: {e}"))?;
        }
        out.push(Box::new(fence));
    }
    if let Some(c) = &f.cache {
        let at = "fencing.cache";
        match c.method {
            CacheFenceMethod::Acl => {
                let url = c.connection.as_deref().unwrap_or_default();
                let password = c.password.read().map_err(|e| format!("{at}: {e}"))?;
                let fence = RedisAclFence::new(url, password, c.users.clone(), timeout)
                    .map_err(|e| format!("{at}: {e}"))?;
                out.push(Box::new(fence));
            }
            CacheFenceMethod::ElasticacheUser => {
                let client = elasticache.ok_or_else(|| {
                    format!("{at}.method: elasticache_user needs AWS (this node runs on a simulated cloud)")
                })?;
                let fence =
                    ElastiCacheUserFence::new(client, &policy.regions.primary, c.users.clone())
                        .map_err(|e| format!("{at}: {e}"))?
                        .with_restore(restore.clone());
                out.push(Box::new(fence));
            }
        }
    }
    Ok(out)
}
