//! RDS promotion decisions against aws-smithy-mocks: moto has no status
//! transitions (every instance is `available`), so a replica that is busy
//! can only be shown here.

use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaOutput;
use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};

use super::RdsAdapter;
use crate::cloud::aws::tests::{fence, mock_sdk_client, test_cloud};
use crate::cloud::aws::AwsCloud;
use crate::cloud::{Database, ErrorKind};

const DR: &str = "emr-platform-prod-dr";

fn describe_returns(status: &'static str) -> Rule {
    mock!(Client::describe_db_instances)
        .match_requests(|req| req.db_instance_identifier() == Some(DR))
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder()
                        .db_instance_identifier(DR)
                        .db_instance_status(status)
                        .read_replica_source_db_instance_identifier(
                            "arn:aws:rds:us-east-1:123456789012:db:emr-platform-prod",
                        )
                        .build(),
                )
                .build()
        })
}

fn promote() -> Rule {
    mock!(Client::promote_read_replica)
        .match_requests(|req| req.db_instance_identifier() == Some(DR))
        .then_output(|| PromoteReadReplicaOutput::builder().build())
}

fn cloud(client: Client) -> AwsCloud {
    test_cloud().with_rds(RdsAdapter::new(move |_| client.clone()))
}

#[tokio::test]
async fn a_busy_replica_is_a_conflict_to_wait_out_and_nothing_is_assumed_in_flight() {
    for status in ["backing-up", "modifying", "storage-optimization"] {
        let describe = describe_returns(status);
        let promote = promote();
        let cloud = cloud(mock_sdk_client!(
            aws_sdk_rds,
            RuleMode::MatchAny,
            [&describe, &promote]
        ));
        let e = cloud
            .ensure_promoted("us-west-2", DR, &fence())
            .await
            .expect_err("not promotable yet");
        assert_eq!(e.kind, ErrorKind::Conflict, "{status}: {e}");
        assert!(e.message.contains(status), "{e}");
        assert_eq!(promote.num_calls(), 0, "{status}");
    }
}

#[tokio::test]
async fn an_available_replica_is_promoted_and_a_broken_one_is_fatal() {
    let describe = describe_returns("available");
    let promote = promote();
    let cloud1 = cloud(mock_sdk_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&describe, &promote]
    ));
    cloud1
        .ensure_promoted("us-west-2", DR, &fence())
        .await
        .expect("promoted");
    assert_eq!(promote.num_calls(), 1);
    let describe = describe_returns("incompatible-parameters");
    let promote = self::promote();
    let cloud2 = cloud(mock_sdk_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&describe, &promote]
    ));
    let e = cloud2
        .ensure_promoted("us-west-2", DR, &fence())
        .await
        .expect_err("cannot be promoted");
    assert_eq!(e.kind, ErrorKind::Fatal, "{e}");
    assert_eq!(promote.num_calls(), 0);
}
