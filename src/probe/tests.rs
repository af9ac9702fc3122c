//! The verdicts of the API probes: which RDS statuses count as up, and which
//! API failures count against the primary.

use std::time::Duration;

use super::*;
use crate::cloud::{CloudError, CloudResult, DatabaseState, ErrorKind};
use crate::model::Op;

const T: Duration = Duration::from_secs(1);

fn instance(status: &str) -> CloudResult<Option<DatabaseState>> {
    Ok(Some(DatabaseState {
        id: "emr-platform-prod".into(),
        status: status.into(),
        replica_source: None,
        tags: Default::default(),
    }))
}

async fn status_probe(status: &str) -> Result<String, ProbeError> {
    database_status(async { instance(status) }, T).await
}

fn failure(kind: ErrorKind) -> CloudError {
    CloudError::new(kind, Op::DescribeDbInstances, "us-east-1/db", "it said so")
}

/// Both API probes' verdicts on a failed call.
async fn both(e: CloudError) -> [ProbeError; 2] {
    let db = database_status(async { Err(e.clone()) }, T).await;
    let hc = health_check_status(async { Err(e) }, T).await;
    [db.unwrap_err(), hc.unwrap_err()]
}

#[tokio::test]
async fn statuses_in_which_rds_serves_count_as_up() {
    for status in [
        "available",
        "backing-up",
        "modifying",
        "storage-optimization",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "configuring-iam-database-auth",
        "maintenance",
        "resetting-master-credentials",
    ] {
        assert!(RDS_SERVING.contains(&status), "{status}");
        let seen = status_probe(status).await;
        assert!(
            seen.as_deref().is_ok_and(|s| s.starts_with(status)),
            "{status}: {seen:?}"
        );
    }
    assert_eq!(status_probe("available").await, Ok("available".into()));
    for status in RDS_SERVING {
        assert!(status_probe(status).await.is_ok(), "{status}");
    }
}

#[tokio::test]
async fn statuses_in_which_rds_does_not_serve_count_as_down() {
    for status in [
        "stopped",
        "stopping",
        "rebooting",
        "upgrading",
        "failed",
        "storage-full",
        "inaccessible-encryption-credentials",
        "incompatible-parameters",
        "deleting",
    ] {
        assert!(RDS_NOT_SERVING.contains(&status), "{status}");
    }
    for status in RDS_NOT_SERVING {
        let err = status_probe(status).await.unwrap_err();
        assert!(!err.inconclusive, "{status}");
        assert_eq!(err.message, format!("status {status}"));
    }
    assert!(RDS_SERVING.iter().all(|s| !RDS_NOT_SERVING.contains(s)));
    let gone = database_status(async { Ok(None) }, T).await.unwrap_err();
    assert_eq!(gone, ProbeError::from("not found"));
}

#[tokio::test]
async fn a_status_drctl_does_not_know_is_no_evidence_either_way() {
    for status in ["some-future-status", ""] {
        let err = status_probe(status).await.unwrap_err();
        assert!(err.inconclusive, "{status}: {err}");
        assert!(err.message.contains("not one drctl knows"), "{err}");
    }
}

#[tokio::test]
async fn a_throttled_or_failing_api_answer_is_no_evidence() {
    for kind in [
        ErrorKind::Throttled,
        ErrorKind::Retryable,
        ErrorKind::Conflict,
        ErrorKind::NotFound,
    ] {
        for err in both(failure(kind)).await {
            assert!(err.inconclusive, "{kind}: {err}");
            assert!(err.message.contains("no evidence"), "{kind}: {err}");
            assert!(err.message.contains("it said so"), "{kind}: {err}");
        }
    }
}

#[tokio::test]
async fn a_failure_on_the_probers_side_is_no_evidence() {
    for err in both(failure(ErrorKind::Fatal)).await {
        assert!(err.inconclusive, "{err}");
        assert!(err.message.starts_with("cannot check"), "{err}");
    }
    // A dispatch failure of ours (no credentials) is no silence either.
    let ours = CloudError::new(
        ErrorKind::Fatal,
        Op::DescribeDbInstances,
        "r",
        "no credentials",
    )
    .without_answer();
    assert!(both(ours).await.iter().all(|e| e.inconclusive));
}

#[tokio::test]
async fn silence_of_the_regional_api_counts_against_the_primary() {
    // A timeout or a failed connection, as the SDK reports them.
    for err in both(failure(ErrorKind::Retryable).without_answer()).await {
        assert!(!err.inconclusive, "{err}");
        assert!(err.message.starts_with("no answer from"), "{err}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_api_that_never_answers_counts_against_the_primary() {
    let db = database_status(std::future::pending(), T)
        .await
        .unwrap_err();
    let hc = health_check_status(std::future::pending(), T)
        .await
        .unwrap_err();
    for err in [db, hc] {
        assert!(!err.inconclusive, "{err}");
        assert_eq!(err.message, "no answer within 1s");
    }
}

#[tokio::test]
async fn most_checkers_healthy_passes_a_health_check() {
    let read = |h, t| health_check_status(async move { Ok((h, t)) }, T);
    assert_eq!(read(2, 3).await, Ok("2 of 3 checkers healthy".into()));
    assert_eq!(read(1, 2).await, Err("1 of 2 checkers healthy".into()));
    assert_eq!(read(0, 0).await, Err("0 of 0 checkers healthy".into()));
}

#[tokio::test]
async fn after_stop_heartbeats_a_round_writes_no_heartbeat() {
    use crate::cloud::sim::{SimCloud, SimOptions};
    let mut policy = crate::policy::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
    )
    .unwrap();
    policy.detection.probe_timeout = Duration::from_millis(200);
    policy.detection.heartbeats.database = Some(crate::policy::HeartbeatTarget {
        primary: "host=127.0.0.1 port=1 dbname=postgres user=drctl_heartbeat".into(),
        replica: "host=127.0.0.1 port=1 dbname=postgres user=drctl_heartbeat".into(),
        password: crate::policy::SecretSource::None,
        ca_file: None,
    });
    let cloud = std::sync::Arc::new(SimCloud::new(&policy, SimOptions::default()).unwrap());
    let mut prober = Prober::new("us-west-2", 2, std::sync::Arc::new(policy), cloud).unwrap();
    let targets = |o: &crate::detect::Observation| -> Vec<String> {
        o.probes.iter().map(|p| p.target.clone()).collect()
    };
    let before = prober.round().await;
    assert!(
        targets(&before).contains(&"heartbeat database".to_string()),
        "{:?}",
        targets(&before)
    );
    assert!(prober.stop_heartbeats());
    let after = prober.round().await;
    assert!(
        !targets(&after).iter().any(|t| t.starts_with("heartbeat")),
        "{:?}",
        targets(&after)
    );
    assert!(!prober.stop_heartbeats(), "nothing left to stop");
}
