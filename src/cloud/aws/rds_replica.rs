//! RDS: a cross-region read replica, made by a reprotect.
//!
//! The source is read in its own region first (DescribeDBInstances) for its
//! ARN: a cross-region CreateDBInstanceReadReplica names its source by ARN,
//! and the ARN carries the source region. The AWS SDK for Rust has no
//! `SourceRegion` field (the CLI and boto3 turn it into a presigned URL,
//! which RDS needs only for encrypted replicas in GovCloud and China), so
//! the ARN is what tells RDS where the source is.

use tracing::{debug, info, instrument};

use super::super::error::{classify, none_if_not_found};
use super::super::regional;
use super::RdsAdapter;
use crate::cloud::{creation_tags, CloudError, CloudResult, ErrorKind};
use crate::model::{Fence, Op};

const DESCRIBE: Op = Op::DescribeDbInstances;
const CREATE: Op = Op::CreateDbInstanceReadReplica;

impl RdsAdapter {
    /// Creates `id` in `region` as a read replica of `source_id` in
    /// `source_region`, tagged with the execution and epoch. No call when
    /// `id` exists as a replica of `source_id` (being created or
    /// available).
    ///
    /// # Errors
    ///
    /// `Conflict` naming `id` when it exists and is not a replica of
    /// `source_id`; `NotFound` when the source does not exist; any failure
    /// of the calls (RDS's own `Conflict` when the source cannot be
    /// replicated now).
    pub async fn ensure_read_replica(
        &self,
        region: &str,
        id: &str,
        source_region: &str,
        source_id: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        if let Some(existing) = self.get_database(region, id).await? {
            if existing.is_replica_of(source_id) {
                debug!(db = id, source = source_id, status = %existing.status,
                    "already a replica of the source; nothing sent");
                return Ok(());
            }
            let source = existing.replica_source.as_deref().unwrap_or("none");
            return Err(CloudError::new(
                ErrorKind::Conflict,
                CREATE,
                regional(region, id),
                format!(
                    "DB instance {id} already exists in {region} and is not a replica of \
                     {source_id} (its source: {source}); rename or delete it first"
                ),
            ));
        }
        let arn = self.source_arn(source_region, source_id).await?;
        self.create_replica(region, id, &arn, fence).await
    }

    /// The ARN of `source_id` in `source_region`.
    async fn source_arn(&self, source_region: &str, source_id: &str) -> CloudResult<String> {
        let described = self
            .clients
            .get(source_region)
            .describe_db_instances()
            .db_instance_identifier(source_id)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE, regional(source_region, source_id), err));
        none_if_not_found(described)?
            .and_then(|out| {
                out.db_instances()
                    .iter()
                    .find(|db| {
                        db.db_instance_identifier()
                            .is_some_and(|found| found.eq_ignore_ascii_case(source_id))
                    })
                    .and_then(|db| db.db_instance_arn().map(str::to_owned))
            })
            .ok_or_else(|| CloudError::not_found(CREATE, regional(source_region, source_id)))
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = CREATE.as_str(),
        resource = %regional(region, id),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn create_replica(
        &self,
        region: &str,
        id: &str,
        source_arn: &str,
        fence: &Fence,
    ) -> CloudResult<()> {
        let tags = creation_tags(fence)
            .into_iter()
            .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
            .collect();
        self.clients
            .get(region)
            .create_db_instance_read_replica()
            .db_instance_identifier(id)
            .source_db_instance_identifier(source_arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|err| classify(CREATE, regional(region, id), err))?;
        info!(
            db = id,
            source = source_arn,
            "cross-region read replica requested"
        );
        Ok(())
    }
}
