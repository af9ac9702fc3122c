//! A reprotect's ElastiCache calls against aws-smithy-mocks: what
//! CreateGlobalReplicationGroup and CreateReplicationGroup carry, in which
//! region they are called, and when nothing is sent.

use std::sync::{Arc, Mutex};

use aws_sdk_elasticache::operation::create_global_replication_group::CreateGlobalReplicationGroupOutput;
use aws_sdk_elasticache::operation::create_replication_group::{
    CreateReplicationGroupError, CreateReplicationGroupOutput,
};
use aws_sdk_elasticache::operation::describe_global_replication_groups::DescribeGlobalReplicationGroupsOutput;
use aws_sdk_elasticache::operation::describe_replication_groups::{
    DescribeReplicationGroupsError, DescribeReplicationGroupsOutput,
};
use aws_sdk_elasticache::types::error::{
    ReplicationGroupAlreadyExistsFault, ReplicationGroupNotFoundFault,
};
use aws_sdk_elasticache::types::{
    GlobalReplicationGroup, GlobalReplicationGroupMember, ReplicationGroup,
};
use aws_sdk_elasticache::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::ElastiCacheAdapter;
use crate::cloud::aws::tests::{fence, mock_sdk_client, test_cloud};
use crate::cloud::aws::AwsCloud;
use crate::cloud::{Cache, ErrorKind};

const SUFFIX: &str = "emr-platform-redis";
const NEW_ID: &str = "ldgnf-emr-platform-redis";
const DR: &str = "emr-platform-redis-dr";
const NEW_MEMBER: &str = "emr-platform-redis-r1";

fn member(id: &str, region: &str, role: &str) -> GlobalReplicationGroupMember {
    GlobalReplicationGroupMember::builder()
        .replication_group_id(id)
        .replication_group_region(region)
        .role(role)
        .status("associated")
        .build()
}

fn datastore(id: &str, members: Vec<GlobalReplicationGroupMember>) -> GlobalReplicationGroup {
    GlobalReplicationGroup::builder()
        .global_replication_group_id(id)
        .status("available")
        .set_members(Some(members))
        .build()
}

/// DescribeGlobalReplicationGroups listing `groups` (all of them, with members).
fn list_returns(groups: Vec<GlobalReplicationGroup>) -> Rule {
    mock!(Client::describe_global_replication_groups)
        .match_requests(|req| req.show_member_info() == Some(true))
        .then_output(move || {
            DescribeGlobalReplicationGroupsOutput::builder()
                .set_global_replication_groups(Some(groups.clone()))
                .build()
        })
}

fn create_global() -> Rule {
    mock!(Client::create_global_replication_group)
        .match_requests(|req| {
            req.global_replication_group_id_suffix() == Some(SUFFIX)
                && req.primary_replication_group_id() == Some(DR)
        })
        .then_output(|| {
            CreateGlobalReplicationGroupOutput::builder()
                .global_replication_group(datastore(
                    NEW_ID,
                    vec![member(DR, "us-west-2", "PRIMARY")],
                ))
                .build()
        })
}

fn create_member() -> Rule {
    mock!(Client::create_replication_group)
        .match_requests(|req| {
            req.replication_group_id() == Some(NEW_MEMBER)
                && req.global_replication_group_id() == Some(NEW_ID)
                && req
                    .replication_group_description()
                    .is_some_and(|d| !d.is_empty())
        })
        .then_output(|| CreateReplicationGroupOutput::builder().build())
}

fn no_group() -> Rule {
    mock!(Client::describe_replication_groups).then_error(|| {
        DescribeReplicationGroupsError::ReplicationGroupNotFoundFault(
            ReplicationGroupNotFoundFault::builder()
                .message("not found")
                .meta(
                    ErrorMetadata::builder()
                        .code("ReplicationGroupNotFoundFault")
                        .build(),
                )
                .build(),
        )
    })
}

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
async fn a_standalone_member_becomes_the_primary_of_a_new_datastore() {
    let (list, create) = (list_returns(vec![]), create_global());
    let (cloud, regions) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&list, &create]
    ));
    let id = cloud
        .ensure_global_datastore("us-west-2", SUFFIX, DR, &fence())
        .await
        .expect("created");
    assert_eq!(id, NEW_ID);
    assert_eq!((list.num_calls(), create.num_calls()), (1, 1));
    assert_eq!(*regions.lock().expect("test lock"), ["us-west-2"]);
}

