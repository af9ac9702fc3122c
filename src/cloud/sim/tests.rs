//! The simulated cloud behaves like AWS: transitions take modeled time,
//! faults fire as configured, Route 53 throttles, mutations are counted.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::cloud::{ChangeStatus, Database, Dns, NodeGroups, Record, RecordTarget, Scaling};
use crate::model::Fence;
use crate::model::Op;

fn policy() -> Policy {
    crate::policy::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform-core.yaml"),
    )
    .unwrap()
}

fn fence() -> Fence {
    Fence {
        execution_id: "t".into(),
        epoch: crate::model::Epoch::default(),
    }
}

fn sim(faults: Vec<Fault>) -> SimCloud {
    SimCloud::new(
        &policy(),
        SimOptions {
            seed: 1,
            faults,
            ..SimOptions::default()
        },
    )
    .unwrap()
}

fn fault(kind: FaultKind, op: Op) -> Fault {
    Fault {
        fault: kind,
        op: op.to_string(),
        resource: None,
        times: None,
        error: None,
        extra: None,
        status: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_promotion_takes_the_modeled_time_and_is_counted_once() {
    let s = sim(vec![]);
    s.ensure_promoted("us-west-2", "emr-platform-prod-dr", &fence())
        .await
        .unwrap();
    let db = s
        .get_database("us-west-2", "emr-platform-prod-dr")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(db.status, "modifying");
    assert!(db.replica_source.is_some());
    // A second call while in flight sends nothing.
    s.ensure_promoted("us-west-2", "emr-platform-prod-dr", &fence())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(301)).await;
    let db = s
        .get_database("us-west-2", "emr-platform-prod-dr")
        .await
        .unwrap()
        .unwrap();
    assert!(db.is_promoted());
    assert_eq!(s.mutations().get(Op::PromoteReadReplica.as_str()), Some(&1));
    let t = &s.transitions()[0];
    let took = t.completed.unwrap() - t.started;
    assert!(
        (Duration::from_secs(180)..=Duration::from_secs(300)).contains(&took),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn fail_faults_fire_the_given_number_of_times_with_the_given_kind() {
    let mut f = fault(FaultKind::Fail, Op::UpdateNodegroupConfig);
    f.times = Some(2);
    f.error = Some(ErrorKind::Conflict);
    let s = sim(vec![f]);
    let want = Scaling {
        min: 3,
        desired: 6,
        max: 20,
    };
    for _ in 0..2 {
        let e = s
            .ensure_scaling(
                "us-west-2",
                "emr-integration-dr",
                "app-nodes",
                want,
                &fence(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
    }
    s.ensure_scaling(
        "us-west-2",
        "emr-integration-dr",
        "app-nodes",
        want,
        &fence(),
    )
    .await
    .unwrap();
    assert_eq!(s.calls().get(Op::UpdateNodegroupConfig.as_str()), Some(&3));
    assert_eq!(
        s.mutations().get(Op::UpdateNodegroupConfig.as_str()),
        Some(&1)
    );
}

#[tokio::test(start_paused = true)]
async fn stuck_and_never_converging_changes_stay_transitional() {
    let mut stuck = fault(FaultKind::Stuck, Op::PromoteReadReplica);
    stuck.extra = Some("20m".into());
    let s = sim(vec![
        stuck,
        fault(FaultKind::NeverConverges, Op::ChangeResourceRecordSets),
    ]);
    s.ensure_promoted("us-west-2", "emr-platform-prod-dr", &fence())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(301)).await;
    assert!(!s
        .get_database("us-west-2", "emr-platform-prod-dr")
        .await
        .unwrap()
        .unwrap()
        .is_promoted());
    tokio::time::sleep(Duration::from_secs(20 * 60)).await;
    assert!(s
        .get_database("us-west-2", "emr-platform-prod-dr")
        .await
        .unwrap()
        .unwrap()
        .is_promoted());

    let want = Record {
        name: "api.emr-platform.com".into(),
        target: RecordTarget::Alias {
            dns_name: "dr.example.com".into(),
            hosted_zone_id: "Z1".into(),
        },
    };
    let change = s
        .ensure_record("emr-platform.com", &want, &fence())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(s.get_change(&change).await.unwrap(), ChangeStatus::Pending);
}

#[tokio::test(start_paused = true)]
async fn route53_throttles_above_five_calls_a_second() {
    let s = SimCloud::new(
        &policy(),
        SimOptions {
            latency: LatencyModel {
                api_call: Span {
                    min_ms: 0,
                    max_ms: 0,
                },
                ..LatencyModel::default()
            },
            ..SimOptions::default()
        },
    )
    .unwrap();
    let mut throttled = 0;
    for _ in 0..8 {
        if let Err(e) = s
            .get_record(
                "emr-platform.com",
                "api.emr-platform.com",
                crate::cloud::RecordType::A,
            )
            .await
        {
            assert_eq!(e.kind, ErrorKind::Throttled);
            throttled += 1;
        }
    }
    assert_eq!(throttled, 3);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(s
        .get_record(
            "emr-platform.com",
            "api.emr-platform.com",
            crate::cloud::RecordType::A
        )
        .await
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_record_sends_no_change_and_a_missing_zone_is_not_found() {
    let s = sim(vec![]);
    let current = s
        .get_record(
            "emr-platform.com",
            "api.emr-platform.com",
            crate::cloud::RecordType::A,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.ensure_record("emr-platform.com", &current, &fence())
            .await
            .unwrap(),
        None
    );
    assert!(s.mutations().is_empty());
    let e = s
        .get_record("nope.com", "x.nope.com", crate::cloud::RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[test]
fn a_removed_resource_is_gone_and_unknown_names_are_refused() {
    let s = sim(vec![]);
    assert!(s
        .remove("eks:us-west-2/emr-integration-dr/app-nodes")
        .is_ok());
    assert!(s
        .remove("eks:us-west-2/emr-integration-dr/app-nodes")
        .is_err());
    assert!(s
        .remove("route53:emr-platform.com/api.emr-platform.com")
        .is_ok());
    assert!(s.remove("nothing").is_err());
}

#[test]
fn faults_that_cannot_apply_are_rejected() {
    let mut stuck_read = fault(FaultKind::Stuck, Op::DescribeDbInstances);
    stuck_read.extra = Some("5m".into());
    let bad = SimCloud::new(
        &policy(),
        SimOptions {
            faults: vec![stuck_read],
            ..SimOptions::default()
        },
    );
    assert!(bad
        .unwrap_err()
        .contains("faults[0].op: rds:DescribeDBInstances changes nothing"));
    let no_duration = fault(FaultKind::Stuck, Op::PromoteReadReplica);
    assert!(no_duration
        .validate()
        .unwrap_err()
        .contains("for: a stuck or busy fault needs a duration"));
}

#[test]
fn an_isolated_primary_region_is_reached_from_inside_only() {
    let o = Outage {
        isolated: ["us-east-1".to_string()].into(),
        primary_region: "us-east-1".into(),
        ..Outage::default()
    };
    assert_eq!(o.reach("us-east-1"), Ok(()));
    assert!(o.reach("us-west-2").unwrap_err().contains("partitioned"));
    assert!(o.reach("us-east-2").is_err());
    let witness_alone = Outage {
        isolated: ["us-east-2".to_string()].into(),
        primary_region: "us-east-1".into(),
        ..Outage::default()
    };
    assert_eq!(witness_alone.reach("us-west-2"), Ok(()));
    assert!(witness_alone.reach("us-east-2").is_err());
}

#[test]
fn a_partition_cuts_the_links_of_the_isolated_site_both_ways_only() {
    use crate::consensus::network::Links;
    use crate::consensus::Member;
    let member = |site: &str| Member {
        site: site.into(),
        addr: String::new(),
        witness: false,
    };
    let members = [
        (1, member("us-east-1")),
        (2, member("us-west-2")),
        (3, member("us-east-2")),
    ]
    .into();
    let links = Links::default();
    links.partition(&members, &["us-east-1".to_string()].into());
    assert!(!links.up(1, 2) && !links.up(2, 1) && !links.up(1, 3) && !links.up(3, 1));
    assert!(links.up(2, 3) && links.up(3, 2));
    links.partition(&members, &Default::default());
    assert!(links.up(1, 2) && links.up(2, 1));
}

#[test]
fn debug_of_a_backing_server_shows_neither_its_password_nor_its_url_password() {
    let b = Backing {
        postgres: Some(BackingServer {
            replica: "postgresql://drctl:hunter2@db/app".into(),
            password: Some("hunter3".into()),
        }),
        redis: None,
    };
    let shown = format!("{b:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("hunter3"),
        "{shown}"
    );
    assert!(shown.contains("drctl:***@db/app"), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn a_busy_fault_switched_on_mid_run_refuses_promotion_for_its_length_from_then() {
    let s = sim(vec![]);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let busy = Fault {
        extra: Some("30s".into()),
        status: Some("backing-up".into()),
        ..fault(FaultKind::Busy, Op::PromoteReadReplica)
    };
    s.inject(busy).unwrap();
    let db = s
        .get_database("us-west-2", "emr-platform-prod-dr")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(db.status, "backing-up");
    let err = s
        .ensure_promoted("us-west-2", "emr-platform-prod-dr", &fence())
        .await
        .unwrap_err();
    assert_eq!(err.kind, crate::cloud::ErrorKind::Conflict, "{err}");
    assert_eq!(s.refused_log().len(), 1);
    assert!(s.mutation_log().is_empty());
    // Its 30 s count from when it was switched on, not from the start.
    tokio::time::sleep(Duration::from_secs(31)).await;
    s.ensure_promoted("us-west-2", "emr-platform-prod-dr", &fence())
        .await
        .unwrap();
}
