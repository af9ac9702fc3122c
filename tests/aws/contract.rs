//! Contract tests of the RDS, EKS and Route 53 adapters against a real moto
//! server, through the real AWS SDK.
//!
//! Run with moto started by `scripts/test.sh`, or by hand:
//! `python tests/moto/server.py 5555 &` then
//! `DRCTL_MOTO_ENDPOINT=http://127.0.0.1:5555 cargo test --test aws`.
//! Without `DRCTL_MOTO_ENDPOINT` every test panics: they never pass silently.
//! Each test seeds its own moto account, so they run in parallel.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::moto::*;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use drctl::cloud::aws::Route53Adapter;
use drctl::cloud::{
    ChangeStatus, Database, Dns, ErrorKind, NodeGroups, Record, RecordTarget, RecordType, Scaling,
};
use drctl::model::Fence;

/// The DR ALB the API record is flipped to.
const DR_ALB: &str = "emr-platform-alb-dr-987654321.us-west-2.elb.amazonaws.com";
/// The canonical hosted zone of ALBs in us-west-2.
const DR_ALB_ZONE: &str = "Z1H1FL5HABSF5";

fn fence() -> Fence {
    Fence {
        execution_id: "contract-test".into(),
        epoch: drctl::model::Epoch { term: 42, index: 1 },
    }
}

fn alias(dns_name: &str, hosted_zone_id: &str) -> Record {
    Record {
        name: API_RECORD.into(),
        target: RecordTarget::Alias {
            dns_name: dns_name.into(),
            hosted_zone_id: hosted_zone_id.into(),
        },
    }
}

#[tokio::test]
async fn promoting_the_dr_replica_makes_it_standalone_once() {
    let moto = Moto::isolated();
    let primary_arn = seed_database(&moto).await.expect("seeded");
    let cloud = moto.cloud();

    let replica = cloud.get_database(DR_REGION, DR_DB).await.expect("read");
    let replica = replica.expect("the replica exists");
    assert_eq!(
        replica.replica_source.as_deref(),
        Some(primary_arn.as_str())
    );
    assert!(replica.is_available() && !replica.is_promoted());

    moto.take_calls();
    cloud
        .ensure_promoted(DR_REGION, DR_DB, &fence())
        .await
        .expect("promoted");
    assert_eq!(
        moto.take_calls(),
        ["DescribeDBInstances", "PromoteReadReplica"]
    );

    let promoted = cloud.get_database(DR_REGION, DR_DB).await.expect("read");
    let promoted = promoted.expect("still exists");
    assert!(promoted.is_promoted(), "{promoted:?}");
    let primary = moto
        .rds(PRIMARY_REGION)
        .describe_db_instances()
        .db_instance_identifier(PRIMARY_DB)
        .send()
        .await
        .expect("primary described");
    let links = primary.db_instances()[0].read_replica_db_instance_identifiers();
    assert!(links.is_empty(), "source still lists {links:?}");

    moto.take_calls();
    cloud
        .ensure_promoted(DR_REGION, DR_DB, &fence())
        .await
        .expect("already promoted");
    assert_eq!(
        moto.take_calls(),
        ["DescribeDBInstances"],
        "no second promotion"
    );
}

#[tokio::test]
async fn fencing_the_old_primary_tags_and_renames_it_once() {
    let moto = Moto::isolated();
    seed_database(&moto).await.expect("seeded");
    let cloud = moto.cloud();
    cloud
        .ensure_promoted(DR_REGION, DR_DB, &fence())
        .await
        .expect("promoted");
    let renamed = drctl::cloud::fenced_identifier(PRIMARY_DB, "contract-test");
    let tags = vec![
        (
            drctl::cloud::FENCED_BY_TAG.to_string(),
            "contract-test".to_string(),
        ),
        (
            drctl::cloud::FENCED_EPOCH_TAG.to_string(),
            "42.1".to_string(),
        ),
    ];

    moto.take_calls();
    cloud
        .ensure_renamed(PRIMARY_REGION, PRIMARY_DB, &renamed, &tags, &fence())
        .await
        .expect("fenced");
    assert_eq!(
        moto.take_calls(),
        [
            "DescribeDBInstances",
            "AddTagsToResource",
            "ModifyDBInstance"
        ]
    );
    let old = cloud
        .get_database(PRIMARY_REGION, PRIMARY_DB)
        .await
        .expect("read");
    assert_eq!(old, None, "the old name no longer answers");
    let fenced = cloud
        .get_database(PRIMARY_REGION, &renamed)
        .await
        .expect("read")
        .expect("renamed instance");
    assert_eq!(
        fenced
            .tags
            .get(drctl::cloud::FENCED_BY_TAG)
            .map(String::as_str),
        Some("contract-test"),
        "{fenced:?}"
    );
    assert_eq!(
        fenced
            .tags
            .get(drctl::cloud::FENCED_EPOCH_TAG)
            .map(String::as_str),
        Some("42.1")
    );

    moto.take_calls();
    cloud
        .ensure_renamed(PRIMARY_REGION, PRIMARY_DB, &renamed, &tags, &fence())
        .await
        .expect("fenced already");
    assert_eq!(
        moto.take_calls(),
        ["DescribeDBInstances", "DescribeDBInstances"],
        "no second rename"
    );
}

