//! MSK Replicator: reading one by name and creating the reverse one a
//! reprotect needs.
//!
//! A replicator is found by name with ListReplicators (the name filter
//! matches by prefix), then read with DescribeReplicator, whose clusters
//! carry their ARNs and whose replication info names them by alias.
//! CreateReplicator needs each cluster's network settings (subnets and
//! security groups), read with DescribeClusterV2 in the cluster's own
//! region.

use aws_sdk_kafka::operation::describe_replicator::DescribeReplicatorOutput;
use aws_sdk_kafka::types::{
    AmazonMskCluster, ConsumerGroupReplication, KafkaCluster, KafkaClusterClientVpcConfig,
    ReplicationInfo, ReplicationTopicNameConfiguration, ReplicationTopicNameConfigurationType,
    TargetCompressionType, TopicReplication,
};
use tracing::{debug, info, instrument};

use super::super::error::{classify, none_if_not_found};
use super::super::regional;
use super::KafkaAdapter;
use crate::cloud::{
    creation_tags, CloudError, CloudResult, ErrorKind, ReplicatorSpec, ReplicatorState,
};
use crate::model::{Fence, Op};

const LIST: Op = Op::ListReplicators;
const DESCRIBE: Op = Op::DescribeReplicator;
const CLUSTER: Op = Op::DescribeClusterV2;
const CREATE: Op = Op::CreateReplicator;

use super::super::dr_health::REPLICATOR_PAGES_MAX;

/// Every topic, and every consumer group.
const ALL: &str = ".*";

impl KafkaAdapter {
    /// Reads the replicator named exactly `name` in `region`; `None` when
    /// there is none.
    ///
    /// # Errors
    ///
    /// Any failure of ListReplicators or DescribeReplicator other than
    /// "not found"; `Fatal` when the name matches more than
    /// [`REPLICATOR_PAGES_MAX`] pages.
    pub async fn get_replicator(
        &self,
        region: &str,
        name: &str,
    ) -> CloudResult<Option<ReplicatorState>> {
        let Some(arn) = self.replicator_arn(region, name).await? else {
            return Ok(None);
        };
        let described = self
            .clients
            .get(region)
            .describe_replicator()
            .replicator_arn(&arn)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE, regional(region, name), err));
        Ok(none_if_not_found(described)?.map(|out| replicator_state(name, &arn, &out)))
    }

    /// Creates the replicator `want` in `region` (the target cluster's):
    /// every topic under its own name, with its configuration and ACLs,
    /// and every consumer group with its offsets. No call when one with
    /// that name copies the same source to the same target.
    ///
    /// # Errors
    ///
    /// `Conflict` when a replicator of that name connects other clusters;
    /// `NotFound` when a cluster does not exist; `Fatal` when a cluster's
    /// network settings cannot be read; any failure of the calls.
    pub async fn ensure_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        fence: &Fence,
    ) -> CloudResult<()> {
        if let Some(found) = self.get_replicator(region, &want.name).await? {
            if found.connects(&want.source_cluster_arn, &want.target_cluster_arn) {
                debug!(replicator = %want.name, state = %found.state, "already exists; nothing sent");
                return Ok(());
            }
            return Err(CloudError::new(
                ErrorKind::Conflict,
                CREATE,
                regional(region, &want.name),
                format!(
                    "replicator {} exists in {region} copying {} to {}, not {} to {}",
                    want.name,
                    found.source_cluster_arn,
                    found.target_cluster_arn,
                    want.source_cluster_arn,
                    want.target_cluster_arn
                ),
            ));
        }
        let source = self.kafka_cluster(&want.source_cluster_arn).await?;
        let target = self.kafka_cluster(&want.target_cluster_arn).await?;
        self.create_replicator(region, want, [source, target], fence)
            .await
    }

    /// The ARN of the replicator named exactly `name`.
    #[instrument(name = "cloud", skip_all, fields(op = LIST.as_str(), resource = %regional(region, name)))]
    async fn replicator_arn(&self, region: &str, name: &str) -> CloudResult<Option<String>> {
        find_replicator_arn(&self.clients.get(region), region, name).await
    }

    /// The cluster `arn` as CreateReplicator takes it: its ARN and the
    /// subnets and security groups its brokers' clients use.
    #[instrument(name = "cloud", skip_all, fields(op = CLUSTER.as_str(), resource = %arn))]
    async fn kafka_cluster(&self, arn: &str) -> CloudResult<KafkaCluster> {
        let region = region_of(arn).ok_or_else(|| {
            CloudError::new(
                ErrorKind::Fatal,
                CREATE,
                arn,
                format!("{arn:?} is not an MSK cluster ARN (arn:aws:kafka:REGION:...)"),
            )
        })?;
        let described = self
            .clients
            .get(region)
            .describe_cluster_v2()
            .cluster_arn(arn)
            .send()
            .await
            .map_err(|err| classify(CLUSTER, arn, err));
        let out =
            none_if_not_found(described)?.ok_or_else(|| CloudError::not_found(CREATE, arn))?;
        let cluster = out.cluster_info();
        let provisioned = cluster
            .and_then(|c| c.provisioned())
            .and_then(|p| p.broker_node_group_info())
            .map(|b| (b.client_subnets().to_vec(), b.security_groups().to_vec()));
        let serverless = cluster
            .and_then(|c| c.serverless())
            .and_then(|s| s.vpc_configs().first())
            .map(|v| (v.subnet_ids().to_vec(), v.security_group_ids().to_vec()));
        let Some((subnets, groups)) = provisioned.or(serverless).filter(|(s, _)| !s.is_empty())
        else {
            return Err(CloudError::new(
                ErrorKind::Fatal,
                CLUSTER,
                arn,
                "DescribeClusterV2 names no client subnets for the cluster",
            ));
        };
        let vpc = KafkaClusterClientVpcConfig::builder()
            .set_subnet_ids(Some(subnets))
            .set_security_group_ids(Some(groups))
            .build();
        Ok(KafkaCluster::builder()
            .amazon_msk_cluster(AmazonMskCluster::builder().msk_cluster_arn(arn).build())
            .vpc_config(vpc)
            .build())
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = CREATE.as_str(),
        resource = %regional(region, &want.name),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn create_replicator(
        &self,
        region: &str,
        want: &ReplicatorSpec,
        clusters: [KafkaCluster; 2],
        fence: &Fence,
    ) -> CloudResult<()> {
        let mut create = self
            .clients
            .get(region)
            .create_replicator()
            .replicator_name(&want.name)
            .description(format!("drctl reprotect, execution {}", fence.execution_id))
            .set_kafka_clusters(Some(clusters.to_vec()))
            .replication_info_list(replication_info(want))
            .service_execution_role_arn(&want.service_execution_role_arn);
        for (k, v) in creation_tags(fence) {
            create = create.tags(k, v);
        }
        create
            .send()
            .await
            .map_err(|err| classify(CREATE, regional(region, &want.name), err))?;
        info!(replicator = %want.name, "replicator requested");
        Ok(())
    }
}

