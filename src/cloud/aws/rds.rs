//! RDS: reading DB instances and promoting the cross-region read replica.
//!
//! Promotion is not idempotent on the RDS side (a second PromoteReadReplica
//! on a standalone instance fails), so [`RdsAdapter::ensure_promoted`] reads
//! first and calls only for an `available` replica: a standalone instance is
//! done, and a replica in any other status is already being promoted (or is
//! otherwise busy) and is left for the executor to poll.

use aws_config::SdkConfig;
use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use tracing::{debug, info, instrument};

use super::error::{classify, none_if_not_found};
use super::{regional, regional_factory, Regional};
use crate::cloud::{CloudError, CloudResult, DatabaseState, ErrorKind};
use crate::model::Fence;
use crate::model::Op;

const DESCRIBE: Op = Op::DescribeDbInstances;
const PROMOTE: Op = Op::PromoteReadReplica;
const RENAME: Op = Op::ModifyDbInstance;
const TAG: Op = Op::AddTagsToResource;

/// RDS operations through one client per region.
pub struct RdsAdapter {
    clients: Regional<Client>,
}

impl RdsAdapter {
    /// An adapter whose client for a region is `make_client(region)`, called
    /// once per region (tests pass a mock or emulator client here).
    pub fn new(make_client: impl Fn(&str) -> Client + Send + Sync + 'static) -> Self {
        Self {
            clients: Regional::new(make_client),
        }
    }

    /// An adapter whose clients share `config`, each with its own region.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self::new(regional_factory!(aws_sdk_rds, config))
    }

    /// Reads one DB instance; `None` when RDS does not know it.
    ///
    /// # Errors
    ///
    /// Any failure of DescribeDBInstances other than "not found".
    #[instrument(name = "cloud", skip_all, fields(op = DESCRIBE.as_str(), resource = %regional(region, id)))]
    pub async fn get_database(&self, region: &str, id: &str) -> CloudResult<Option<DatabaseState>> {
        let described = self
            .clients
            .get(region)
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE, regional(region, id), err));
        let Some(out) = none_if_not_found(described)? else {
            return Ok(None);
        };
        // RDS identifiers are case-insensitive (RDS stores them lowercase).
        Ok(out
            .db_instances()
            .iter()
            .find(|db| {
                db.db_instance_identifier()
                    .is_some_and(|found| found.eq_ignore_ascii_case(id))
            })
            .map(|db| database_state(id, db)))
    }

    /// Promotes the read replica `id` unless it is standalone already or its
    /// promotion is in flight (status other than `available`).
    ///
    /// # Errors
    ///
    /// `NotFound` when the instance does not exist; any failure of the read
    /// or of PromoteReadReplica.
    pub async fn ensure_promoted(&self, region: &str, id: &str, fence: &Fence) -> CloudResult<()> {
        let Some(db) = self.get_database(region, id).await? else {
            return Err(CloudError::not_found(PROMOTE, regional(region, id)));
        };
        match &db.replica_source {
            None => {
                debug!(db = id, "already standalone; no promotion sent");
                Ok(())
            }
            // A replica that is busy (backing-up, modifying, ...) cannot be
            // promoted yet, and nothing says a promotion is in flight: the
            // caller waits and asks again, and promotes once it can.
            Some(source) if !db.is_available() => {
                info!(db = id, source = %source, status = %db.status,
                    "replica not available; not promoting yet");
                let kind = if db.is_busy() {
                    ErrorKind::Conflict
                } else {
                    ErrorKind::Fatal
                };
                Err(CloudError::new(
                    kind,
                    PROMOTE,
                    regional(region, id),
                    format!(
                        "read replica {id} is {}; it cannot be promoted now (InvalidDBInstanceState)",
                        db.status
                    ),
                ))
            }
            Some(_) => self.promote(region, id, fence).await,
        }
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = PROMOTE.as_str(),
        resource = %regional(region, id),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn promote(&self, region: &str, id: &str, fence: &Fence) -> CloudResult<()> {
        self.clients
            .get(region)
            .promote_read_replica()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|err| classify(PROMOTE, regional(region, id), err))?;
        info!("promotion of read replica requested");
        Ok(())
    }
}

impl RdsAdapter {
    /// Fences the old primary `id`: tags it, then renames it to `renamed`
    /// (applied immediately), so its endpoint stops answering under the
    /// name clients use while the instance and its data stay. Reads first:
    /// no call when `id` is gone and `renamed` exists.
    ///
    /// # Errors
    ///
    /// `NotFound` when neither name exists; any failure of the calls.
    #[instrument(name = "cloud", skip_all, fields(
        op = RENAME.as_str(),
        resource = %regional(region, id),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    pub async fn ensure_renamed(
        &self,
        region: &str,
        id: &str,
        renamed: &str,
        tags: &[(String, String)],
        fence: &Fence,
    ) -> CloudResult<()> {
        let client = self.clients.get(region);
        let described = client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE, regional(region, id), err));
        let arn = none_if_not_found(described)?.and_then(|out| {
            out.db_instances()
                .iter()
                .find(|db| {
                    db.db_instance_identifier()
                        .is_some_and(|found| found.eq_ignore_ascii_case(id))
                })
                .and_then(|db| db.db_instance_arn().map(str::to_owned))
        });
        let Some(arn) = arn else {
            return match self.get_database(region, renamed).await? {
                Some(_) => {
                    debug!(db = id, renamed, "already renamed; nothing sent");
                    Ok(())
                }
                None => Err(CloudError::not_found(RENAME, regional(region, id))),
            };
        };
        let tag_list: Vec<_> = tags
            .iter()
            .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
            .collect();
        client
            .add_tags_to_resource()
            .resource_name(&arn)
            .set_tags(Some(tag_list))
            .send()
            .await
            .map_err(|err| classify(TAG, regional(region, id), err))?;
        client
            .modify_db_instance()
            .db_instance_identifier(id)
            .new_db_instance_identifier(renamed)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|err| classify(RENAME, regional(region, id), err))?;
        info!(
            db = id,
            renamed, "old primary tagged and renamed out of its endpoint"
        );
        Ok(())
    }
}

fn database_state(id: &str, db: &DbInstance) -> DatabaseState {
    DatabaseState {
        id: db.db_instance_identifier().unwrap_or(id).to_owned(),
        status: db.db_instance_status().unwrap_or_default().to_owned(),
        replica_source: db
            .read_replica_source_db_instance_identifier()
            .filter(|source| !source.is_empty())
            .map(str::to_owned),
        tags: db
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect(),
    }
}

#[path = "rds_replica.rs"]
mod replica;

#[cfg(test)]
#[path = "rds_tests.rs"]
mod tests;