#[tokio::test]
async fn no_datastore_is_created_when_the_member_is_already_its_primary() {
    let made = datastore(
        NEW_ID,
        vec![
            member(DR, "us-west-2", "PRIMARY"),
            member(NEW_MEMBER, "us-east-1", "SECONDARY"),
        ],
    );
    let (list, create) = (list_returns(vec![made]), create_global());
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&list, &create]
    ));
    let id = cloud
        .ensure_global_datastore("us-west-2", SUFFIX, DR, &fence())
        .await
        .expect("found");
    assert_eq!(id, NEW_ID);
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_member_of_another_datastore_is_a_conflict_and_nothing_is_created() {
    let old = datastore(
        "ldgnf-other",
        vec![
            member("emr-platform-redis", "us-east-1", "PRIMARY"),
            member(DR, "us-west-2", "SECONDARY"),
        ],
    );
    let (list, create) = (list_returns(vec![old]), create_global());
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&list, &create]
    ));
    let err = cloud
        .ensure_global_datastore("us-west-2", SUFFIX, DR, &fence())
        .await
        .expect_err("a secondary elsewhere");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(
        err.message
            .contains("secondary member of Global Datastore ldgnf-other"),
        "{err}"
    );
    assert_eq!(create.num_calls(), 0);
}

fn describe_new(members: Vec<GlobalReplicationGroupMember>) -> Rule {
    mock!(Client::describe_global_replication_groups)
        .match_requests(|req| req.global_replication_group_id() == Some(NEW_ID))
        .then_output(move || {
            DescribeGlobalReplicationGroupsOutput::builder()
                .global_replication_groups(datastore(NEW_ID, members.clone()))
                .build()
        })
}

#[tokio::test]
async fn a_secondary_is_created_in_its_region_with_the_datastore_id() {
    let describe = describe_new(vec![member(DR, "us-west-2", "PRIMARY")]);
    let (missing, create) = (no_group(), create_member());
    let (cloud, regions) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &missing, &create]
    ));
    cloud
        .ensure_secondary_member(NEW_ID, "us-east-1", NEW_MEMBER, &fence())
        .await
        .expect("requested");
    assert_eq!(create.num_calls(), 1);
    assert!(regions
        .lock()
        .expect("test lock")
        .iter()
        .all(|r| r == "us-east-1"));
}

#[tokio::test]
async fn no_secondary_is_created_when_it_is_a_member_already() {
    let describe = describe_new(vec![
        member(DR, "us-west-2", "PRIMARY"),
        member(NEW_MEMBER, "us-east-1", "SECONDARY"),
    ]);
    let create = create_member();
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &create]
    ));
    cloud
        .ensure_secondary_member(NEW_ID, "us-east-1", NEW_MEMBER, &fence())
        .await
        .expect("nothing to do");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_group_of_that_name_outside_the_datastore_is_a_conflict() {
    let describe = describe_new(vec![member(DR, "us-west-2", "PRIMARY")]);
    let exists = mock!(Client::describe_replication_groups).then_output(|| {
        DescribeReplicationGroupsOutput::builder()
            .replication_groups(
                ReplicationGroup::builder()
                    .replication_group_id(NEW_MEMBER)
                    .status("available")
                    .build(),
            )
            .build()
    });
    let create = create_member();
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &exists, &create]
    ));
    let err = cloud
        .ensure_secondary_member(NEW_ID, "us-east-1", NEW_MEMBER, &fence())
        .await
        .expect_err("name taken");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(
        err.message
            .contains("emr-platform-redis-r1 already exists in us-east-1"),
        "{err}"
    );
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn a_creation_racing_another_is_a_conflict_to_read_again() {
    let describe = describe_new(vec![member(DR, "us-west-2", "PRIMARY")]);
    let missing = no_group();
    let create = mock!(Client::create_replication_group).then_error(|| {
        CreateReplicationGroupError::ReplicationGroupAlreadyExistsFault(
            ReplicationGroupAlreadyExistsFault::builder()
                .message("exists")
                .meta(
                    ErrorMetadata::builder()
                        .code("ReplicationGroupAlreadyExists")
                        .build(),
                )
                .build(),
        )
    });
    let (cloud, _) = cloud(mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &missing, &create]
    ));
    let err = cloud
        .ensure_secondary_member(NEW_ID, "us-east-1", NEW_MEMBER, &fence())
        .await
        .expect_err("raced");
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
}
