//! ElastiCache: the Global Datastore and its failover.
//!
//! [`ElastiCacheAdapter::ensure_primary_member`] reads and fails over through
//! the region of the member that is to become primary: that is the region
//! still standing when the primary region is lost. It sends
//! FailoverGlobalReplicationGroup only when the member is not primary yet and
//! no failover is in flight (the datastore is `modifying` while one runs).
//!
//! When the primary region cannot take part in a failover,
//! [`ElastiCacheAdapter::ensure_disassociated`] takes the DR member out of
//! the datastore with DisassociateGlobalReplicationGroup, called through the
//! DR region alone; the member then serves as a standalone primary, which
//! [`ElastiCacheAdapter::get_replication_group`] (DescribeReplicationGroups)
//! shows.

use aws_config::SdkConfig;
use aws_sdk_elasticache::types::{
    GlobalReplicationGroup, GlobalReplicationGroupMember, ReplicationGroup,
};
use aws_sdk_elasticache::Client;
use tracing::{debug, info, instrument};

use super::error::{classify, none_if_not_found};
use super::{regional, regional_factory, Regional};
use crate::cloud::{
    CacheMember, CloudError, CloudResult, ErrorKind, GlobalDatastoreState, MemberRole,
    ReplicationGroupState,
};
use crate::model::Fence;
use crate::model::Op;

const DESCRIBE: Op = Op::DescribeGlobalReplicationGroups;
const FAILOVER: Op = Op::FailoverGlobalReplicationGroup;
const DESCRIBE_GROUPS: Op = Op::DescribeReplicationGroups;
const DISASSOCIATE: Op = Op::DisassociateGlobalReplicationGroup;

/// A member's status while it leaves the datastore.
const DISASSOCIATING: &str = "disassociating";

/// The datastore status while a failover (or another change) is running.
const MODIFYING: &str = "modifying";

/// ElastiCache operations through one client per region.
pub struct ElastiCacheAdapter {
    clients: Regional<Client>,
}

impl ElastiCacheAdapter {
    /// An adapter whose client for a region is `make_client(region)`, called
    /// once per region (tests pass a mock client here).
    pub fn new(make_client: impl Fn(&str) -> Client + Send + Sync + 'static) -> Self {
        Self {
            clients: Regional::new(make_client),
        }
    }

    /// The client for `region`.
    pub fn client(&self, region: &str) -> Client {
        self.clients.get(region)
    }

