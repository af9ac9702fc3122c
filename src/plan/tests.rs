//! The exact plans for the shipped policies, and how observed state shapes them.

use super::*;
use crate::cloud::{CacheMember, MemberRole, Scaling};
use std::path::Path;
use std::time::Duration;

fn policy(name: &str) -> Policy {
    crate::policy::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("policies")
            .join(name),
    )
    .unwrap()
}

/// The DR side as the simulated cloud starts it: everything present, nothing failed over.
fn healthy(policy: &Policy) -> Observed {
    let mut o = Observed::default();
    let t = &policy.tiers;
    if let Some(db) = &t.database {
        o.database = Some(Seen::Present(DatabaseState {
            id: db.replica.clone(),
            status: "available".into(),
            replica_source: Some(format!(
                "arn:aws:rds:us-east-1:123456789012:db:{}",
                db.primary
            )),
            tags: Default::default(),
        }));
        o.exposures
            .insert(DataTier::Database, Exposure::Known(Duration::from_secs(3)));
    }
    if let Some(ng) = &t.node_groups {
        for g in &ng.groups {
            let s = NodeGroupState {
                name: g.name.clone(),
                status: "ACTIVE".into(),
                scaling: Scaling {
                    min: 1,
                    desired: 1,
                    max: g.scaling.max,
                },
            };
            o.node_groups.insert(g.name.clone(), Seen::Present(s));
        }
    }
    if let Some(c) = &t.cache {
        let m = |id: &str, region: &str, role| CacheMember {
            replication_group_id: id.into(),
            region: region.into(),
            role,
            status: "associated".into(),
        };
        o.cache = Some(Seen::Present(GlobalDatastoreState {
            id: c.global_datastore.clone(),
            status: "available".into(),
            members: vec![
                m(&c.primary_member, "us-east-1", MemberRole::Primary),
                m(&c.dr_member, "us-west-2", MemberRole::Secondary),
            ],
        }));
        o.exposures
            .insert(DataTier::Cache, Exposure::Known(Duration::from_secs(1)));
    }
    if let Some(s) = &t.stream {
        o.stream_cluster = Some(Seen::Present(StreamClusterState {
            name: s.dr_cluster.clone(),
            arn: "arn:aws:kafka:us-west-2:1:cluster/x/y".into(),
            state: "ACTIVE".into(),
            bootstrap_hosts: vec!["b-1.dr.kafka.us-west-2.amazonaws.com".into()],
        }));
        o.stream_record = Some(Seen::Present(Record {
            name: s.client_record.name.clone(),
            target: RecordTarget::Cname {
                value: "b-1.primary.kafka.us-east-1.amazonaws.com".into(),
                ttl: 60,
            },
        }));
        o.exposures
            .insert(DataTier::Stream, Exposure::Known(Duration::from_secs(2)));
    }
    if let Some(d) = &t.dns {
        o.dns_record = Some(Seen::Present(Record {
            name: d.record.clone(),
            target: RecordTarget::Alias {
                dns_name: d.primary.dns_name.clone(),
                hosted_zone_id: d.primary.hosted_zone_id.clone(),
            },
        }));
    }
    o
}

fn shape(plan: &Plan) -> Vec<(&str, Vec<&str>)> {
    plan.steps
        .iter()
        .map(|s| (s.id.as_str(), s.after.iter().map(String::as_str).collect()))
        .collect()
}

const TIER_STEPS: [&str; 6] = [
    "promote-database",
    "scale-node-group:system-nodes",
    "scale-node-group:app-nodes",
    "scale-node-group:db-proxy-nodes",
    "failover-cache",
    "switch-stream",
];

