//! The DR target-health and replicator reads against aws-smithy-mocks
//! (moto's ELBv2 reports no registered target's health from a health
//! check, and it does not serve MSK Replicator): the request each sends
//! and how its answer is read.

use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::{
    DescribeTargetHealthError, DescribeTargetHealthOutput,
};
use aws_sdk_elasticloadbalancingv2::types::{
    TargetHealth as SdkHealth, TargetHealthDescription, TargetHealthStateEnum,
};
use aws_sdk_kafka::operation::describe_replicator::DescribeReplicatorOutput;
use aws_sdk_kafka::operation::list_replicators::ListReplicatorsOutput;
use aws_sdk_kafka::types::{ReplicatorState, ReplicatorSummary};
use aws_smithy_mocks::{mock, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::DrHealthAdapter;
use crate::cloud::aws::tests::{mock_sdk_client, test_cloud};
use crate::cloud::aws::AwsCloud;
use crate::cloud::{DrHealth, TargetHealth};

const TG: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/emr-platform-dr/0123456789abcdef";
const REPLICATOR: &str = "emr-platform-kafka-replicator";
const REPLICATOR_ARN: &str =
    "arn:aws:kafka:us-west-2:123456789012:replicator/emr-platform-kafka-replicator/abc";

fn cloud(elbv2: Vec<Rule>, kafka: Vec<Rule>) -> AwsCloud {
    let e = mock_sdk_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, &elbv2);
    let k = mock_sdk_client!(aws_sdk_kafka, RuleMode::MatchAny, &kafka);
    test_cloud().with_dr_health(DrHealthAdapter::new(move |_| e.clone(), move |_| k.clone()))
}

fn target(state: TargetHealthStateEnum) -> TargetHealthDescription {
    TargetHealthDescription::builder()
        .target_health(SdkHealth::builder().state(state).build())
        .build()
}

#[tokio::test]
async fn target_health_counts_each_target_of_the_group_asked_for() {
    let rule = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .match_requests(|r| r.target_group_arn() == Some(TG))
        .then_output(|| {
            DescribeTargetHealthOutput::builder()
                .target_health_descriptions(target(TargetHealthStateEnum::Healthy))
                .target_health_descriptions(target(TargetHealthStateEnum::Unhealthy))
                .target_health_descriptions(target(TargetHealthStateEnum::Draining))
                .target_health_descriptions(target(TargetHealthStateEnum::Initial))
                .build()
        });
    let c = cloud(vec![rule], vec![]);
    let h = c.get_target_health("us-west-2", TG).await.unwrap();
    let want = TargetHealth {
        healthy: 1,
        unhealthy: 1,
        draining: 1,
        other: 1,
    };
    assert_eq!(h, Some(want));
}

#[tokio::test]
async fn a_missing_target_group_reads_as_absent_and_a_denied_read_as_an_error() {
    let missing = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .match_requests(|r| r.target_group_arn() == Some(TG))
        .then_error(|| {
            DescribeTargetHealthError::generic(
                ErrorMetadata::builder()
                    .code("TargetGroupNotFound")
                    .message("One or more target groups not found")
                    .build(),
            )
        });
    let c = cloud(vec![missing], vec![]);
    assert_eq!(c.get_target_health("us-west-2", TG).await.unwrap(), None);
    let denied =
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_error(|| {
            DescribeTargetHealthError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized")
                    .build(),
            )
        });
    let c = cloud(vec![denied], vec![]);
    let e = c.get_target_health("us-west-2", TG).await.unwrap_err();
    assert_eq!(e.op, "elasticloadbalancing:DescribeTargetHealth");
    assert!(e.resource.contains(TG), "{e}");
}

#[tokio::test]
async fn the_replicator_is_found_by_its_exact_name_and_described_by_arn() {
    let list = mock!(aws_sdk_kafka::Client::list_replicators)
        .match_requests(|r| r.replicator_name_filter() == Some(REPLICATOR))
        .then_output(|| {
            let summary = |name: &str, arn: &str| {
                ReplicatorSummary::builder()
                    .replicator_name(name)
                    .replicator_arn(arn)
                    .build()
            };
            ListReplicatorsOutput::builder()
                .replicators(summary("emr-platform-kafka-replicator-old", "arn:old"))
                .replicators(summary(REPLICATOR, REPLICATOR_ARN))
                .build()
        });
    let describe = mock!(aws_sdk_kafka::Client::describe_replicator)
        .match_requests(|r| r.replicator_arn() == Some(REPLICATOR_ARN))
        .then_output(|| {
            DescribeReplicatorOutput::builder()
                .replicator_state(ReplicatorState::Failed)
                .build()
        });
    let c = cloud(vec![], vec![list, describe]);
    let state = c
        .get_replicator_state("us-west-2", REPLICATOR)
        .await
        .unwrap();
    assert_eq!(state.as_deref(), Some("FAILED"));
}

#[tokio::test]
async fn a_replicator_no_list_names_is_absent() {
    let list = mock!(aws_sdk_kafka::Client::list_replicators)
        .then_output(|| ListReplicatorsOutput::builder().build());
    let c = cloud(vec![], vec![list]);
    let state = c
        .get_replicator_state("us-west-2", REPLICATOR)
        .await
        .unwrap();
    assert_eq!(state, None);
}
