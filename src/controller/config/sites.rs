//! The names in a node file: every member's site is an AWS region (it is
//! compared with the policy's regions, shown in the status and used as a
//! metric label), so it is held to the region syntax. Also `Debug` of a
//! node configuration, which must not show its secrets.

use super::MemberEntry;
use crate::policy::{is_region, shown_name, REGION_RULE};

/// A problem per member whose site is not a region, naming its field.
pub(super) fn problems(members: &[MemberEntry]) -> Vec<String> {
    members
        .iter()
        .enumerate()
        .filter(|(_, m)| !is_region(&m.site))
        .map(|(i, m)| {
            format!(
                "cluster.members[{i}].site: {} is not a valid site: {REGION_RULE}",
                shown_name(&m.site)
            )
        })
        .collect()
}

/// Every field but the secrets, which show as [`crate::redact::MASK`]; the
/// members' and the simulated cloud's URLs are redacted too.
impl std::fmt::Debug for super::NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = crate::redact::MASK;
        let members: Vec<String> = self
            .members
            .iter()
            .map(|(id, m)| {
                let addr = crate::redact::redact(&m.addr);
                format!(
                    "{id}: {} at {addr}{}",
                    m.site,
                    if m.witness { " (witness)" } else { "" }
                )
            })
            .collect();
        let cloud = match &self.cloud {
            super::CloudConfig::Sim(s) => format!(
                "Sim {{ url: {:?}, scale: {:?}, seed: {:?} }}",
                s.url.as_deref().map(crate::redact::redact),
                s.scale,
                s.seed
            ),
            other => format!("{other:?}"),
        };
        f.debug_struct("NodeConfig")
            .field("source", &self.source)
            .field("id", &self.id)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("members", &members)
            .field("policies", &self.policies)
            .field("cloud", &format_args!("{cloud}"))
            .field("secret", &mask)
            .field("accepted_secrets", &vec![mask; self.accepted_secrets.len()])
            .field("token", &mask)
            .field("heartbeat", &self.heartbeat)
            .field("election_timeout", &self.election_timeout)
            .field("rpc_timeout", &self.rpc_timeout)
            .field("allow_other_credentials", &self.allow_other_credentials)
            .field("notifications", &self.notifications)
            .finish()
    }
}