#[test]
fn the_full_platform_plan_is_exactly_this_dag() {
    let p = policy("emr-platform.yaml");
    let plan = build(&p, &healthy(&p), Acceptance::default());
    let gate = vec!["rpo-gate"];
    let mut want = vec![("preflight", vec![]), ("rpo-gate", vec!["preflight"])];
    want.extend(TIER_STEPS.iter().map(|s| (*s, gate.clone())));
    // The cache is not required for traffic by default: flip-dns waits for
    // everything else.
    let before_flip: Vec<&str> = TIER_STEPS
        .iter()
        .copied()
        .filter(|s| *s != "failover-cache")
        .collect();
    want.push(("flip-dns", before_flip));
    // Verify re-checks every postcondition: it also waits for the cache,
    // which may still be failing over (up to its failover_timeout) when the
    // flip is done. Found by the simulation: verify ran first and failed.
    want.push(("verify", vec!["flip-dns", "failover-cache"]));
    assert_eq!(shape(&plan), want);
    assert_eq!(plan.from_region, "us-east-1");
    assert_eq!(plan.to_region, "us-west-2");
    assert!(plan.preflight_problems.is_empty());
    assert_eq!(plan.rpo.verdict, RpoVerdict::Pass);
    assert!(!plan.is_complete());
    assert!(plan.steps.iter().all(|s| !s.already_done));
    assert_eq!(
        plan.step("scale-node-group:app-nodes").unwrap().action,
        Action::ScaleNodeGroup {
            region: "us-west-2".into(),
            cluster: "emr-integration-dr".into(),
            name: "app-nodes".into(),
            scaling: Scaling {
                min: 3,
                desired: 6,
                max: 20
            },
        }
    );
    assert_eq!(
        plan.step("flip-dns").unwrap().action,
        Action::FlipDns {
            zone: "emr-platform.com".into(),
            record: Record {
                name: "api.emr-platform.com".into(),
                target: RecordTarget::Alias {
                    dns_name: "emr-platform-alb-dr-0987654321.us-west-2.elb.amazonaws.com".into(),
                    hosted_zone_id: "Z1H1FL5HABSF5".into(),
                },
            },
            routing: match &p.tiers.dns.as_ref().unwrap().switch {
                crate::policy::TrafficSwitch::RoutingControl(pair) => Some(pair.clone()),
                crate::policy::TrafficSwitch::Record =>
                    panic!("the shipped policy uses routing controls"),
            },
            ttl: 60,
        }
    );
}

#[test]
fn the_core_plan_has_no_cache_or_stream_steps() {
    let p = policy("emr-platform-core.yaml");
    let plan = build(&p, &healthy(&p), Acceptance::default());
    let tiers = &TIER_STEPS[..4];
    let mut want = vec![("preflight", vec![]), ("rpo-gate", vec!["preflight"])];
    want.extend(tiers.iter().map(|s| (*s, vec!["rpo-gate"])));
    want.push(("flip-dns", tiers.to_vec()));
    want.push(("verify", vec!["flip-dns"]));
    assert_eq!(shape(&plan), want);
    assert_eq!(plan.rpo.tiers.len(), 1);
}

#[test]
fn node_groups_do_not_wait_for_the_database() {
    let p = policy("emr-platform.yaml");
    let plan = build(&p, &healthy(&p), Acceptance::default());
    for s in plan
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::ScaleNodeGroup)
    {
        assert_eq!(s.after, vec!["rpo-gate".to_string()]);
    }
}

#[test]
fn observed_postconditions_mark_steps_already_done() {
    let p = policy("emr-platform-core.yaml");
    let mut o = healthy(&p);
    if let Some(Seen::Present(db)) = &mut o.database {
        db.replica_source = None;
    }
    if let Some(Seen::Present(g)) = o.node_groups.get_mut("app-nodes") {
        g.scaling = Scaling {
            min: 3,
            desired: 6,
            max: 20,
        };
    }
    let plan = build(&p, &o, Acceptance::default());
    let done: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.already_done)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(done, vec!["promote-database", "scale-node-group:app-nodes"]);
    assert!(!plan.is_complete());
}

