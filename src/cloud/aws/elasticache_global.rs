//! ElastiCache: a new Global Datastore and a new secondary member, made by
//! a reprotect.
//!
//! Both read before they create. A Global Datastore's id is chosen by AWS
//! (a prefix before the suffix drctl gives), so the datastore made earlier
//! is recognised by its suffix and its primary member.

use tracing::{debug, info, instrument};

use super::super::error::classify;
use super::super::regional;
use super::ElastiCacheAdapter;
use crate::cloud::{CloudError, CloudResult, ErrorKind, MemberRole};
use crate::model::{Fence, Op};

const DESCRIBE: Op = Op::DescribeGlobalReplicationGroups;
const CREATE_GLOBAL: Op = Op::CreateGlobalReplicationGroup;
const CREATE_GROUP: Op = Op::CreateReplicationGroup;

/// At most this many pages of DescribeGlobalReplicationGroups are read
/// when looking for the datastore a member belongs to.
pub const DATASTORE_PAGES_MAX: usize = 20;

impl ElastiCacheAdapter {
    /// Makes `primary_member` in `region` the primary of a new Global
    /// Datastore named with `suffix`; returns its id. No call when it is
    /// the primary of a datastore whose id ends with `suffix` already.
    ///
    /// # Errors
    ///
    /// `Conflict` when `primary_member` belongs to another datastore (or
    /// is a secondary); any failure of the calls (`NotFound` when the
    /// replication group does not exist).
    pub async fn ensure_global_datastore(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> CloudResult<String> {
        if let Some((id, role)) = self.datastore_of(region, primary_member).await? {
            if role == MemberRole::Primary && id.ends_with(suffix) {
                debug!(datastore = %id, member = primary_member, "already its primary; nothing sent");
                return Ok(id);
            }
            return Err(CloudError::new(
                ErrorKind::Conflict,
                CREATE_GLOBAL,
                regional(region, primary_member),
                format!(
                    "replication group {primary_member} is already a {} member of Global \
                     Datastore {id}, not the primary of one ending in {suffix}",
                    match role {
                        MemberRole::Primary => "primary",
                        MemberRole::Secondary => "secondary",
                    }
                ),
            ));
        }
        self.create_global(region, suffix, primary_member, fence)
            .await
    }

    /// Adds `member` in `region` to `global_datastore` as a secondary. No
    /// call when it is a member already.
    ///
    /// # Errors
    ///
    /// `NotFound` when the datastore does not exist; `Conflict` when a
    /// replication group named `member` exists in `region` outside it; any
    /// failure of the calls.
    pub async fn ensure_secondary_member(
        &self,
        global_datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let Some(datastore) = self.get_global_datastore(region, global_datastore).await? else {
            return Err(CloudError::not_found(
                CREATE_GROUP,
                regional(region, global_datastore),
            ));
        };
        if datastore
            .members
            .iter()
            .any(|m| m.replication_group_id == member && m.region == region)
        {
            debug!(
                datastore = global_datastore,
                member, "already a member; nothing sent"
            );
            return Ok(());
        }
        if let Some(group) = self.get_replication_group(region, member).await? {
            let belongs = group
                .global_datastore
                .as_deref()
                .unwrap_or("no Global Datastore");
            return Err(CloudError::new(
                ErrorKind::Conflict,
                CREATE_GROUP,
                regional(region, member),
                format!(
                    "replication group {member} already exists in {region} (in {belongs}), \
                     not as a member of {global_datastore}"
                ),
            ));
        }
        self.create_secondary(global_datastore, region, member, fence)
            .await
    }

    /// The datastore `member` (in `region`) belongs to, with its role,
    /// read through `region` (DescribeGlobalReplicationGroups with members).
    #[instrument(name = "cloud", skip_all, fields(op = DESCRIBE.as_str(), resource = %regional(region, member)))]
    async fn datastore_of(
        &self,
        region: &str,
        member: &str,
    ) -> CloudResult<Option<(String, MemberRole)>> {
        let client = self.clients.get(region);
        let mut marker: Option<String> = None;
        for _ in 0..DATASTORE_PAGES_MAX {
            let out = client
                .describe_global_replication_groups()
                .show_member_info(true)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|err| classify(DESCRIBE, regional(region, member), err))?;
            for group in out.global_replication_groups() {
                let id = group.global_replication_group_id().unwrap_or_default();
                let found = group.members().iter().find(|m| {
                    m.replication_group_id() == Some(member)
                        && m.replication_group_region() == Some(region)
                });
                if let Some(m) = found {
                    return Ok(Some((id.to_owned(), super::cache_member(id, m)?.role)));
                }
            }
            match out.marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
                _ => return Ok(None),
            }
        }
        Err(CloudError::new(
            ErrorKind::Fatal,
            DESCRIBE,
            regional(region, member),
            format!("more than {DATASTORE_PAGES_MAX} pages of Global Datastores"),
        ))
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = CREATE_GLOBAL.as_str(),
        resource = %regional(region, primary_member),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn create_global(
        &self,
        region: &str,
        suffix: &str,
        primary_member: &str,
        fence: &Fence,
    ) -> CloudResult<String> {
        let out = self
            .clients
            .get(region)
            .create_global_replication_group()
            .global_replication_group_id_suffix(suffix)
            .primary_replication_group_id(primary_member)
            .global_replication_group_description(format!(
                "drctl reprotect, execution {}",
                fence.execution_id
            ))
            .send()
            .await
            .map_err(|err| classify(CREATE_GLOBAL, regional(region, primary_member), err))?;
        let id = out
            .global_replication_group()
            .and_then(|g| g.global_replication_group_id())
            .ok_or_else(|| {
                CloudError::new(
                    ErrorKind::Fatal,
                    CREATE_GLOBAL,
                    regional(region, primary_member),
                    "CreateGlobalReplicationGroup answered without the datastore's id",
                )
            })?;
        info!(
            datastore = id,
            member = primary_member,
            "global datastore requested"
        );
        Ok(id.to_owned())
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = CREATE_GROUP.as_str(),
        resource = %regional(region, member),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn create_secondary(
        &self,
        global_datastore: &str,
        region: &str,
        member: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        self.clients
            .get(region)
            .create_replication_group()
            .replication_group_id(member)
            .replication_group_description(format!(
                "secondary of {global_datastore}, drctl reprotect, execution {}",
                fence.execution_id
            ))
            .global_replication_group_id(global_datastore)
            .send()
            .await
            .map_err(|err| classify(CREATE_GROUP, regional(region, member), err))?;
        info!(
            datastore = global_datastore,
            member, "global datastore secondary requested"
        );
        Ok(())
    }
}
