//! Contract test of the reprotect's RDS call against a real moto server,
//! through the real AWS SDK: a cross-region read replica of the new
//! primary, made under the old primary's name in the old primary region.
//!
//! Run with moto started by `scripts/test.sh`, or by hand:
//! `python tests/moto/server.py 5555 &` then
//! `DRCTL_MOTO_ENDPOINT=http://127.0.0.1:5555 cargo test --test aws`.
//! Without `DRCTL_MOTO_ENDPOINT` every test panics: they never pass silently.

use crate::support::moto::*;
use drctl::cloud::{Database, ErrorKind, CREATED_BY_TAG, FENCED_EPOCH_TAG};
use drctl::model::Fence;

fn fence() -> Fence {
    Fence {
        execution_id: "reprotect-contract".into(),
        epoch: drctl::model::Epoch { term: 43, index: 2 },
    }
}

/// The ARN moto gives the DR instance.
async fn arn_of(moto: &Moto, region: &str, id: &str) -> String {
    let out = moto
        .rds(region)
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("described");
    out.db_instances()[0]
        .db_instance_arn()
        .expect("an ARN")
        .to_owned()
}

#[tokio::test]
async fn a_replica_of_the_new_primary_is_created_by_arn_once_under_the_old_name() {
    let moto = Moto::isolated();
    seed_database(&moto).await.expect("seeded");
    let cloud = moto.cloud();
    cloud
        .ensure_promoted(DR_REGION, DR_DB, &fence())
        .await
        .expect("promoted");

    // The old primary still holds its name: nothing is created.
    moto.take_calls();
    let err = cloud
        .ensure_read_replica(PRIMARY_REGION, PRIMARY_DB, DR_REGION, DR_DB, &fence())
        .await
        .expect_err("the name is taken");
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert!(
        err.message
            .contains("emr-platform-prod already exists in us-east-1"),
        "{err}"
    );
    assert_eq!(moto.take_calls(), ["DescribeDBInstances"]);

    let renamed = drctl::cloud::fenced_identifier(PRIMARY_DB, "reprotect-contract");
    cloud
        .ensure_renamed(PRIMARY_REGION, PRIMARY_DB, &renamed, &[], &fence())
        .await
        .expect("fenced");
    let source_arn = arn_of(&moto, DR_REGION, DR_DB).await;
    assert!(source_arn.contains(":us-west-2:"), "{source_arn}");

    moto.take_calls();
    cloud
        .ensure_read_replica(PRIMARY_REGION, PRIMARY_DB, DR_REGION, DR_DB, &fence())
        .await
        .expect("requested");
    assert_eq!(
        moto.take_calls(),
        [
            "DescribeDBInstances",
            "DescribeDBInstances",
            "CreateDBInstanceReadReplica"
        ]
    );
    let replica = cloud
        .get_database(PRIMARY_REGION, PRIMARY_DB)
        .await
        .expect("read")
        .expect("the new replica exists");
    // The source was named by its ARN, which carries its region.
    assert_eq!(
        replica.replica_source.as_deref(),
        Some(source_arn.as_str()),
        "{replica:?}"
    );
    assert!(replica.is_replica_of(DR_DB), "{replica:?}");
    assert_eq!(
        replica.tags.get(CREATED_BY_TAG).map(String::as_str),
        Some("reprotect-contract")
    );
    assert_eq!(
        replica.tags.get(FENCED_EPOCH_TAG).map(String::as_str),
        Some("43.2")
    );

    moto.take_calls();
    cloud
        .ensure_read_replica(PRIMARY_REGION, PRIMARY_DB, DR_REGION, DR_DB, &fence())
        .await
        .expect("made already");
    assert_eq!(
        moto.take_calls(),
        ["DescribeDBInstances"],
        "no second creation"
    );
}

#[tokio::test]
async fn a_missing_source_is_not_found_and_nothing_is_created() {
    let moto = Moto::isolated();
    let cloud = moto.cloud();
    moto.take_calls();
    let err = cloud
        .ensure_read_replica(PRIMARY_REGION, PRIMARY_DB, DR_REGION, DR_DB, &fence())
        .await
        .expect_err("no source");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(
        moto.take_calls(),
        ["DescribeDBInstances", "DescribeDBInstances"]
    );
}