#[test]
fn a_finished_failover_is_complete_and_passes_the_gate_even_with_unknown_lag() {
    let p = policy("emr-platform-core.yaml");
    let mut o = healthy(&p);
    if let Some(Seen::Present(db)) = &mut o.database {
        db.replica_source = None;
    }
    for (name, g) in &mut o.node_groups {
        if let Seen::Present(g) = g {
            g.scaling = p
                .tiers
                .node_groups
                .as_ref()
                .unwrap()
                .groups
                .iter()
                .find(|t| &t.name == name)
                .unwrap()
                .scaling;
        }
    }
    o.dns_record = Some(Seen::Present(dns_target(&p).unwrap().1));
    o.exposures.insert(DataTier::Database, Exposure::Unknown);
    let plan = build(&p, &o, Acceptance::default());
    assert!(plan.is_complete());
    assert!(plan.rpo.allows());
}

#[test]
fn preflight_names_every_missing_or_unhealthy_resource() {
    let p = policy("emr-platform.yaml");
    let mut o = healthy(&p);
    o.node_groups.insert("app-nodes".into(), Seen::Absent);
    o.database = Some(Seen::Unreadable("access denied".into()));
    if let Some(Seen::Present(c)) = &mut o.stream_cluster {
        c.state = "CREATING".into();
    }
    if let Some(Seen::Present(r)) = &mut o.dns_record {
        r.target = RecordTarget::Alias {
            dns_name: "somebody-else.example.com".into(),
            hosted_zone_id: "Z1".into(),
        };
    }
    let problems = build(&p, &o, Acceptance::default()).preflight_problems;
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].contains(
        "RDS read replica emr-platform-prod-dr in us-west-2 could not be read: access denied"
    ));
    assert!(problems[1].contains(
        "node group app-nodes of EKS cluster emr-integration-dr in us-west-2 does not exist"
    ));
    assert!(problems[2].contains("MSK cluster emr-platform-kafka-dr is CREATING, not ACTIVE"));
    assert!(problems[3].contains("points at neither the primary nor the secondary"));
}

#[test]
fn a_replica_of_another_source_fails_preflight() {
    let p = policy("emr-platform-core.yaml");
    let mut o = healthy(&p);
    if let Some(Seen::Present(db)) = &mut o.database {
        db.replica_source = Some("arn:aws:rds:us-east-1:1:db:some-other-db".into());
    }
    let problems = build(&p, &o, Acceptance::default()).preflight_problems;
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains(
        "replicates from arn:aws:rds:us-east-1:1:db:some-other-db, not from emr-platform-prod"
    ));
}

#[test]
fn the_gate_in_the_plan_uses_observed_exposures_and_the_override() {
    let p = policy("emr-platform.yaml");
    let mut o = healthy(&p);
    o.exposures.insert(
        DataTier::Cache,
        Exposure::Known(Duration::from_secs(20 * 60)),
    );
    let refused = build(&p, &o, Acceptance::default());
    assert_eq!(
        refused.rpo.verdict,
        RpoVerdict::Refuse {
            tier: DataTier::Cache,
            exposure: Exposure::Known(Duration::from_secs(1200))
        }
    );
    let accepted = build(&p, &o, Acceptance::up_to(Some(Duration::from_secs(1800))));
    assert!(accepted.rpo.allows());
    // The steps do not change with the gate: the plan is the same DAG.
    assert_eq!(shape(&refused), shape(&accepted));
}

