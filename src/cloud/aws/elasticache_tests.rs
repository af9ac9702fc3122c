//! ElastiCache adapter against aws-smithy-mocks: moto does not serve Global
//! Datastores, so these tests pin the response mapping and the decisions to
//! call FailoverGlobalReplicationGroup and DisassociateGlobalReplicationGroup.

use std::sync::{Arc, Mutex};

use aws_sdk_elasticache::operation::describe_global_replication_groups::{
    DescribeGlobalReplicationGroupsError, DescribeGlobalReplicationGroupsOutput,
};
use aws_sdk_elasticache::operation::failover_global_replication_group::FailoverGlobalReplicationGroupOutput;
use aws_sdk_elasticache::types::error::GlobalReplicationGroupNotFoundFault;
use aws_sdk_elasticache::types::{GlobalReplicationGroup, GlobalReplicationGroupMember};
use aws_sdk_elasticache::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::ElastiCacheAdapter;
use crate::cloud::aws::tests::{fence, mock_sdk_client, test_cloud};
use crate::cloud::aws::AwsCloud;
use crate::cloud::{Cache, CacheMember, ErrorKind, GlobalDatastoreState, MemberRole};

const ID: &str = "ldgnf-emr-platform-redis";
const PRIMARY: &str = "emr-platform-redis";
const DR: &str = "emr-platform-redis-dr";

fn member(id: &str, region: &str, role: &str) -> GlobalReplicationGroupMember {
    GlobalReplicationGroupMember::builder()
        .replication_group_id(id)
        .replication_group_region(region)
        .role(role)
        .status("associated")
        .build()
}

fn datastore(status: &str, dr_role: &str) -> GlobalReplicationGroup {
    let primary_role = if dr_role == "PRIMARY" {
        "SECONDARY"
    } else {
        "PRIMARY"
    };
    GlobalReplicationGroup::builder()
        .global_replication_group_id(ID)
        .status(status)
        .members(member(PRIMARY, "us-east-1", primary_role))
        .members(member(DR, "us-west-2", dr_role))
        .build()
}

fn describe_returns(status: &'static str, dr_role: &'static str) -> Rule {
    mock!(Client::describe_global_replication_groups)
        .match_requests(|req| {
            req.global_replication_group_id() == Some(ID) && req.show_member_info() == Some(true)
        })
        .then_output(move || {
            DescribeGlobalReplicationGroupsOutput::builder()
                .global_replication_groups(datastore(status, dr_role))
                .build()
        })
}

fn failover_to_dr() -> Rule {
    mock!(Client::failover_global_replication_group)
        .match_requests(|req| {
            req.global_replication_group_id() == Some(ID)
                && req.primary_region() == Some("us-west-2")
                && req.primary_replication_group_id() == Some(DR)
        })
        .then_output(|| FailoverGlobalReplicationGroupOutput::builder().build())
}

/// A cloud whose ElastiCache clients are `client`, recording the regions
/// the adapter asked a client for.
fn cloud(client: Client) -> (AwsCloud, Arc<Mutex<Vec<String>>>) {
    let regions = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&regions);
    let adapter = ElastiCacheAdapter::new(move |region| {
        seen.lock().expect("test lock").push(region.to_owned());
        client.clone()
    });
    (test_cloud().with_elasticache(adapter), regions)
}

#[tokio::test]
async fn describe_maps_the_datastore_and_its_members() {
    let describe = describe_returns("available", "SECONDARY");
    let (cloud, regions) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe]
    ));

    let state = cloud
        .get_global_datastore("us-west-2", ID)
        .await
        .expect("described");

    let expected = GlobalDatastoreState {
        id: ID.into(),
        status: "available".into(),
        members: vec![
            CacheMember {
                replication_group_id: PRIMARY.into(),
                region: "us-east-1".into(),
                role: MemberRole::Primary,
                status: "associated".into(),
            },
            CacheMember {
                replication_group_id: DR.into(),
                region: "us-west-2".into(),
                role: MemberRole::Secondary,
                status: "associated".into(),
            },
        ],
    };
    assert_eq!(state, Some(expected));
    // Read through the region asked for: the DR region, standing when us-east-1 is not.
    assert_eq!(*regions.lock().expect("test lock"), ["us-west-2"]);
}

