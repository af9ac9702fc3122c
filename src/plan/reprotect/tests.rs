//! The exact reprotect plan for the shipped policy, and what shapes it.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::cloud::CacheMember;

fn shipped() -> Policy {
    crate::policy::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"))
        .unwrap()
}

fn ctx() -> Context {
    Context {
        orientation: Orientation::AsWritten,
        protection: Protection::Unprotected,
        reprotects: 0,
    }
}

fn db(id: &str, source: Option<&str>) -> DatabaseState {
    DatabaseState {
        id: id.into(),
        status: "available".into(),
        replica_source: source.map(str::to_string),
        tags: Default::default(),
    }
}

fn cluster(name: &str, region: &str) -> StreamClusterState {
    StreamClusterState {
        name: name.into(),
        arn: format!("arn:aws:kafka:{region}:1:cluster/{name}/x"),
        state: "ACTIVE".into(),
        bootstrap_hosts: vec![format!("b-1.{name}.kafka.{region}.amazonaws.com")],
    }
}

/// After a failover that disassociated the cache: us-west-2 standalone
/// everywhere, the old primary fenced and renamed, us-east-1 answering.
fn after_failover() -> Observed {
    let mut o = Observed {
        database_source: Some(Seen::Present(db("emr-platform-prod-dr", None))),
        database_replica: Some(Seen::Absent),
        fenced_old: Some(db("emr-platform-prod-fenced-1a2b3c4d", None)),
        cache: Some(Seen::Present(GlobalDatastoreState {
            id: "emr-platform-redis".into(),
            status: "available".into(),
            members: vec![CacheMember {
                replication_group_id: "emr-platform-redis".into(),
                region: "us-east-1".into(),
                role: MemberRole::Primary,
                status: "associated".into(),
            }],
        })),
        cache_active: Some(Seen::Present(ReplicationGroupState {
            id: "emr-platform-redis-dr".into(),
            status: "available".into(),
            global_datastore: None,
            global_role: None,
        })),
        cache_standby: Some(Seen::Present(ReplicationGroupState {
            id: "emr-platform-redis".into(),
            status: "available".into(),
            global_datastore: Some("emr-platform-redis".into()),
            global_role: Some(MemberRole::Primary),
        })),
        stream_source: Some(Seen::Present(cluster("emr-platform-kafka-dr", "us-west-2"))),
        stream_target: Some(Seen::Present(cluster("emr-platform-kafka", "us-east-1"))),
        replicator: Some(Seen::Absent),
        traffic_on_active: Some(true),
        ..Observed::default()
    };
    for g in ["system-nodes", "app-nodes", "db-proxy-nodes"] {
        let s = NodeGroupState {
            name: g.into(),
            status: "ACTIVE".into(),
            scaling: crate::cloud::Scaling {
                min: 0,
                desired: 0,
                max: 20,
            },
        };
        o.node_groups.insert(g.into(), Seen::Present(s));
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
fn the_shipped_policys_reprotect_is_exactly_this_dag() {
    let p = shipped();
    let plan = build(&p, &after_failover(), &ctx());
    let pre = vec!["preflight-reprotect"];
    assert_eq!(
        shape(&plan),
        vec![
            ("preflight-reprotect", vec![]),
            ("create-replica-database", pre.clone()),
            ("add-cache-secondary", pre.clone()),
            ("create-reverse-replicator", pre),
            (
                "wait-replication",
                vec![
                    "create-replica-database",
                    "add-cache-secondary",
                    "create-reverse-replicator"
                ]
            ),
            ("switch-roles", vec!["wait-replication"]),
        ]
    );
    assert_eq!(plan.kind, ExecutionKind::Reprotect);
    assert_eq!(
        (plan.from_region.as_str(), plan.to_region.as_str()),
        ("us-west-2", "us-east-1")
    );
    assert_eq!(plan.preflight_problems, Vec::<String>::new());
    assert!(plan.steps.iter().all(|s| !s.already_done));
    assert_eq!(
        plan.step("create-replica-database").unwrap().action,
        Action::CreateReplicaDatabase {
            region: "us-east-1".into(),
            id: "emr-platform-prod".into(),
            source_region: "us-west-2".into(),
            source_id: "emr-platform-prod-dr".into(),
        }
    );
    let summary = &plan.step("create-replica-database").unwrap().summary;
    assert!(
        summary.contains("emr-platform-prod-fenced-1a2b3c4d"),
        "{summary}"
    );
    // Disassociated: a new Global Datastore, and the old member's name is taken.
    assert_eq!(
        plan.step("add-cache-secondary").unwrap().action,
        Action::AddCacheSecondary {
            global_datastore: None,
            suffix: "emr-platform-redis-r1".into(),
            active_region: "us-west-2".into(),
            active_member: "emr-platform-redis-dr".into(),
            region: "us-east-1".into(),
            member: "emr-platform-redis-r1".into(),
        }
    );
    assert_eq!(
        plan.step("create-reverse-replicator").unwrap().action,
        Action::CreateReverseReplicator {
            region: "us-east-1".into(),
            name: "emr-platform-kafka-reverse-replicator".into(),
            source_cluster: "emr-platform-kafka-dr".into(),
            source_region: "us-west-2".into(),
            target_cluster: "emr-platform-kafka".into(),
            service_execution_role_arn:
                "arn:aws:iam::123456789012:role/emr-platform-msk-replicator".into(),
        }
    );
    assert_eq!(
        plan.step("switch-roles").unwrap().action,
        Action::SwitchRoles {
            orientation: Orientation::Reversed,
            protection: Protection::Protected,
            reprotects: 1,
            home_member: Some("emr-platform-redis-r1".into()),
        }
    );
    for s in &plan.steps {
        assert!(
            s.depends_on_primary.is_empty(),
            "{}: {:?}",
            s.id,
            s.depends_on_primary
        );
    }
    let calls = &plan.step("create-replica-database").unwrap().calls;
    assert!(calls
        .iter()
        .any(|c| c.service == "rds" && c.region == "us-east-1"));
}

#[test]
fn a_datastore_that_failed_over_keeps_its_id_and_the_member_its_name() {
    let mut o = after_failover();
    let member = |id: &str, region: &str, role| CacheMember {
        replication_group_id: id.into(),
        region: region.into(),
        role,
        status: "associated".into(),
    };
    o.cache = Some(Seen::Present(GlobalDatastoreState {
        id: "ldgnf-emr-platform-redis".into(),
        status: "available".into(),
        members: vec![member(
            "emr-platform-redis-dr",
            "us-west-2",
            MemberRole::Primary,
        )],
    }));
    o.cache_standby = Some(Seen::Absent);
    let plan = build(&shipped(), &o, &ctx());
    let Action::AddCacheSecondary {
        global_datastore,
        member: m,
        ..
    } = &plan.step("add-cache-secondary").unwrap().action
    else {
        panic!("not a cache step")
    };
    assert_eq!(
        global_datastore.as_deref(),
        Some("ldgnf-emr-platform-redis")
    );
    assert_eq!(m, "emr-platform-redis");
}

#[test]
fn finished_replicas_mark_every_step_but_the_roles_done() {
    let mut o = after_failover();
    o.database_replica = Some(Seen::Present(db(
        "emr-platform-prod",
        Some("arn:aws:rds:us-west-2:1:db:emr-platform-prod-dr"),
    )));
    let member = |id: &str, region: &str, role| CacheMember {
        replication_group_id: id.into(),
        region: region.into(),
        role,
        status: "associated".into(),
    };
    o.cache = Some(Seen::Present(GlobalDatastoreState {
        id: "ldgnf-emr-platform-redis-r1".into(),
        status: "available".into(),
        members: vec![
            member("emr-platform-redis-dr", "us-west-2", MemberRole::Primary),
            member("emr-platform-redis-r1", "us-east-1", MemberRole::Secondary),
        ],
    }));
    o.replicator = Some(Seen::Present(ReplicatorView {
        name: "emr-platform-kafka-reverse-replicator".into(),
        state: "RUNNING".into(),
        source_cluster_arn: cluster("emr-platform-kafka-dr", "us-west-2").arn,
        target_cluster_arn: cluster("emr-platform-kafka", "us-east-1").arn,
    }));
    for t in DataTier::ALL {
        o.exposures
            .insert(t, Exposure::Known(Duration::from_secs(2)));
    }
    let plan = build(&shipped(), &o, &ctx());
    let done: Vec<(&str, bool)> = plan
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.already_done))
        .collect();
    assert_eq!(
        done,
        vec![
            ("preflight-reprotect", false),
            ("create-replica-database", true),
            ("add-cache-secondary", true),
            ("create-reverse-replicator", true),
            ("wait-replication", true),
            ("switch-roles", false),
        ]
    );
    // A lag above the RPO is not replicating yet.
    o.exposures
        .insert(DataTier::Cache, Exposure::Known(Duration::from_secs(3600)));
    assert!(!replicating(&shipped(), &o, &ctx()));
}