/// What the replicator copies: every topic under its own name (so that
/// consumers find the same names after a failover, as AWS recommends),
/// their configurations and ACLs, new topics as they appear, and every
/// consumer group with its committed offsets.
fn replication_info(want: &ReplicatorSpec) -> ReplicationInfo {
    let topics = TopicReplication::builder()
        .topics_to_replicate(ALL)
        .copy_topic_configurations(true)
        .copy_access_control_lists_for_topics(true)
        .detect_and_copy_new_topics(true)
        .topic_name_configuration(
            ReplicationTopicNameConfiguration::builder()
                .r#type(ReplicationTopicNameConfigurationType::Identical)
                .build(),
        )
        .build();
    let groups = ConsumerGroupReplication::builder()
        .consumer_groups_to_replicate(ALL)
        .synchronise_consumer_group_offsets(true)
        .detect_and_copy_new_consumer_groups(true)
        .build();
    ReplicationInfo::builder()
        .source_kafka_cluster_arn(&want.source_cluster_arn)
        .target_kafka_cluster_arn(&want.target_cluster_arn)
        .target_compression_type(TargetCompressionType::None)
        .topic_replication(topics)
        .consumer_group_replication(groups)
        .build()
}

/// The region of an ARN (`arn:aws:kafka:us-west-2:...`).
fn region_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.nth(2).filter(|r| !r.is_empty())
}

/// The replicator as DescribeReplicator shows it; its source and target
/// are the ARNs of the clusters its first replication names by alias.
fn replicator_state(name: &str, arn: &str, out: &DescribeReplicatorOutput) -> ReplicatorState {
    let arn_of = |alias: Option<&str>| {
        out.kafka_clusters()
            .iter()
            .find(|c| alias.is_some() && c.kafka_cluster_alias() == alias)
            .and_then(|c| c.amazon_msk_cluster())
            .and_then(|m| m.msk_cluster_arn())
            .unwrap_or_default()
            .to_owned()
    };
    let info = out.replication_info_list().first();
    ReplicatorState {
        name: name.to_owned(),
        arn: arn.to_owned(),
        state: out
            .replicator_state()
            .map_or("UNKNOWN", |s| s.as_str())
            .to_owned(),
        source_cluster_arn: arn_of(info.and_then(|i| i.source_kafka_cluster_alias())),
        target_cluster_arn: arn_of(info.and_then(|i| i.target_kafka_cluster_alias())),
    }
}

/// The ARN of the replicator named exactly `name` in `region`
/// (ListReplicators filtered by name, page by page), `None` when there is
/// none; more than [`REPLICATOR_PAGES_MAX`] pages of matches is an error.
pub(in crate::cloud::aws) async fn find_replicator_arn(
    client: &aws_sdk_kafka::Client,
    region: &str,
    name: &str,
) -> CloudResult<Option<String>> {
    let mut next_token: Option<String> = None;
    for _ in 0..REPLICATOR_PAGES_MAX {
        let out = client
            .list_replicators()
            .replicator_name_filter(name)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|err| classify(LIST, regional(region, name), err))?;
        let found = out
            .replicators()
            .iter()
            .find(|r| r.replicator_name() == Some(name))
            .and_then(|r| r.replicator_arn());
        if let Some(arn) = found {
            return Ok(Some(arn.to_owned()));
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => return Ok(None),
        }
    }
    Err(CloudError::new(
        ErrorKind::Fatal,
        LIST,
        regional(region, name),
        format!("more than {REPLICATOR_PAGES_MAX} pages of replicators match the name"),
    ))
}
