//! The exact failback plan for the shipped policy, and its refusals.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::model::{DataTier, Exposure};

fn reversed() -> Policy {
    crate::policy::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"))
        .unwrap()
        .oriented(Orientation::Reversed)
}

fn ctx() -> Context {
    Context::after_one_reprotect("fb-1")
}

fn caught_up() -> Observed {
    let mut o = Observed::default();
    for g in ["system-nodes", "app-nodes", "db-proxy-nodes"] {
        let s = crate::cloud::NodeGroupState {
            name: g.into(),
            status: "ACTIVE".into(),
            scaling: crate::cloud::Scaling {
                min: 0,
                desired: 0,
                max: 20,
            },
        };
        o.failover
            .node_groups
            .insert(g.into(), super::super::Seen::Present(s));
    }
    for t in DataTier::ALL {
        o.failover
            .exposures
            .insert(t, Exposure::Known(Duration::from_secs(1)));
    }
    o
}

fn shape(plan: &Plan) -> Vec<(&str, Vec<&str>)> {
    plan.steps
        .iter()
        .map(|s| (s.id.as_str(), s.after.iter().map(String::as_str).collect()))
        .collect()
}

#[test]
fn the_shipped_policys_failback_is_exactly_this_dag() {
    let plan = build(&reversed(), &caught_up(), &ctx());
    let drain = vec!["drain"];
    let tier = [
        "promote-database",
        "scale-node-group:system-nodes",
        "scale-node-group:app-nodes",
        "scale-node-group:db-proxy-nodes",
        "failover-cache",
        "switch-stream",
    ];
    let mut want = vec![
        ("preflight-failback", vec![]),
        ("quiesce-writers", vec!["preflight-failback"]),
        ("drain", vec!["quiesce-writers"]),
    ];
    want.extend(tier.iter().map(|s| (*s, drain.clone())));
    let before_flip: Vec<&str> = tier
        .iter()
        .copied()
        .filter(|s| *s != "failover-cache")
        .collect();
    want.extend([
        ("flip-dns", before_flip),
        ("lift-quiesce", vec!["promote-database"]),
        ("rename-old-primary", vec!["lift-quiesce"]),
        ("create-replica-database", vec!["rename-old-primary"]),
        ("add-cache-secondary", vec!["failover-cache"]),
        ("create-reverse-replicator", vec!["switch-stream"]),
        (
            "wait-replication",
            vec![
                "create-replica-database",
                "add-cache-secondary",
                "create-reverse-replicator",
            ],
        ),
        ("switch-roles", vec!["wait-replication"]),
        (
            "verify",
            vec![
                "switch-roles",
                "flip-dns",
                "scale-node-group:system-nodes",
                "scale-node-group:app-nodes",
                "scale-node-group:db-proxy-nodes",
            ],
        ),
    ]);
    assert_eq!(shape(&plan), want);
    assert_eq!(plan.kind, ExecutionKind::Failback);
    assert_eq!(
        (plan.from_region.as_str(), plan.to_region.as_str()),
        ("us-west-2", "us-east-1")
    );
    assert_eq!(plan.preflight_problems, Vec::<String>::new());
    let action = |id: &str| plan.step(id).unwrap().action.clone();
    assert_eq!(
        action("quiesce-writers"),
        Action::QuiesceWriters {
            region: "us-west-2".into()
        }
    );
    assert_eq!(action("drain"), Action::Drain { timeout_s: 300 });
    assert_eq!(
        action("promote-database"),
        Action::PromoteDatabase {
            region: "us-east-1".into(),
            replica: "emr-platform-prod".into()
        }
    );
    let Action::ScaleNodeGroup {
        region, cluster, ..
    } = action("scale-node-group:app-nodes")
    else {
        panic!("not a scale step")
    };
    assert_eq!(
        (region.as_str(), cluster.as_str()),
        ("us-east-1", "emr-integration")
    );
    assert_eq!(
        action("lift-quiesce"),
        Action::LiftQuiesce {
            region: "us-east-1".into()
        }
    );
    assert_eq!(
        action("rename-old-primary"),
        Action::RenameOldPrimary {
            region: "us-west-2".into(),
            id: "emr-platform-prod-dr".into(),
            renamed: crate::cloud::fenced_identifier("emr-platform-prod-dr", "fb-1"),
        }
    );
    assert_eq!(
        action("create-replica-database"),
        Action::CreateReplicaDatabase {
            region: "us-west-2".into(),
            id: "emr-platform-prod-dr".into(),
            source_region: "us-east-1".into(),
            source_id: "emr-platform-prod".into(),
        }
    );
    assert_eq!(
        action("add-cache-secondary"),
        Action::AddCacheSecondary {
            global_datastore: Some("emr-platform-redis".into()),
            suffix: "emr-platform-redis-r2".into(),
            active_region: "us-east-1".into(),
            active_member: "emr-platform-redis".into(),
            region: "us-west-2".into(),
            member: "emr-platform-redis-dr".into(),
        }
    );
    let Action::CreateReverseReplicator { name, .. } = action("create-reverse-replicator") else {
        panic!("not a replicator step")
    };
    assert_eq!(name, "emr-platform-kafka-replicator");
    assert_eq!(
        action("switch-roles"),
        Action::SwitchRoles {
            orientation: Orientation::AsWritten,
            protection: Protection::Protected,
            reprotects: 2,
            home_member: Some("emr-platform-redis".into()),
        }
    );
}

#[test]
fn a_failback_refuses_with_the_replica_behind_unless_the_loss_is_accepted() {
    let mut o = caught_up();
    o.failover.exposures.insert(
        DataTier::Database,
        Exposure::Known(Duration::from_secs(3600)),
    );
    let plan = build(&reversed(), &o, &ctx());
    assert!(
        plan.preflight_problems
            .iter()
            .any(|p| p.contains("the replicas in us-east-1 are behind")
                && p.contains("--accept-data-loss")),
        "{:?}",
        plan.preflight_problems
    );
    let accepted = Context {
        accept: Acceptance::up_to(Some(Duration::from_secs(7200))),
        ..ctx()
    };
    let plan = build(&reversed(), &o, &accepted);
    assert_eq!(plan.preflight_problems, Vec::<String>::new());
}

#[test]
fn a_failback_needs_a_reprotected_state_and_the_divergence_reviewed() {
    let c = Context {
        protection: Protection::Unprotected,
        divergence: Some("fo-7".into()),
        ..ctx()
    };
    let problems = build(&reversed(), &caught_up(), &c).preflight_problems;
    let has = |n: &str| problems.iter().any(|p| p.contains(n));
    assert!(has("the platform is unprotected"), "{problems:?}");
    assert!(has("`drctl reprotect --confirm`"), "{problems:?}");
    assert!(has("--divergence-reviewed fo-7"), "{problems:?}");
    let reviewed = Context {
        divergence: Some("fo-7".into()),
        divergence_reviewed: Some("fo-7".into()),
        ..ctx()
    };
    assert_eq!(
        build(&reversed(), &caught_up(), &reviewed).preflight_problems,
        Vec::<String>::new()
    );
    let wrong = Context {
        divergence_reviewed: Some("fo-6".into()),
        ..reviewed
    };
    assert!(!build(&reversed(), &caught_up(), &wrong)
        .preflight_problems
        .is_empty());
}

#[test]
fn a_policy_without_the_way_back_is_refused_naming_the_field() {
    let mut p = reversed();
    p.fencing = None;
    let problems = build(&p, &caught_up(), &ctx()).preflight_problems;
    assert!(
        problems.iter().any(|x| x.contains("no fencing section")),
        "{problems:?}"
    );
}