#[test]
fn preflight_names_what_to_do_for_each_problem() {
    let mut o = after_failover();
    o.standby_unreachable = Some("connect timeout".into());
    o.database_replica = Some(Seen::Present(db("emr-platform-prod", None)));
    o.traffic_on_active = Some(false);
    let mut p = shipped();
    p.detection.secondary_probes = None;
    let problems = preflight(&p, &o, &ctx());
    let has = |needle: &str| problems.iter().any(|x| x.contains(needle));
    assert!(
        has("us-east-1 does not answer (connect timeout)"),
        "{problems:?}"
    );
    assert!(
        has("RDS instance emr-platform-prod in us-east-1 exists and is not a replica"),
        "{problems:?}"
    );
    assert!(has("the fence on return"), "{problems:?}");
    assert!(has("detection.secondary_probes"), "{problems:?}");
    assert!(has("traffic is not on us-west-2"), "{problems:?}");
    let protected = Context {
        protection: Protection::Protected,
        ..ctx()
    };
    let problems = preflight(&shipped(), &after_failover(), &protected);
    assert!(
        problems.iter().any(|x| x.contains("protected already")),
        "{problems:?}"
    );
}

#[test]
fn a_reprotect_from_the_reversed_side_builds_in_us_west_2_and_flips_back() {
    let reversed = shipped().oriented(Orientation::Reversed);
    let ctx = Context {
        orientation: Orientation::Reversed,
        ..ctx()
    };
    let plan = build(&reversed, &Observed::default(), &ctx);
    assert_eq!(
        plan.step("create-replica-database").unwrap().action,
        Action::CreateReplicaDatabase {
            region: "us-west-2".into(),
            id: "emr-platform-prod-dr".into(),
            source_region: "us-east-1".into(),
            source_id: "emr-platform-prod".into(),
        }
    );
    assert_eq!(
        plan.step("switch-roles").unwrap().action,
        Action::SwitchRoles {
            orientation: Orientation::AsWritten,
            protection: Protection::Protected,
            reprotects: 1,
            home_member: Some("emr-platform-redis".into()),
        }
    );
}