    /// An adapter whose clients share `config`, each with its own region.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self::new(regional_factory!(aws_sdk_elasticache, config))
    }

    /// Reads a Global Datastore with its members through `region`.
    ///
    /// # Errors
    ///
    /// Any failure of DescribeGlobalReplicationGroups other than "not
    /// found"; `Fatal` for a member role other than PRIMARY or SECONDARY.
    pub async fn get_global_datastore(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<GlobalDatastoreState>> {
        self.describe(region, id).await
    }

    /// Makes `member` (a replication group in `region`) the primary.
    ///
    /// # Errors
    ///
    /// `NotFound` when the datastore or the member does not exist, `Fatal`
    /// when the member is not in `region`, and any failure of the calls
    /// (`Conflict` when ElastiCache refuses the datastore's current state).
    pub async fn ensure_primary_member(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let Some(datastore) = self.describe(region, id).await? else {
            return Err(CloudError::not_found(FAILOVER, regional(region, id)));
        };
        let Some(found) = datastore.member(member) else {
            return Err(CloudError::not_found(
                FAILOVER,
                regional(region, &format!("{id}/{member}")),
            ));
        };
        if found.region != region {
            return Err(CloudError::new(
                ErrorKind::Fatal,
                FAILOVER,
                regional(region, id),
                format!("member {member} is in {}, not in {region}", found.region),
            ));
        }
        if found.role == MemberRole::Primary {
            debug!(datastore = id, member, "already primary; no failover sent");
            return Ok(());
        }
        // A datastore busy with another change is not a failover in flight:
        // the caller waits and asks again.
        if datastore.status == MODIFYING {
            info!(
                datastore = id,
                member, "datastore modifying; not failing over yet"
            );
            return Err(CloudError::new(
                ErrorKind::Conflict,
                FAILOVER,
                regional(region, id),
                format!("Global Datastore {id} is modifying; it cannot fail over now"),
            ));
        }
        self.failover(id, region, member, fence).await
    }

    /// Reads a replication group in `region` with its Global Datastore
    /// membership (DescribeReplicationGroups).
    ///
    /// # Errors
    ///
    /// Any failure of the call other than "not found"; `Fatal` for a
    /// Global Datastore role other than primary or secondary.
    pub async fn get_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<ReplicationGroupState>> {
        let Some(group) = self.describe_replication_group(region, id).await? else {
            return Ok(None);
        };
        let (global_datastore, global_role) = match group.global_replication_group_info() {
            Some(info) if info.global_replication_group_id().is_some() => {
                let role = match info
                    .global_replication_group_member_role()
                    .map(str::to_ascii_uppercase)
                    .as_deref()
                {
                    Some("PRIMARY") => Some(MemberRole::Primary),
                    Some("SECONDARY") => Some(MemberRole::Secondary),
                    None => None,
                    Some(other) => {
                        return Err(CloudError::new(
                            ErrorKind::Fatal,
                            DESCRIBE_GROUPS,
                            regional(region, id),
                            format!(
                                "global datastore role {other:?} is neither PRIMARY nor SECONDARY"
                            ),
                        ))
                    }
                };
                (info.global_replication_group_id().map(str::to_owned), role)
            }
            _ => (None, None),
        };
        Ok(Some(ReplicationGroupState {
            id: id.to_owned(),
            status: group.status().unwrap_or_default().to_owned(),
            global_datastore,
            global_role,
        }))
    }

    /// The cache clusters (nodes) of a replication group in `region`, the
    /// unit ElastiCache publishes its node metrics for; `None` when the
    /// group does not exist.
    ///
    /// # Errors
    ///
    /// Any failure of DescribeReplicationGroups other than "not found".
    pub(crate) async fn member_clusters(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<Vec<String>>> {
        Ok(self
            .describe_replication_group(region, id)
            .await?
            .map(|group| group.member_clusters().to_vec()))
    }

    /// Removes `member` in `region` from the Global Datastore `id`, calling
    /// through `region` only (the primary region need not answer). Makes no
    /// call when the datastore is gone, `member` is no longer one of its
    /// members, or its disassociation is already under way.
    ///
    /// # Errors
    ///
    /// Any failure of the calls (`Conflict` when ElastiCache refuses the
    /// datastore's current state).
    pub async fn ensure_disassociated(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let Some(datastore) = self.describe(region, id).await? else {
            debug!(
                datastore = id,
                member, "datastore gone; no disassociation sent"
            );
            return Ok(());
        };
        let Some(found) = datastore
            .members
            .iter()
            .find(|m| m.replication_group_id == member && m.region == region)
        else {
            debug!(
                datastore = id,
                member, "no longer a member; no disassociation sent"
            );
            return Ok(());
        };
        if found.status == DISASSOCIATING {
            info!(
                datastore = id,
                member, "disassociation under way; none sent"
            );
            return Ok(());
        }
        self.disassociate(id, region, member, fence).await
    }

    #[instrument(name = "cloud", skip_all, fields(op = DESCRIBE_GROUPS.as_str(), resource = %regional(region, id)))]
    async fn describe_replication_group(
        &self,
        region: &str,
        id: &str,
    ) -> CloudResult<Option<ReplicationGroup>> {
        let described = self
            .clients
            .get(region)
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE_GROUPS, regional(region, id), err));
        let Some(out) = none_if_not_found(described)? else {
            return Ok(None);
        };
        Ok(out
            .replication_groups()
            .iter()
            .find(|group| group.replication_group_id() == Some(id))
            .cloned())
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = DISASSOCIATE.as_str(),
        resource = %regional(region, id),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn disassociate(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.clients
            .get(region)
            .disassociate_global_replication_group()
            .global_replication_group_id(id)
            .replication_group_id(member)
            .replication_group_region(region)
            .send()
            .await
            .map_err(|err| classify(DISASSOCIATE, regional(region, id), err))?;
        info!(member, "global datastore disassociation requested");
        Ok(())
    }

    #[instrument(name = "cloud", skip_all, fields(op = DESCRIBE.as_str(), resource = %regional(region, id)))]
    async fn describe(&self, region: &str, id: &str) -> CloudResult<Option<GlobalDatastoreState>> {
        let described = self
            .clients
            .get(region)
            .describe_global_replication_groups()
            .global_replication_group_id(id)
            .show_member_info(true)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE, regional(region, id), err));
        let Some(out) = none_if_not_found(described)? else {
            return Ok(None);
        };
        out.global_replication_groups()
            .iter()
            .find(|group| group.global_replication_group_id() == Some(id))
            .map(|group| datastore_state(id, group))
            .transpose()
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = FAILOVER.as_str(),
        resource = %regional(region, id),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn failover(
        &self,
        id: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.clients
            .get(region)
            .failover_global_replication_group()
            .global_replication_group_id(id)
            .primary_region(region)
            .primary_replication_group_id(member)
            .send()
            .await
            .map_err(|err| classify(FAILOVER, regional(region, id), err))?;
        info!(member, "global datastore failover requested");
        Ok(())
    }
}

fn datastore_state(id: &str, group: &GlobalReplicationGroup) -> CloudResult<GlobalDatastoreState> {
    Ok(GlobalDatastoreState {
        id: id.to_owned(),
        status: group.status().unwrap_or_default().to_owned(),
        members: group
            .members()
            .iter()
            .map(|member| cache_member(id, member))
            .collect::<CloudResult<_>>()?,
    })
}

fn cache_member(id: &str, member: &GlobalReplicationGroupMember) -> CloudResult<CacheMember> {
    let role = match member.role().map(str::to_ascii_uppercase).as_deref() {
        Some("PRIMARY") => MemberRole::Primary,
        Some("SECONDARY") => MemberRole::Secondary,
        other => {
            return Err(CloudError::new(
                ErrorKind::Fatal,
                DESCRIBE,
                id,
                format!("member role {other:?} is neither PRIMARY nor SECONDARY"),
            ))
        }
    };
    Ok(CacheMember {
        replication_group_id: member.replication_group_id().unwrap_or_default().to_owned(),
        region: member
            .replication_group_region()
            .unwrap_or_default()
            .to_owned(),
        role,
        status: member.status().unwrap_or_default().to_owned(),
    })
}

#[path = "elasticache_global.rs"]
mod global;

#[cfg(test)]
#[path = "elasticache_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "elasticache_global_tests.rs"]
mod global_tests;
