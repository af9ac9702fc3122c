//! The resources a reprotect creates behave like AWS's: they are refused
//! when their source cannot take part, start in a creating state, settle
//! after the modeled time, are made once, are logged with their fence, and
//! go through the seeded faults and regional outages.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::cloud::{
    Cache, Database, MemberRole, ReplicatorSpec, Stream, CREATED_BY_TAG, FENCED_EPOCH_TAG,
};
use crate::model::{Epoch, Fence};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const DB: &str = "emr-platform-prod";
const DB_DR: &str = "emr-platform-prod-dr";

fn sim() -> SimCloud {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::policy::DEFAULT_POLICY);
    let policy = crate::policy::load(&path).unwrap();
    let options = SimOptions {
        seed: 7,
        ..SimOptions::default()
    };
    SimCloud::new(&policy, options).unwrap()
}

fn fence() -> Fence {
    Fence {
        execution_id: "rp-1".into(),
        epoch: Epoch { term: 4, index: 12 },
    }
}

fn count(s: &SimCloud, op: Op) -> u32 {
    s.mutations().get(op.as_str()).copied().unwrap_or(0)
}

/// The platform after a failover: the DR replica promoted, the old
/// primary fenced under another name.
async fn failed_over(s: &SimCloud) {
    s.ensure_promoted(WEST, DB_DR, &fence()).await.unwrap();
    s.ensure_renamed(EAST, DB, "emr-platform-prod-fenced-1", &[], &fence())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(start_paused = true)]