#[test]
fn every_step_kind_a_plan_contains_is_listed_in_all() {
    let p = policy("emr-platform.yaml");
    // Into a region a failback left quiesced: every kind a failover has.
    let mut observed = healthy(&p);
    observed.target_writers_fenced = Some(Seen::Present(true));
    let plan = build(&p, &observed, Acceptance::default());
    let kinds: std::collections::BTreeSet<StepKind> = plan.steps.iter().map(|s| s.kind).collect();
    let failover: std::collections::BTreeSet<StepKind> = StepKind::ALL
        .into_iter()
        .filter(|k| k.in_failover())
        .collect();
    assert_eq!(kinds, failover);
    // With the reprotect and failback plans, every kind is in some plan but
    // the undo, which the executor runs only when a failback fails.
    let reversed = p.oriented(crate::model::Orientation::Reversed);
    let ctx = failback::Context {
        orientation: crate::model::Orientation::Reversed,
        protection: crate::model::Protection::Protected,
        reprotects: 1,
        execution_id: "fb".into(),
        divergence: None,
        divergence_reviewed: None,
        accept: Acceptance::default(),
    };
    let back = failback::build(&reversed, &Default::default(), &ctx);
    let re_ctx = reprotect::Context {
        orientation: crate::model::Orientation::AsWritten,
        protection: crate::model::Protection::Unprotected,
        reprotects: 0,
    };
    let re = reprotect::build(&p, &Default::default(), &re_ctx);
    let mut all: std::collections::BTreeSet<StepKind> = back
        .steps
        .iter()
        .chain(&re.steps)
        .chain(&plan.steps)
        .map(|s| s.kind)
        .collect();
    all.insert(StepKind::UndoQuiesce);
    assert_eq!(all.len(), StepKind::ALL.len());
}

#[test]
fn every_step_of_the_shipped_policy_calls_only_the_activating_region_or_a_data_plane() {
    let p = policy("emr-platform.yaml");
    let plan = build(&p, &healthy(&p), Acceptance::default());
    for s in &plan.steps {
        assert!(!s.calls.is_empty(), "{} declares no call", s.id);
        assert!(
            s.depends_on_primary.is_empty(),
            "{}: {:?}",
            s.id,
            s.depends_on_primary
        );
        for c in &s.calls {
            assert!(c.depends_on("us-east-1").is_none(), "{}: {c}", s.id);
        }
    }
    let flip = plan.step("flip-dns").unwrap();
    let services: Vec<&str> = flip.calls.iter().map(|c| c.service.as_str()).collect();
    assert_eq!(services, ["dns", "route53-recovery-cluster"]);
}

#[test]
fn record_mode_steps_are_marked_as_needing_route53s_control_plane_with_what_to_do() {
    let p = policy("emr-platform-core.yaml");
    let plan = build(&p, &healthy(&p), Acceptance::default());
    let flip = plan.step("flip-dns").unwrap();
    assert_eq!(
        flip.depends_on_primary.len(),
        1,
        "{:?}",
        flip.depends_on_primary
    );
    let why = &flip.depends_on_primary[0];
    assert!(
        why.contains("route53's control plane is served from us-east-1"),
        "{why}"
    );
    assert!(why.contains("mode: routing_control"), "{why}");
    assert!(why.contains("runbooks/failover.md"), "{why}");
    assert!(plan
        .step("promote-database")
        .unwrap()
        .depends_on_primary
        .is_empty());
}

#[test]
fn a_failover_into_a_region_a_failback_quiesced_gives_its_writers_back() {
    let p = policy("emr-platform.yaml");
    let mut observed = healthy(&p);
    let plain = build(&p, &observed, Acceptance::default());
    assert!(plain.step("lift-quiesce").is_none());
    observed.target_writers_fenced = Some(Seen::Present(true));
    let plan = build(&p, &observed, Acceptance::default());
    let lift = plan.step("lift-quiesce").expect("a lift-quiesce step");
    assert_eq!(lift.after, ["promote-database", "failover-cache"]);
    assert_eq!(
        lift.action,
        Action::LiftQuiesce {
            region: "us-west-2".into()
        }
    );
    assert!(lift.depends_on_primary.is_empty(), "{lift:?}");
    let verify = plan.step("verify").unwrap();
    assert!(verify.after.contains(&"lift-quiesce".to_string()));
    // Unreadable or open: no step.
    observed.target_writers_fenced = Some(Seen::Unreadable("timeout".into()));
    assert!(build(&p, &observed, Acceptance::default())
        .step("lift-quiesce")
        .is_none());
}
