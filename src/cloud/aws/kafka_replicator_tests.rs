//! A reprotect's MSK Replicator calls against aws-smithy-mocks: what
//! CreateReplicator carries (each cluster's ARN and network settings,
//! every topic under its own name, consumer-group offsets synced), where
//! each call goes, and when nothing is sent.

use std::sync::{Arc, Mutex};

use aws_sdk_kafka::operation::create_replicator::{CreateReplicatorInput, CreateReplicatorOutput};
use aws_sdk_kafka::operation::describe_cluster_v2::DescribeClusterV2Output;
use aws_sdk_kafka::operation::describe_replicator::DescribeReplicatorOutput;
use aws_sdk_kafka::operation::list_replicators::ListReplicatorsOutput;
use aws_sdk_kafka::types::{
    AmazonMskCluster, BrokerNodeGroupInfo, Cluster, KafkaClusterDescription, Provisioned,
    ReplicationInfoDescription, ReplicationTopicNameConfigurationType, ReplicatorState as SdkState,
    ReplicatorSummary, TargetCompressionType,
};
use aws_sdk_kafka::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};

use super::KafkaAdapter;
use crate::cloud::aws::tests::{fence, mock_sdk_client, test_cloud};
use crate::cloud::aws::AwsCloud;
use crate::cloud::{ErrorKind, ReplicatorSpec, ReplicatorState, Stream};

const NAME: &str = "emr-platform-kafka-replicator-reverse";
const ARN: &str =
    "arn:aws:kafka:us-east-1:123456789012:replicator/emr-platform-kafka-replicator-reverse/r1";
const WEST: &str = "arn:aws:kafka:us-west-2:123456789012:cluster/emr-platform-kafka-dr/w1";
const EAST: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/emr-platform-kafka/e1";
const ROLE: &str = "arn:aws:iam::123456789012:role/msk-replicator";

fn spec() -> ReplicatorSpec {
    ReplicatorSpec {
        name: NAME.into(),
        source_cluster_arn: WEST.into(),
        target_cluster_arn: EAST.into(),
        service_execution_role_arn: ROLE.into(),
    }
}

fn listed(found: bool) -> Rule {
    mock!(Client::list_replicators)
        .match_requests(|req| req.replicator_name_filter() == Some(NAME))
        .then_output(move || {
            // The filter is a prefix: a longer name is listed too.
            let mut out = ListReplicatorsOutput::builder().replicators(
                ReplicatorSummary::builder()
                    .replicator_name(format!("{NAME}-old"))
                    .replicator_arn("arn:old")
                    .build(),
            );
            if found {
                out = out.replicators(
                    ReplicatorSummary::builder()
                        .replicator_name(NAME)
                        .replicator_arn(ARN)
                        .build(),
                );
            }
            out.build()
        })
}

fn described(source: &'static str, target: &'static str) -> Rule {
    let cluster = |alias: &str, arn: &str| {
        KafkaClusterDescription::builder()
            .kafka_cluster_alias(alias)
            .amazon_msk_cluster(AmazonMskCluster::builder().msk_cluster_arn(arn).build())
            .build()
    };
    mock!(Client::describe_replicator)
        .match_requests(|req| req.replicator_arn() == Some(ARN))
        .then_output(move || {
            DescribeReplicatorOutput::builder()
                .replicator_name(NAME)
                .replicator_arn(ARN)
                .replicator_state(SdkState::Running)
                .kafka_clusters(cluster("a", source))
                .kafka_clusters(cluster("b", target))
                .replication_info_list(
                    ReplicationInfoDescription::builder()
                        .source_kafka_cluster_alias("a")
                        .target_kafka_cluster_alias("b")
                        .build(),
                )
                .build()
        })
}