#[tokio::test]
async fn an_unknown_database_reads_as_none_and_is_not_found_for_promotion() {
    let moto = Moto::isolated();
    let cloud = moto.cloud();

    assert_eq!(
        cloud
            .get_database(DR_REGION, "no-such-db")
            .await
            .expect("read"),
        None
    );
    let err = cloud
        .ensure_promoted(DR_REGION, "no-such-db", &fence())
        .await
        .expect_err("nothing to promote");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(!moto.take_calls().contains(&"PromoteReadReplica".to_owned()));
}

#[tokio::test]
async fn scaling_a_node_group_updates_it_once() {
    let moto = Moto::isolated();
    seed_node_groups(&moto).await.expect("seeded");
    let cloud = moto.cloud();
    let production = Scaling {
        min: 3,
        desired: 6,
        max: 20,
    };

    let before = cloud
        .get_node_group(DR_REGION, DR_CLUSTER, "app-nodes")
        .await;
    let before = before.expect("read").expect("exists");
    assert_eq!(before.status, "ACTIVE");
    assert_eq!(before.scaling, NODE_GROUPS[1].1);

    moto.take_calls();
    cloud
        .ensure_scaling(DR_REGION, DR_CLUSTER, "app-nodes", production, &fence())
        .await
        .expect("scaled");
    assert_eq!(
        moto.take_calls(),
        ["DescribeNodegroup", "UpdateNodegroupConfig"]
    );

    let after = cloud
        .get_node_group(DR_REGION, DR_CLUSTER, "app-nodes")
        .await;
    assert!(after.expect("read").expect("exists").is_at(production));
    let other = cloud
        .get_node_group(DR_REGION, DR_CLUSTER, "system-nodes")
        .await;
    assert_eq!(
        other.expect("read").expect("exists").scaling,
        NODE_GROUPS[0].1
    );

    moto.take_calls();
    cloud
        .ensure_scaling(DR_REGION, DR_CLUSTER, "app-nodes", production, &fence())
        .await
        .expect("nothing to do");
    assert_eq!(moto.take_calls(), ["DescribeNodegroup"], "no second update");
}

#[tokio::test]
async fn unknown_node_groups_and_clusters_read_as_none() {
    let moto = Moto::isolated();
    seed_node_groups(&moto).await.expect("seeded");
    let cloud = moto.cloud();

    let missing_group = cloud
        .get_node_group(DR_REGION, DR_CLUSTER, "gpu-nodes")
        .await;
    assert_eq!(missing_group.expect("read"), None);
    let missing_cluster = cloud
        .get_node_group(DR_REGION, "no-cluster", "app-nodes")
        .await;
    assert_eq!(missing_cluster.expect("read"), None);
    let err = cloud
        .ensure_scaling(
            DR_REGION,
            DR_CLUSTER,
            "gpu-nodes",
            NODE_GROUPS[0].1,
            &fence(),
        )
        .await
        .expect_err("nothing to scale");
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn flipping_the_api_record_to_dr_is_one_change_then_nothing() {
    let moto = Moto::isolated();
    seed_dns(&moto).await.expect("seeded");
    let cloud = moto.cloud();

    let current = cloud.get_record(ZONE, API_RECORD, RecordType::A).await;
    assert_eq!(
        current.expect("read"),
        Some(alias(PRIMARY_ALB, PRIMARY_ALB_ZONE))
    );

    let dr = alias(DR_ALB, DR_ALB_ZONE);
    moto.take_calls();
    let change = cloud
        .ensure_record(ZONE, &dr, &fence())
        .await
        .expect("flipped");
    let change = change.expect("a change was sent");
    assert!(!change.0.starts_with("/change/"), "{change}");
    assert!(moto
        .take_calls()
        .contains(&"ChangeResourceRecordSets".to_owned()));

    // A trailing dot on the zone name is tolerated.
    let now = cloud
        .get_record("emr-platform.com.", API_RECORD, RecordType::A)
        .await;
    assert_eq!(now.expect("read"), Some(dr.clone()));
    assert_eq!(
        cloud.get_change(&change).await.expect("read"),
        ChangeStatus::InSync
    );

    moto.take_calls();
    let again = cloud
        .ensure_record(ZONE, &dr, &fence())
        .await
        .expect("checked");
    assert_eq!(again, None);
    assert!(!moto
        .take_calls()
        .contains(&"ChangeResourceRecordSets".to_owned()));
}

/// Another writer: just before the adapter's first change batch is sent, it
/// points the API record somewhere else, as a concurrent operator would.
#[derive(Debug)]
struct ChangeUnderneath {
    moto: Moto,
    fired: AtomicBool,
}

impl Intercept for ChangeUnderneath {
    fn name(&self) -> &'static str {
        "ChangeUnderneath"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let is_change = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == "ChangeResourceRecordSets");
        if is_change && !self.fired.swap(true, Ordering::SeqCst) {
            // Interceptors are synchronous: run the other writer on its own
            // thread and runtime and wait for it.
            let moto = self.moto.clone();
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(async {
                        let other = alias("someone-else.example.com", "ZOTHER");
                        let fence = Fence {
                            execution_id: "other-writer".into(),
                            epoch: drctl::model::Epoch::default(),
                        };
                        moto.cloud().ensure_record(ZONE, &other, &fence).await
                    })
            })
            .join()
            .expect("other writer thread")
            .expect("other writer changed the record");
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_record_changed_underneath_fails_the_compare_and_set_with_conflict() {
    let moto = Moto::isolated();
    seed_dns(&moto).await.expect("seeded");
    let racer = ChangeUnderneath {
        moto: moto.clone(),
        fired: AtomicBool::new(false),
    };
    let cloud = moto
        .cloud()
        .with_route53(Route53Adapter::new(moto.route53_with(racer)));
    let dr = alias(DR_ALB, DR_ALB_ZONE);

    let err = cloud
        .ensure_record(ZONE, &dr, &fence())
        .await
        .expect_err("the record changed between read and write");
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    let kept = cloud.get_record(ZONE, API_RECORD, RecordType::A).await;
    assert_eq!(
        kept.expect("read"),
        Some(alias("someone-else.example.com", "ZOTHER")),
        "the other writer's change is not overwritten"
    );

    // The executor's retry reads the new value and converges.
    let retried = cloud
        .ensure_record(ZONE, &dr, &fence())
        .await
        .expect("retried");
    assert!(retried.is_some());
    let now = cloud.get_record(ZONE, API_RECORD, RecordType::A).await;
    assert_eq!(now.expect("read"), Some(dr));
}

