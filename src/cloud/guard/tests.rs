//! The guard sends mutating calls only while the lease allows them, and
//! never stands in the way of reads.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::*;
use crate::cloud::sim::{SimCloud, SimOptions};
use crate::cloud::Scaling;
use crate::model::Epoch;

fn sim() -> Arc<SimCloud> {
    let policy = crate::policy::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform-core.yaml"),
    )
    .unwrap();
    Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap())
}

fn fence(term: u64) -> Fence {
    Fence {
        execution_id: "t".into(),
        epoch: Epoch { term, index: 9 },
    }
}

fn mutations(s: &SimCloud) -> u32 {
    s.mutations().values().sum()
}

#[tokio::test(start_paused = true)]
async fn a_lapsed_lease_refuses_every_mutating_call_without_sending_it() {
    let s = sim();
    let valid = Arc::new(AtomicBool::new(false));
    let v = valid.clone();
    let lease = move |_op: crate::model::Op, _f: &Fence| {
        if v.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err("lease lapsed".to_string())
        }
    };
    let g = Guarded::new(s.clone(), Arc::new(lease));
    let f = fence(3);
    let calls_before = s.calls();
    let e = g
        .ensure_promoted("us-west-2", "emr-platform-prod-dr", &f)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Retryable);
    assert!(e.message.contains("lease lapsed"), "{e}");
    let scaling = Scaling {
        min: 3,
        desired: 6,
        max: 20,
    };
    let ng = g
        .ensure_scaling("us-west-2", "emr-integration-dr", "app-nodes", scaling, &f)
        .await;
    assert!(ng.is_err());
    let ep = ClusterEndpoint {
        url: "https://a.example".into(),
        region: "us-west-2".into(),
    };
    let rc = g
        .update_routing_control_states(&ep, &[("arn:x".into(), true)], &f)
        .await;
    assert!(rc.is_err());
    let (gds, member) = ("emr-platform-redis", "emr-platform-redis-dr");
    let primary = g.ensure_primary_member(gds, "us-west-2", member, &f).await;
    assert!(primary.is_err());
    let dis = g.ensure_disassociated(gds, "us-west-2", member, &f).await;
    assert!(dis.is_err());
    let record = Record {
        name: "api.example.com".into(),
        target: crate::cloud::RecordTarget::Cname {
            value: "b.example.com".into(),
            ttl: 60,
        },
    };
    assert!(g.ensure_record("example.com", &record, &f).await.is_err());
    assert_eq!(g.refused(), 6);
    // Nothing reached the cloud at all.
    assert_eq!(s.calls(), calls_before);
    assert_eq!(mutations(&s), 0);
    // Reads pass through.
    let db = g.get_database("us-west-2", "emr-platform-prod-dr").await;
    assert!(db.unwrap().is_some());
    // Once the lease holds again, the call is sent.
    valid.store(true, Ordering::SeqCst);
    g.ensure_promoted("us-west-2", "emr-platform-prod-dr", &f)
        .await
        .unwrap();
    assert_eq!(mutations(&s), 1);
    assert_eq!(g.refused(), 6);
}

#[tokio::test(start_paused = true)]
async fn the_lease_sees_the_fence_of_the_call() {
    let s = sim();
    let lease = |_op: crate::model::Op, f: &Fence| {
        if f.epoch.term == 7 {
            Ok(())
        } else {
            Err(format!("term {} is not the current term 7", f.epoch.term))
        }
    };
    let g = Guarded::new(s.clone(), Arc::new(lease));
    let e = g
        .ensure_promoted("us-west-2", "emr-platform-prod-dr", &fence(6))
        .await
        .unwrap_err();
    assert!(e.message.contains("term 6"), "{e}");
    assert_eq!(mutations(&s), 0);
    g.ensure_promoted("us-west-2", "emr-platform-prod-dr", &fence(7))
        .await
        .unwrap();
    assert_eq!(mutations(&s), 1);
}

#[tokio::test(start_paused = true)]
async fn the_reprotect_calls_are_refused_by_a_lapsed_lease_and_sent_once_it_holds() {
    let s = sim();
    let valid = Arc::new(AtomicBool::new(false));
    let v = valid.clone();
    let lease = move |op: crate::model::Op, _f: &Fence| {
        if v.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(format!("lease lapsed before {op}"))
        }
    };
    let g = Guarded::new(s.clone(), Arc::new(lease));
    let f = fence(3);
    let calls_before = s.calls();
    let spec = ReplicatorSpec {
        name: "rev".into(),
        source_cluster_arn: "arn:s".into(),
        target_cluster_arn: "arn:t".into(),
        service_execution_role_arn: "arn:aws:iam::123456789012:role/r".into(),
    };
    let replica = g
        .ensure_read_replica("us-east-1", "db", "us-west-2", "src", &f)
        .await
        .unwrap_err();
    assert!(
        replica.message.contains("rds:CreateDBInstanceReadReplica"),
        "{replica}"
    );
    let gds = g.ensure_global_datastore("us-west-2", "sfx", "m", &f).await;
    assert!(gds.is_err());
    let member = g.ensure_secondary_member("g", "us-east-1", "m", &f).await;
    assert!(member.is_err());
    let rep = g
        .ensure_replicator("us-east-1", &spec, &f)
        .await
        .unwrap_err();
    assert_eq!(rep.op, crate::model::Op::CreateReplicator);
    assert_eq!(g.refused(), 4);
    assert_eq!(s.calls(), calls_before);
    // Reads pass through; once the lease holds, the call reaches the cloud.
    assert!(g
        .get_replicator("us-east-1", "rev")
        .await
        .unwrap()
        .is_none());
    valid.store(true, Ordering::SeqCst);
    let sent = g
        .ensure_replicator("us-east-1", &spec, &f)
        .await
        .unwrap_err();
    assert_eq!(sent.kind, ErrorKind::NotFound, "{sent}");
    assert_eq!(g.refused(), 4);
}
