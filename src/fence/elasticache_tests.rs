//! The ElastiCache fence against aws-smithy-mocks: the access string sent
//! by ModifyUser on fence, and the one restored on unfence.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_elasticache::operation::describe_users::{DescribeUsersError, DescribeUsersOutput};
use aws_sdk_elasticache::operation::modify_user::ModifyUserOutput;
use aws_sdk_elasticache::types::error::UserNotFoundFault;
use aws_sdk_elasticache::types::User;
use aws_sdk_elasticache::Client;
use aws_smithy_mocks::{mock, MockResponse, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;

use super::*;
use crate::cloud::aws::tests::mock_sdk_client;

const APP: &str = "emr-app";
const BEFORE: &str = "on ~app:* &* +@all -flushall";

/// Users as ElastiCache keeps them (id → access string, status), and the
/// access strings ModifyUser was sent, in order.
#[derive(Default)]
struct World {
    users: BTreeMap<String, (String, String)>,
    sent: Vec<String>,
}

/// Rules that serve DescribeUsers from `world` and apply ModifyUser to it;
/// a user changed by ModifyUser reads as `status` afterwards.
fn rules(world: &Arc<Mutex<World>>, status: &'static str) -> Vec<Rule> {
    let read = Arc::clone(world);
    let describe = mock!(Client::describe_users).then_compute_response(move |req| {
        let world = read.lock().expect("test lock");
        let id = req.user_id().expect("a user id");
        match world.users.get(id) {
            Some((access, status)) => MockResponse::Output(
                DescribeUsersOutput::builder()
                    .users(
                        User::builder()
                            .user_id(id)
                            .access_string(access)
                            .status(status)
                            .build(),
                    )
                    .build(),
            ),
            None => MockResponse::Error(DescribeUsersError::UserNotFoundFault(
                UserNotFoundFault::builder()
                    .message("User not found")
                    .meta(ErrorMetadata::builder().code("UserNotFound").build())
                    .build(),
            )),
        }
    });
    let write = Arc::clone(world);
    let modify = mock!(Client::modify_user).then_compute_output(move |req| {
        let mut world = write.lock().expect("test lock");
        let id = req.user_id().expect("a user id").to_owned();
        let access = req.access_string().expect("an access string").to_owned();
        world.sent.push(access.clone());
        world.users.insert(id, (access, status.to_owned()));
        ModifyUserOutput::builder().build()
    });
    vec![describe, modify]
}

fn world(users: &[(&str, &str)]) -> Arc<Mutex<World>> {
    let users = users
        .iter()
        .map(|(id, access)| (id.to_string(), (access.to_string(), "active".to_string())))
        .collect();
    Arc::new(Mutex::new(World {
        users,
        sent: Vec::new(),
    }))
}

fn fence_of(
    world: &Arc<Mutex<World>>,
    users: &[&str],
    status: &'static str,
) -> ElastiCacheUserFence {
    let client = mock_sdk_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        &rules(world, status)
    );
    let users = users.iter().map(|u| u.to_string()).collect();
    ElastiCacheUserFence::new(client, "us-east-1", users).expect("valid users")
}

#[tokio::test]
async fn fence_appends_deny_write_and_unfence_restores_the_access_string() {
    let world = world(&[(APP, BEFORE), ("emr-ro", "on ~* +@read -@write")]);
    // A user that already denies @write is left alone and not recorded.
    let read_only = fence_of(&world, &["emr-ro"], "active");
    assert_eq!(
        read_only.fence().await.unwrap(),
        FenceOutcome::unchanged("already fenced")
    );
    let fence = fence_of(&world, &[APP], "active");

    let outcome = fence.fence().await.expect("fenced");
    assert!(outcome.changed);
    assert_eq!(outcome.summary, "denied @write to emr-app (ModifyUser)");
    assert_eq!(
        outcome.restore,
        BTreeMap::from([(APP.into(), BEFORE.into())])
    );
    assert_eq!(world.lock().unwrap().sent, [format!("{BEFORE} -@write")]);
    assert_eq!(fence.state().await.unwrap(), FenceState::Fenced);

    let again = fence.fence().await.expect("fenced again");
    assert_eq!(again, FenceOutcome::unchanged("already fenced"));
    assert_eq!(world.lock().unwrap().sent.len(), 1, "no second ModifyUser");

    let unfence = fence_of(&world, &[APP], "active").with_restore(outcome.restore);
    let restored = unfence.unfence().await.expect("unfenced");
    assert!(restored.changed);
    assert_eq!(world.lock().unwrap().sent.last().unwrap(), BEFORE);
    assert_eq!(world.lock().unwrap().users[APP].0, BEFORE);
    assert_eq!(
        world.lock().unwrap().users["emr-ro"].0,
        "on ~* +@read -@write"
    );
    assert_eq!(
        unfence.unfence().await.unwrap(),
        FenceOutcome::unchanged("already unfenced")
    );
    assert_eq!(
        unfence.state().await.unwrap(),
        FenceState::Open {
            writers: vec!["emr-app can write".into()]
        }
    );
}

#[tokio::test]
async fn a_user_still_modifying_is_not_fenced_yet() {
    let world = world(&[(APP, BEFORE)]);
    let fence = fence_of(&world, &[APP], "modifying");
    fence.fence().await.expect("fenced");
    assert_eq!(
        fence.state().await.unwrap(),
        FenceState::Open {
            writers: vec!["emr-app is modifying: the fence has not reached it yet".into()]
        }
    );
}

#[tokio::test]
async fn unfence_without_a_recorded_access_string_refuses_naming_the_user() {
    let world = world(&[(APP, "on ~* +@all -@write")]);
    let fence = fence_of(&world, &[APP], "active");
    let err = fence.unfence().await.unwrap_err().to_string();
    assert_eq!(
        err,
        "elasticache us-east-1 user emr-app: denies @write but no access string from \
         before the fence was recorded: restore it by hand"
    );
    assert!(world.lock().unwrap().sent.is_empty());
}

#[tokio::test]
async fn an_unknown_user_is_named() {
    let world = world(&[]);
    let fence = fence_of(&world, &["ghost"], "active");
    let err = fence.fence().await.unwrap_err().to_string();
    assert_eq!(
        err,
        "elasticache us-east-1 user ghost: no such user \
         (elasticache:DescribeUsers: UserNotFound)"
    );
}
