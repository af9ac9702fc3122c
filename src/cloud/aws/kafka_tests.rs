//! MSK adapter against aws-smithy-mocks (moto does not serve MSK's
//! ListClustersV2 with bootstrap brokers for our purposes): name matching,
//! paging, broker parsing and error classification.

use aws_sdk_kafka::operation::get_bootstrap_brokers::{
    GetBootstrapBrokersError, GetBootstrapBrokersOutput,
};
use aws_sdk_kafka::operation::list_clusters_v2::{ListClustersV2Error, ListClustersV2Output};
use aws_sdk_kafka::types::{Cluster, ClusterState};
use aws_sdk_kafka::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::{hosts, KafkaAdapter};
use crate::cloud::aws::tests::{mock_sdk_client, test_cloud};
use crate::cloud::aws::AwsCloud;
use crate::cloud::{ErrorKind, Stream, StreamClusterState};

const DR: &str = "emr-platform-kafka-dr";
const DR_ARN: &str = "arn:aws:kafka:us-west-2:123456789012:cluster/emr-platform-kafka-dr/abc";

fn cluster(name: &str, arn: &str, state: ClusterState) -> Cluster {
    Cluster::builder()
        .cluster_name(name)
        .cluster_arn(arn)
        .state(state)
        .build()
}

/// The name filter is a prefix: `emr-platform-kafka-dr-old` matches too.
fn list_returns(state: ClusterState) -> Rule {
    mock!(Client::list_clusters_v2)
        .match_requests(|req| req.cluster_name_filter() == Some(DR))
        .then_output(move || {
            ListClustersV2Output::builder()
                .cluster_info_list(cluster(
                    "emr-platform-kafka-dr-old",
                    "arn:old",
                    ClusterState::Active,
                ))
                .cluster_info_list(cluster(DR, DR_ARN, state.clone()))
                .build()
        })
}

fn brokers_return(output: fn() -> GetBootstrapBrokersOutput) -> Rule {
    mock!(Client::get_bootstrap_brokers)
        .match_requests(|req| req.cluster_arn() == Some(DR_ARN))
        .then_output(output)
}

fn cloud(client: Client) -> AwsCloud {
    test_cloud().with_kafka(KafkaAdapter::new(move |_| client.clone()))
}

#[tokio::test]
async fn finds_the_exact_name_and_its_sorted_iam_brokers() {
    let list = list_returns(ClusterState::Active);
    let brokers = brokers_return(|| {
        GetBootstrapBrokersOutput::builder()
            .bootstrap_broker_string_sasl_iam(
                "b-2.dr.kafka.us-west-2.amazonaws.com:9098,b-1.dr.kafka.us-west-2.amazonaws.com:9098",
            )
            .bootstrap_broker_string_tls("b-1.dr.kafka.us-west-2.amazonaws.com:9094")
            .build()
    });
    let cloud = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &brokers]
    ));

    let found = cloud
        .get_stream_cluster("us-west-2", DR)
        .await
        .expect("read");

    assert_eq!(
        found,
        Some(StreamClusterState {
            name: DR.into(),
            arn: DR_ARN.into(),
            state: "ACTIVE".into(),
            bootstrap_hosts: vec![
                "b-1.dr.kafka.us-west-2.amazonaws.com".into(),
                "b-2.dr.kafka.us-west-2.amazonaws.com".into(),
            ],
        })
    );
}

#[test]
fn falls_back_from_empty_iam_to_tls_then_plaintext() {
    let tls = GetBootstrapBrokersOutput::builder()
        .bootstrap_broker_string_sasl_iam("")
        .bootstrap_broker_string_tls("b-3.x:9094, b-1.x:9094")
        .bootstrap_broker_string("b-9.x:9092")
        .build();
    assert_eq!(hosts(&tls), ["b-1.x", "b-3.x"]);
    let plain = GetBootstrapBrokersOutput::builder()
        .bootstrap_broker_string("b-2.x:9092,b-2.x:9092")
        .build();
    assert_eq!(hosts(&plain), ["b-2.x"]);
    assert!(hosts(&GetBootstrapBrokersOutput::builder().build()).is_empty());
}

#[tokio::test]
async fn a_cluster_being_created_is_reported_without_asking_for_brokers() {
    let list = list_returns(ClusterState::Creating);
    let brokers = brokers_return(|| GetBootstrapBrokersOutput::builder().build());
    let cloud = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &brokers]
    ));

    let found = cloud
        .get_stream_cluster("us-west-2", DR)
        .await
        .expect("read");

    assert_eq!(found.map(|c| c.state), Some("CREATING".to_owned()));
    assert_eq!(brokers.num_calls(), 0);
}

#[tokio::test]
async fn follows_pages_and_reads_an_absent_name_as_none() {
    let list = mock!(Client::list_clusters_v2)
        .sequence()
        .output(|| {
            ListClustersV2Output::builder()
                .cluster_info_list(cluster(
                    "emr-platform-kafka-dr-old",
                    "arn:old",
                    ClusterState::Active,
                ))
                .next_token("page-2")
                .build()
        })
        .output(|| ListClustersV2Output::builder().build())
        .build();
    let cloud = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::Sequential,
        [&list]
    ));

    assert_eq!(
        cloud
            .get_stream_cluster("us-west-2", DR)
            .await
            .expect("read"),
        None
    );
    assert_eq!(list.num_calls(), 2);
}

#[tokio::test]
async fn a_cluster_deleted_between_the_calls_reads_as_none() {
    let list = list_returns(ClusterState::Active);
    let brokers = mock!(Client::get_bootstrap_brokers).then_error(|| {
        GetBootstrapBrokersError::generic(
            ErrorMetadata::builder()
                .code("NotFoundException")
                .message("cluster not found")
                .build(),
        )
    });
    let cloud = cloud(mock_sdk_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &brokers]
    ));

    assert_eq!(
        cloud
            .get_stream_cluster("us-west-2", DR)
            .await
            .expect("read"),
        None
    );
}

#[tokio::test]
async fn throttling_is_reported_as_throttled() {
    let list = mock!(Client::list_clusters_v2).then_error(|| {
        ListClustersV2Error::generic(
            ErrorMetadata::builder()
                .code("TooManyRequestsException")
                .message("Too Many Requests")
                .build(),
        )
    });
    let cloud = cloud(mock_sdk_client!(aws_sdk_kafka, RuleMode::MatchAny, [&list]));

    let err = cloud
        .get_stream_cluster("us-west-2", DR)
        .await
        .expect_err("throttled");

    assert_eq!(err.kind, ErrorKind::Throttled);
    assert_eq!(err.resource, format!("us-west-2/{DR}"));
    assert_eq!(list.num_calls(), 1, "the adapter itself never retries");
}
