//! End to end: the built `drctl` binary against moto seeded with the platform
//! of `policies/emr-platform-core.yaml`, exactly as an operator runs it.
//!
//! The binary cannot send moto's account header: it runs with the
//! credentials of a role assumed in the test's own account, so it shares the
//! moto server with every other test and resets nothing.

use std::path::Path;

use crate::support::moto::*;
use assert_cmd::Command;
use aws_sdk_rds::config::Credentials;
use drctl::cloud::{Database, Dns, NodeGroups, RecordTarget, RecordType, Scaling};

const POLICY: &str = "policies/emr-platform-core.yaml";
const DR_ALB: &str = "emr-platform-alb-dr-0987654321.us-west-2.elb.amazonaws.com";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The binary as an operator runs it, signing with `credentials`.
fn drctl(credentials: &Credentials, journal: &Path, args: &[&str]) -> Run {
    let out = Command::cargo_bin("drctl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", credentials.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key())
        .env(
            "AWS_SESSION_TOKEN",
            credentials.session_token().expect("a session token"),
        )
        .env("DRCTL_JOURNAL_DIR", journal)
        .env("DRCTL_HISTORY_DIR", journal.join("history"))
        .env_remove("AWS_PROFILE")
        .args(args)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What an operator would look at: the replica, the node groups, the record.
#[derive(Debug, PartialEq)]
struct World {
    replica_source: Option<String>,
    node_groups: Vec<Scaling>,
    api_target: String,
}

async fn world(moto: &Moto) -> World {
    let cloud = moto.cloud();
    let db = cloud.get_database(DR_REGION, DR_DB).await.unwrap().unwrap();
    let mut node_groups = Vec::new();
    for (name, _) in NODE_GROUPS {
        let g = cloud
            .get_node_group(DR_REGION, DR_CLUSTER, name)
            .await
            .unwrap()
            .unwrap();
        node_groups.push(g.scaling);
    }
    let record = cloud
        .get_record(ZONE, API_RECORD, RecordType::A)
        .await
        .unwrap()
        .unwrap();
    let RecordTarget::Alias { dns_name, .. } = record.target else {
        panic!("the API record is not an alias: {record:?}");
    };
    World {
        replica_source: db.replica_source,
        node_groups,
        api_target: dns_name,
    }
}

#[tokio::test]
async fn an_operator_fails_the_core_platform_over_against_moto() {
    let moto = Moto::isolated();
    seed_core_platform(&moto).await.unwrap();
    let (_, credentials) = moto.assumed().await;
    let journal = tempfile::tempdir().unwrap();
    let before = world(&moto).await;
    assert!(before.replica_source.is_some());
    assert_eq!(before.api_target.trim_end_matches('.'), PRIMARY_ALB);

    // Without --confirm: the plan, and nothing changes. Lag cannot be
    // measured against AWS yet, so the gate would refuse: exit 3.
    let plan = drctl(
        &credentials,
        journal.path(),
        &["failover", "--policy", POLICY],
    );
    assert_eq!(plan.code, 3, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("promote-database"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("scale-node-group:app-nodes"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("preflight: ok"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("dry run: nothing was changed"),
        "{}",
        plan.stdout
    );
    assert_eq!(world(&moto).await, before);

    // --confirm alone: the RPO gate refuses (exposure unknown) and nothing changes.
    let refused = drctl(
        &credentials,
        journal.path(),
        &["failover", "--policy", POLICY, "--confirm"],
    );
    assert_eq!(refused.code, 3, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stdout
            .contains("database tier's data-loss exposure is unknown"),
        "{}",
        refused.stdout
    );
    assert_eq!(world(&moto).await, before);

    // A number does not cover an exposure nobody can measure (moto serves no
    // CloudWatch lag): still refused, nothing changed.
    let number = drctl(
        &credentials,
        journal.path(),
        &[
            "failover",
            "--policy",
            POLICY,
            "--confirm",
            "--accept-data-loss",
            "1h",
        ],
    );
    assert_eq!(number.code, 3, "{}\n{}", number.stdout, number.stderr);
    assert!(
        number.stdout.contains("--accept-unknown-loss database"),
        "{}",
        number.stdout
    );
    assert_eq!(world(&moto).await, before);

    // Accepting the unbounded loss on the database, by name: promote, scale
    // the three node groups, flip the record.
    let done = drctl(
        &credentials,
        journal.path(),
        &[
            "failover",
            "--policy",
            POLICY,
            "--confirm",
            "--accept-unknown-loss",
            "database",
        ],
    );
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("Completed"), "{}", done.stdout);
    assert!(
        done.stdout.contains("unbounded on database"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("RTO (wall)"), "{}", done.stdout);
    let after = world(&moto).await;
    assert_eq!(after.replica_source, None, "the replica is standalone");
    let wanted: Vec<Scaling> = NODE_GROUPS
        .iter()
        .map(|(name, _)| match *name {
            "system-nodes" => Scaling {
                min: 3,
                desired: 3,
                max: 6,
            },
            "app-nodes" => Scaling {
                min: 3,
                desired: 6,
                max: 20,
            },
            _ => Scaling {
                min: 2,
                desired: 2,
                max: 4,
            },
        })
        .collect();
    assert_eq!(after.node_groups, wanted);
    assert_eq!(after.api_target.trim_end_matches('.'), DR_ALB);

    // A second run changes nothing and says so.
    let again = drctl(
        &credentials,
        journal.path(),
        &[
            "failover",
            "--policy",
            POLICY,
            "--confirm",
            "--accept-unknown-loss",
            "database",
        ],
    );
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
    assert_eq!(world(&moto).await, after);

    // The journal holds the refusal, the execution and the no-op, with the override.
    let text = std::fs::read_to_string(journal.path().join("emr-platform-core.json")).unwrap();
    let records: serde_json::Value = serde_json::from_str(&text).unwrap();
    let statuses: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["refused", "refused", "completed", "already_complete"]
    );
    assert_eq!(records[2]["overrides"][0]["unbounded"][0], "database");

    // An invalid policy: exit 64, the field named, no change.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(POLICY)).unwrap();
    std::fs::write(
        &bad,
        text.replace("secondary: us-west-2", "secondary: us-east-1"),
    )
    .unwrap();
    let invalid = drctl(
        &credentials,
        journal.path(),
        &["failover", "--confirm", "--policy", bad.to_str().unwrap()],
    );
    assert_eq!(invalid.code, 64, "{}", invalid.stderr);
    assert!(
        invalid.stderr.contains("regions.secondary"),
        "{}",
        invalid.stderr
    );
    assert_eq!(world(&moto).await, after);
}