#[tokio::test]
async fn missing_zones_are_not_found_and_missing_records_are_created() {
    let moto = Moto::isolated();
    seed_dns(&moto).await.expect("seeded");
    let cloud = moto.cloud();

    let err = cloud
        .get_record("no-such-zone.example", API_RECORD, RecordType::A)
        .await
        .expect_err("no zone");
    assert_eq!(err.kind, ErrorKind::NotFound);
    let name = "kafka.emr-platform.com";
    let absent = cloud.get_record(ZONE, name, RecordType::Cname).await;
    assert_eq!(absent.expect("read"), None);

    let cname = Record {
        name: name.into(),
        target: RecordTarget::Cname {
            value: "b-1.emr-platform-kafka-dr.us-west-2.amazonaws.com".into(),
            ttl: 60,
        },
    };
    let created = cloud
        .ensure_record(ZONE, &cname, &fence())
        .await
        .expect("created");
    assert!(created.is_some());
    let read = cloud.get_record(ZONE, name, RecordType::Cname).await;
    assert_eq!(read.expect("read"), Some(cname.clone()));
    let again = cloud
        .ensure_record(ZONE, &cname, &fence())
        .await
        .expect("checked");
    assert_eq!(again, None);
}

#[tokio::test]
async fn the_whole_core_platform_seeds_into_one_account() {
    let moto = Moto::isolated();
    let platform = seed_core_platform(&moto).await.expect("seeded");
    let cloud = moto.cloud();

    let replica = cloud.get_database(DR_REGION, DR_DB).await.expect("read");
    assert_eq!(
        replica.and_then(|db| db.replica_source),
        Some(platform.primary_db_arn)
    );
    for (name, scaling) in NODE_GROUPS {
        let group = cloud.get_node_group(DR_REGION, DR_CLUSTER, name).await;
        assert_eq!(
            group.expect("read").map(|g| g.scaling),
            Some(scaling),
            "{name}"
        );
    }
    let record = cloud.get_record(ZONE, API_RECORD, RecordType::A).await;
    assert_eq!(
        record.expect("read"),
        Some(alias(PRIMARY_ALB, PRIMARY_ALB_ZONE))
    );
    assert!(!platform.zone_id.starts_with("/hostedzone/"));
}

#[tokio::test]
async fn an_assumed_role_reaches_its_account_without_the_account_header() {
    // What the end-to-end test relies on to run the binary in its own account.
    let moto = Moto::isolated();
    seed_core_platform(&moto).await.expect("seeded");
    let (bare, _) = moto.assumed().await;
    let read = bare.cloud().get_database(DR_REGION, DR_DB).await;
    assert!(read.expect("moto answered").is_some(), "the seeded replica");
    assert_eq!(bare.take_calls(), ["DescribeDBInstances"]);
    // Another account does not see it: the credentials chose the account.
    let other = Moto::isolated().assumed().await.0;
    let read = other.cloud().get_database(DR_REGION, DR_DB).await;
    assert_eq!(read.expect("moto answered"), None);
}