#[tokio::test]
async fn an_unknown_datastore_reads_as_none() {
    let describe = mock!(Client::describe_global_replication_groups).then_error(|| {
        DescribeGlobalReplicationGroupsError::GlobalReplicationGroupNotFoundFault(
            GlobalReplicationGroupNotFoundFault::builder()
                .message("not found")
                .meta(
                    ErrorMetadata::builder()
                        .code("GlobalReplicationGroupNotFoundFault")
                        .build(),
                )
                .build(),
        )
    });
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe]
    ));

    assert_eq!(
        cloud
            .get_global_datastore("us-west-2", ID)
            .await
            .expect("not an error"),
        None
    );
}

#[tokio::test]
async fn fails_over_through_the_dr_region_when_the_member_is_secondary() {
    let describe = describe_returns("available", "SECONDARY");
    let failover = failover_to_dr();
    let (cloud, regions) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &failover]
    ));

    cloud
        .ensure_primary_member(ID, "us-west-2", DR, &fence())
        .await
        .expect("failover requested");

    assert_eq!(failover.num_calls(), 1);
    assert_eq!(*regions.lock().expect("test lock"), ["us-west-2"]);
}

#[tokio::test]
async fn sends_no_failover_when_the_member_is_already_primary() {
    let describe = describe_returns("available", "PRIMARY");
    let failover = failover_to_dr();
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &failover]
    ));

    cloud
        .ensure_primary_member(ID, "us-west-2", DR, &fence())
        .await
        .expect("nothing to do");

    assert_eq!(describe.num_calls(), 1);
    assert_eq!(failover.num_calls(), 0);
}

#[tokio::test]
async fn a_modifying_datastore_is_a_conflict_to_wait_out_not_a_failover_assumed() {
    let describe = describe_returns("modifying", "SECONDARY");
    let failover = failover_to_dr();
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &failover]
    ));

    let e = cloud
        .ensure_primary_member(ID, "us-west-2", DR, &fence())
        .await
        .expect_err("busy: the executor waits and asks again");

    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(e.message.contains("modifying"), "{e}");
    assert_eq!(failover.num_calls(), 0);
}

#[tokio::test]
async fn a_member_of_another_region_or_datastore_is_refused() {
    let describe = describe_returns("available", "SECONDARY");
    let failover = failover_to_dr();
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &failover]
    ));

    let wrong_region = cloud
        .ensure_primary_member(ID, "us-east-1", DR, &fence())
        .await
        .expect_err("DR member is not in us-east-1");
    assert_eq!(wrong_region.kind, ErrorKind::Fatal);
    let unknown = cloud
        .ensure_primary_member(ID, "us-west-2", "someone-else", &fence())
        .await
        .expect_err("not a member");
    assert_eq!(unknown.kind, ErrorKind::NotFound);
    assert_eq!(failover.num_calls(), 0);
}

#[tokio::test]
async fn throttling_is_reported_as_throttled() {
    let describe = mock!(Client::describe_global_replication_groups).then_error(|| {
        DescribeGlobalReplicationGroupsError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe]
    ));

    let err = cloud
        .ensure_primary_member(ID, "us-west-2", DR, &fence())
        .await
        .expect_err("throttled");

    assert_eq!(err.kind, ErrorKind::Throttled);
    assert_eq!(err.op, "elasticache:DescribeGlobalReplicationGroups");
    assert_eq!(describe.num_calls(), 1, "the adapter itself never retries");
}