async fn a_read_replica_is_created_once_and_replicates_after_the_modeled_time() {
    let s = sim();
    failed_over(&s).await;
    s.ensure_read_replica(EAST, DB, WEST, DB_DR, &fence())
        .await
        .unwrap();
    let db = s.get_database(EAST, DB).await.unwrap().unwrap();
    assert_eq!(db.status, "creating");
    assert!(db.is_replica_of(DB_DR) && !db.replicates(DB_DR), "{db:?}");
    assert_eq!(
        db.replica_source.as_deref(),
        Some("arn:aws:rds:us-west-2:123456789012:db:emr-platform-prod-dr")
    );
    assert_eq!(
        db.tags.get(CREATED_BY_TAG).map(String::as_str),
        Some("rp-1")
    );
    assert_eq!(
        db.tags.get(FENCED_EPOCH_TAG).map(String::as_str),
        Some("4.12")
    );
    let lag = s.sim_exposure(EAST, DataTier::Database).await.unwrap();
    assert_eq!(lag.exposure, Exposure::Unknown, "{lag:?}");
    assert!(lag.source.contains("still being created"), "{lag:?}");
    // A second call while it is being created, and one after, send nothing.
    s.ensure_read_replica(EAST, DB, WEST, DB_DR, &fence())
        .await
        .unwrap();
    // Tens of minutes: not yet after nineteen.
    tokio::time::sleep(Duration::from_secs(19 * 60)).await;
    let db = s.get_database(EAST, DB).await.unwrap().unwrap();
    assert_eq!(db.status, "creating");
    tokio::time::sleep(Duration::from_secs(45 * 60)).await;
    let db = s.get_database(EAST, DB).await.unwrap().unwrap();
    assert!(db.replicates(DB_DR), "{db:?}");
    let lag = s.sim_exposure(EAST, DataTier::Database).await.unwrap();
    assert!(matches!(lag.exposure, Exposure::Known(_)), "{lag:?}");
    s.ensure_read_replica(EAST, DB, WEST, DB_DR, &fence())
        .await
        .unwrap();
    assert_eq!(count(&s, Op::CreateDbInstanceReadReplica), 1);
    let logged: Vec<_> = s
        .mutation_log()
        .into_iter()
        .filter(|m| m.op == Op::CreateDbInstanceReadReplica.as_str())
        .collect();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].resource, "rds:us-east-1/emr-platform-prod");
    assert_eq!(
        (logged[0].execution.as_str(), logged[0].epoch),
        ("rp-1", fence().epoch)
    );
    let t = s
        .transitions()
        .into_iter()
        .find(|t| t.op == Op::CreateDbInstanceReadReplica.as_str())
        .unwrap();
    let took = t.completed.unwrap() - t.started;
    assert!(took >= Duration::from_secs(20 * 60), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_read_replica_is_refused_when_its_source_or_its_name_do_not_allow_it() {
    let s = sim();
    // Before the failover the DR instance is itself a replica.
    let e = s
        .ensure_read_replica(EAST, "fresh", WEST, DB_DR, &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(e.message.contains("available standalone primary"), "{e}");
    s.ensure_promoted(WEST, DB_DR, &fence()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
    // The old primary still holds the name: a conflict naming it.
    let e = s
        .ensure_read_replica(EAST, DB, WEST, DB_DR, &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(
        e.message
            .contains("emr-platform-prod already exists in us-east-1"),
        "{e}"
    );
    let e = s
        .ensure_read_replica(EAST, "fresh", WEST, "nope", &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert_eq!(count(&s, Op::CreateDbInstanceReadReplica), 0);
}

#[tokio::test(start_paused = true)]
async fn a_read_replica_goes_through_faults_and_outages() {
    let s = sim();
    failed_over(&s).await;
    let mut once = Fault {
        fault: FaultKind::Fail,
        op: Op::CreateDbInstanceReadReplica.to_string(),
        resource: None,
        times: Some(1),
        error: None,
        extra: None,
        status: None,
    };
    s.inject(once.clone()).unwrap();
    let e = s
        .ensure_read_replica(EAST, DB, WEST, DB_DR, &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Retryable, "{e}");
    // The old primary region down: the call is never answered.
    s.set_region_outage([EAST.to_string()]);
    let f = fence();
    let call = s.ensure_read_replica(EAST, DB, WEST, DB_DR, &f);
    assert!(tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .is_err());
    s.set_region_outage([]);
    // A stuck creation stays `creating` for the extra time.
    once.fault = FaultKind::Stuck;
    once.times = None;
    once.extra = Some("2h".into());
    s.inject(once).unwrap();
    s.ensure_read_replica(EAST, DB, WEST, DB_DR, &fence())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60 * 60)).await;
    let db = s.get_database(EAST, DB).await.unwrap().unwrap();
    assert_eq!(db.status, "creating");
    let e = s.ensure_promoted(EAST, DB, &fence()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert_eq!(count(&s, Op::CreateDbInstanceReadReplica), 1);
}

#[tokio::test(start_paused = true)]
async fn a_new_global_datastore_and_its_secondary_are_created_and_associate() {
    let s = sim();
    let (gds, dr_member) = ("emr-platform-redis", "emr-platform-redis-dr");
    s.ensure_disassociated(gds, WEST, dr_member, &fence())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    let id = s
        .ensure_global_datastore(WEST, "emr-platform-redis", dr_member, &fence())
        .await
        .unwrap();
    assert_eq!(id, format!("{GLOBAL_DATASTORE_PREFIX}emr-platform-redis"));
    let again = s
        .ensure_global_datastore(WEST, "emr-platform-redis", dr_member, &fence())
        .await
        .unwrap();
    assert_eq!(again, id);
    assert_eq!(count(&s, Op::CreateGlobalReplicationGroup), 1);
    let g = s.get_global_datastore(WEST, &id).await.unwrap().unwrap();
    assert_eq!(g.status, "creating");
    // A datastore being created takes no member yet.
    let e = s
        .ensure_secondary_member(&id, EAST, "emr-platform-redis-r1", &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    tokio::time::sleep(Duration::from_secs(180)).await;
    assert!(s
        .get_global_datastore(WEST, &id)
        .await
        .unwrap()
        .unwrap()
        .has_primary(dr_member));
    // The old primary's replication group still holds its name.
    let e = s
        .ensure_secondary_member(&id, EAST, "emr-platform-redis", &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(
        e.message
            .contains("emr-platform-redis already exists in us-east-1"),
        "{e}"
    );
    s.ensure_secondary_member(&id, EAST, "emr-platform-redis-r1", &fence())
        .await
        .unwrap();
    s.ensure_secondary_member(&id, EAST, "emr-platform-redis-r1", &fence())
        .await
        .unwrap();
    assert_eq!(count(&s, Op::CreateReplicationGroup), 1);
    let g = s.get_global_datastore(WEST, &id).await.unwrap().unwrap();
    assert_eq!(
        g.member("emr-platform-redis-r1").unwrap().status,
        "associating"
    );
    let lag = s.sim_exposure(EAST, DataTier::Cache).await.unwrap();
    assert_eq!(lag.exposure, Exposure::Unknown, "{lag:?}");
    tokio::time::sleep(Duration::from_secs(14 * 60)).await;
    let rg = s
        .get_replication_group(EAST, "emr-platform-redis-r1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rg.status, "creating");
    tokio::time::sleep(Duration::from_secs(30 * 60)).await;
    let g = s.get_global_datastore(WEST, &id).await.unwrap().unwrap();
    let m = g.member("emr-platform-redis-r1").unwrap();
    assert_eq!(
        (m.status.as_str(), m.role),
        ("associated", MemberRole::Secondary)
    );
    assert_eq!(g.status, "available");
    let rg = s
        .get_replication_group(EAST, "emr-platform-redis-r1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rg.global_datastore.as_deref(), Some(id.as_str()));
    assert_eq!(rg.global_role, Some(MemberRole::Secondary));
    let lag = s.sim_exposure(EAST, DataTier::Cache).await.unwrap();
    assert!(matches!(lag.exposure, Exposure::Known(_)), "{lag:?}");
}

#[tokio::test(start_paused = true)]
async fn a_member_of_a_datastore_starts_no_other_and_a_secondary_needs_its_primary_region() {
    let s = sim();
    let e = s
        .ensure_global_datastore(WEST, "x", "emr-platform-redis-dr", &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(
        e.message
            .contains("already a member of Global Datastore emr-platform-redis"),
        "{e}"
    );
    // The existing datastore's primary region down: no member can join.
    s.set_region_outage([EAST.to_string()]);
    let e = s
        .ensure_secondary_member("emr-platform-redis", "eu-west-1", "r", &fence())
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("primary region us-east-1 does not answer"),
        "{e}"
    );
    assert!(s.mutations().is_empty(), "{:?}", s.mutations());
}

fn reverse(s: &str) -> ReplicatorSpec {
    ReplicatorSpec {
        name: s.into(),
        source_cluster_arn:
            "arn:aws:kafka:us-west-2:123456789012:cluster/emr-platform-kafka-dr/sim".into(),
        target_cluster_arn: "arn:aws:kafka:us-east-1:123456789012:cluster/emr-platform-kafka/sim"
            .into(),
        service_execution_role_arn: "arn:aws:iam::123456789012:role/msk-replicator".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_reverse_replicator_is_created_once_and_runs_after_the_modeled_time() {
    let s = sim();
    let forward = s
        .get_replicator(WEST, "emr-platform-kafka-replicator")
        .await
        .unwrap()
        .unwrap();
    assert!(forward.is_running());
    assert_eq!(forward.source_cluster_arn, reverse("r").target_cluster_arn);
    assert!(s.get_replicator(EAST, "rev").await.unwrap().is_none());
    s.ensure_replicator(EAST, &reverse("rev"), &fence())
        .await
        .unwrap();
    s.ensure_replicator(EAST, &reverse("rev"), &fence())
        .await
        .unwrap();
    assert_eq!(count(&s, Op::CreateReplicator), 1);
    let r = s.get_replicator(EAST, "rev").await.unwrap().unwrap();
    assert_eq!(r.state, "CREATING");
    assert!(r.connects(
        &reverse("r").source_cluster_arn,
        &reverse("r").target_cluster_arn
    ));
    let lag = s.sim_exposure(EAST, DataTier::Stream).await.unwrap();
    assert_eq!(lag.exposure, Exposure::Unknown, "{lag:?}");
    // Same name, other direction: a conflict.
    let mut other = reverse("rev");
    std::mem::swap(&mut other.source_cluster_arn, &mut other.target_cluster_arn);
    let e = s
        .ensure_replicator(EAST, &other, &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    tokio::time::sleep(Duration::from_secs(31 * 60)).await;
    let r = s.get_replicator(EAST, "rev").await.unwrap().unwrap();
    assert!(r.is_running(), "{r:?}");
    let lag = s.sim_exposure(EAST, DataTier::Stream).await.unwrap();
    assert!(matches!(lag.exposure, Exposure::Known(_)), "{lag:?}");
    // A cluster that does not exist, or a target in another region.
    let mut missing = reverse("m");
    missing.source_cluster_arn = "arn:aws:kafka:us-west-2:123456789012:cluster/nope/sim".into();
    let e = s
        .ensure_replicator(EAST, &missing, &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let e = s
        .ensure_replicator(WEST, &reverse("w"), &fence())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Fatal, "{e}");
    assert_eq!(count(&s, Op::CreateReplicator), 1);
}