fn cluster_described() -> Rule {
    mock!(Client::describe_cluster_v2).then_output(|| {
        let brokers = BrokerNodeGroupInfo::builder()
            .client_subnets("subnet-a")
            .client_subnets("subnet-b")
            .security_groups("sg-1")
            .build();
        DescribeClusterV2Output::builder()
            .cluster_info(
                Cluster::builder()
                    .provisioned(
                        Provisioned::builder()
                            .broker_node_group_info(brokers)
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

/// Whether CreateReplicator carries what a failover-ready reverse
/// replicator needs.
fn carries_the_reverse_replication(req: &CreateReplicatorInput) -> bool {
    let clusters: Vec<_> = req
        .kafka_clusters()
        .iter()
        .map(|c| {
            let vpc = c.vpc_config().expect("a vpc config");
            (
                c.amazon_msk_cluster()
                    .and_then(|m| m.msk_cluster_arn())
                    .unwrap_or_default(),
                vpc.subnet_ids().to_vec(),
                vpc.security_group_ids().to_vec(),
            )
        })
        .collect();
    let subnets = vec!["subnet-a".to_string(), "subnet-b".to_string()];
    let groups = vec!["sg-1".to_string()];
    let [info] = req.replication_info_list() else {
        return false;
    };
    let topics = info.topic_replication().expect("topics");
    let consumers = info.consumer_group_replication().expect("groups");
    clusters
        == [
            (WEST, subnets.clone(), groups.clone()),
            (EAST, subnets, groups),
        ]
        && req.replicator_name() == Some(NAME)
        && req.service_execution_role_arn() == Some(ROLE)
        && req
            .tags()
            .is_some_and(|t| t.get("drctl:created-by").map(String::as_str) == Some("exec-test"))
        && info.source_kafka_cluster_arn() == Some(WEST)
        && info.target_kafka_cluster_arn() == Some(EAST)
        && info.target_compression_type() == Some(&TargetCompressionType::None)
        && topics.topics_to_replicate() == [".*"]
        && topics.topic_name_configuration().and_then(|c| c.r#type())
            == Some(&ReplicationTopicNameConfigurationType::Identical)
        && topics.copy_topic_configurations() == Some(true)
        && topics.copy_access_control_lists_for_topics() == Some(true)
        && topics.detect_and_copy_new_topics() == Some(true)
        && consumers.consumer_groups_to_replicate() == [".*"]
        && consumers.synchronise_consumer_group_offsets() == Some(true)
        && consumers.detect_and_copy_new_consumer_groups() == Some(true)
}

fn create() -> Rule {
    mock!(Client::create_replicator)
        .match_requests(carries_the_reverse_replication)
        .then_output(|| {
            CreateReplicatorOutput::builder()
                .replicator_arn(ARN)
                .build()
        })
}

fn cloud(client: Client) -> (AwsCloud, Arc<Mutex<Vec<String>>>) {
    let regions = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&regions);
    let adapter = KafkaAdapter::new(move |region| {
        seen.lock().expect("test lock").push(region.to_owned());
        client.clone()
    });
    (test_cloud().with_kafka(adapter), regions)
}

#[tokio::test]
async fn the_reverse_replicator_copies_every_topic_under_its_name_with_offsets() {
    let (list, clusters, create) = (listed(false), cluster_described(), create());
    let (cloud, regions) = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &clusters, &create]
    ));
    cloud
        .ensure_replicator("us-east-1", &spec(), &fence())
        .await
        .expect("requested");
    assert_eq!(
        (list.num_calls(), clusters.num_calls(), create.num_calls()),
        (1, 2, 1)
    );
    // Each cluster read in its own region; the replicator made in the target's.
    assert_eq!(
        *regions.lock().expect("test lock"),
        ["us-east-1", "us-west-2"]
    );
}

#[tokio::test]
async fn no_replicator_is_created_when_one_copies_the_same_way() {
    let (list, describe, create) = (listed(true), described(WEST, EAST), create());
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &describe, &create]
    ));
    cloud
        .ensure_replicator("us-east-1", &spec(), &fence())
        .await
        .expect("nothing to do");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_replicator_of_that_name_copying_the_other_way_is_a_conflict() {
    let (list, describe, create) = (listed(true), described(EAST, WEST), create());
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &describe, &create]
    ));
    let err = cloud
        .ensure_replicator("us-east-1", &spec(), &fence())
        .await
        .expect_err("other direction");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains(NAME), "{err}");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_replicator_reads_with_its_state_and_cluster_arns_or_as_none() {
    let (list, describe) = (listed(true), described(WEST, EAST));
    let (aws, _) = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &describe]
    ));
    let found = aws.get_replicator("us-east-1", NAME).await.expect("read");
    let want = ReplicatorState {
        name: NAME.into(),
        arn: ARN.into(),
        state: "RUNNING".into(),
        source_cluster_arn: WEST.into(),
        target_cluster_arn: EAST.into(),
    };
    assert_eq!(found, Some(want));
    let none = listed(false);
    let (cloud, _) = cloud(mock_sdk_client!(aws_sdk_kafka, RuleMode::MatchAny, [&none]));
    assert_eq!(
        cloud.get_replicator("us-east-1", NAME).await.expect("read"),
        None
    );
}