fn replication_group_returns(info: Option<(&'static str, &'static str)>) -> Rule {
    mock!(Client::describe_replication_groups)
        .match_requests(|req| req.replication_group_id() == Some(DR))
        .then_output(move || {
            let mut group = aws_sdk_elasticache::types::ReplicationGroup::builder()
                .replication_group_id(DR)
                .status("available")
                .member_clusters(format!("{DR}-001"));
            if let Some((id, role)) = info {
                group = group.global_replication_group_info(
                    aws_sdk_elasticache::types::GlobalReplicationGroupInfo::builder()
                        .global_replication_group_id(id)
                        .global_replication_group_member_role(role)
                        .build(),
                );
            }
            aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput::builder()
                .replication_groups(group.build())
                .build()
        })
}

#[tokio::test]
async fn describe_replication_group_maps_its_global_datastore_membership() {
    let member = replication_group_returns(Some((ID, "SECONDARY")));
    let (member_cloud, regions) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&member]
    ));
    let state = member_cloud
        .get_replication_group("us-west-2", DR)
        .await
        .expect("described")
        .expect("present");
    assert_eq!(
        state,
        crate::cloud::ReplicationGroupState {
            id: DR.into(),
            status: "available".into(),
            global_datastore: Some(ID.into()),
            global_role: Some(MemberRole::Secondary),
        }
    );
    assert!(!state.serves_writes());
    assert_eq!(*regions.lock().expect("test lock"), ["us-west-2"]);

    let standalone = replication_group_returns(None);
    let (standalone_cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&standalone]
    ));
    let state = standalone_cloud
        .get_replication_group("us-west-2", DR)
        .await
        .expect("described")
        .expect("present");
    assert_eq!(state.global_datastore, None);
    assert!(state.serves_writes());
}

#[tokio::test]
async fn an_unknown_replication_group_reads_as_none() {
    let describe = mock!(Client::describe_replication_groups).then_error(|| {
        aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsError::ReplicationGroupNotFoundFault(
            aws_sdk_elasticache::types::error::ReplicationGroupNotFoundFault::builder()
                .message("not found")
                .meta(ErrorMetadata::builder().code("ReplicationGroupNotFoundFault").build())
                .build(),
        )
    });
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe]
    ));
    assert_eq!(
        cloud
            .get_replication_group("us-west-2", DR)
            .await
            .expect("read"),
        None
    );
}

fn disassociate_dr() -> Rule {
    mock!(Client::disassociate_global_replication_group)
        .match_requests(|req| {
            req.global_replication_group_id() == Some(ID)
                && req.replication_group_id() == Some(DR)
                && req.replication_group_region() == Some("us-west-2")
        })
        .then_output(|| {
            aws_sdk_elasticache::operation::disassociate_global_replication_group::DisassociateGlobalReplicationGroupOutput::builder().build()
        })
}

#[tokio::test]
async fn disassociates_the_dr_member_through_its_own_region() {
    let describe = describe_returns("primary-only", "SECONDARY");
    let disassociate = disassociate_dr();
    let (cloud, regions) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &disassociate]
    ));
    cloud
        .ensure_disassociated(ID, "us-west-2", DR, &fence())
        .await
        .expect("disassociated");
    assert_eq!(disassociate.num_calls(), 1);
    // Only the DR region's client: the primary region need not answer.
    assert!(regions
        .lock()
        .expect("test lock")
        .iter()
        .all(|r| r == "us-west-2"));
}

#[tokio::test]
async fn no_disassociation_is_sent_once_the_member_has_left() {
    let describe = mock!(Client::describe_global_replication_groups).then_output(|| {
        DescribeGlobalReplicationGroupsOutput::builder()
            .global_replication_groups(
                GlobalReplicationGroup::builder()
                    .global_replication_group_id(ID)
                    .status("primary-only")
                    .members(member(PRIMARY, "us-east-1", "PRIMARY"))
                    .build(),
            )
            .build()
    });
    let disassociate = disassociate_dr();
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &disassociate]
    ));
    cloud
        .ensure_disassociated(ID, "us-west-2", DR, &fence())
        .await
        .expect("nothing to do");
    assert_eq!(describe.num_calls(), 1);
    assert_eq!(disassociate.num_calls(), 0);
}
