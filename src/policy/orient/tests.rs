//! Reading the shipped policy reversed: every pair swapped, and back.

use std::path::Path;

use crate::model::Orientation;
use crate::policy::{CacheTopology, Policy, TrafficSwitch};

fn shipped() -> Policy {
    crate::policy::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"))
        .unwrap()
}

fn pair(s: &TrafficSwitch) -> (String, String) {
    match s {
        TrafficSwitch::RoutingControl(p) => (p.primary.clone(), p.secondary.clone()),
        TrafficSwitch::Record => panic!("the shipped policy switches with routing controls"),
    }
}

#[test]
fn as_written_is_unchanged_and_reversed_twice_is_as_written() {
    let p = shipped();
    assert_eq!(p.oriented(Orientation::AsWritten), p);
    let r = p.oriented(Orientation::Reversed);
    assert_ne!(r, p);
    assert_eq!(r.oriented(Orientation::Reversed), p);
}

#[test]
fn reversed_swaps_every_pair() {
    let p = shipped();
    let r = p.oriented(Orientation::Reversed);
    assert_eq!(
        (r.regions.primary.as_str(), r.regions.secondary.as_str()),
        ("us-west-2", "us-east-1")
    );
    assert_eq!(r.regions.witness, p.regions.witness);
    let (d, rd) = (
        p.tiers.database.as_ref().unwrap(),
        r.tiers.database.as_ref().unwrap(),
    );
    assert_eq!((&rd.primary, &rd.replica), (&d.replica, &d.primary));
    let (n, rn) = (
        p.tiers.node_groups.as_ref().unwrap(),
        r.tiers.node_groups.as_ref().unwrap(),
    );
    assert_eq!(rn.cluster, "emr-integration");
    assert_eq!(rn.primary_cluster.as_deref(), Some(n.cluster.as_str()));
    assert_eq!(rn.groups, n.groups);
    let (c, rc) = (
        p.tiers.cache.as_ref().unwrap(),
        r.tiers.cache.as_ref().unwrap(),
    );
    assert_eq!(
        (&rc.primary_member, &rc.dr_member),
        (&c.dr_member, &c.primary_member)
    );
    let (s, rs) = (
        p.tiers.stream.as_ref().unwrap(),
        r.tiers.stream.as_ref().unwrap(),
    );
    assert_eq!(
        (&rs.primary_cluster, &rs.dr_cluster),
        (&s.dr_cluster, &s.primary_cluster)
    );
    assert_eq!(
        rs.replicator.as_deref(),
        Some("emr-platform-kafka-reverse-replicator")
    );
    assert_eq!(
        rs.reverse_replicator.as_ref().map(|r| r.name.as_str()),
        s.replicator.as_deref()
    );
    let (sp, rsp) = (pair(&s.switch), pair(&rs.switch));
    assert_eq!((rsp.0, rsp.1), (sp.1, sp.0));
    let (t, rt) = (p.tiers.dns.as_ref().unwrap(), r.tiers.dns.as_ref().unwrap());
    assert_eq!((&rt.primary, &rt.secondary), (&t.secondary, &t.primary));
    let (tp, rtp) = (pair(&t.switch), pair(&rt.switch));
    assert_eq!((rtp.0, rtp.1), (tp.1, tp.0));
    assert!(rt.dr_target_groups[0].contains(":us-east-1:"), "{rt:?}");
    assert_eq!(Some(&rt.dr_target_groups), t.primary_target_groups.as_ref());
    assert_eq!(rt.primary_target_groups.as_ref(), Some(&t.dr_target_groups));
    let (h, rh) = (
        p.detection.heartbeats.database.as_ref().unwrap(),
        r.detection.heartbeats.database.as_ref().unwrap(),
    );
    assert_eq!((&rh.primary, &rh.replica), (&h.replica, &h.primary));
    assert_eq!(
        Some(&r.detection.probes),
        p.detection.secondary_probes.as_ref()
    );
    assert_eq!(
        r.detection.secondary_probes.as_ref(),
        Some(&p.detection.probes)
    );
    let (f, rf) = (p.fencing.as_ref().unwrap(), r.fencing.as_ref().unwrap());
    let (fd, rfd) = (f.database.as_ref().unwrap(), rf.database.as_ref().unwrap());
    assert_eq!(Some(&rfd.connection), fd.secondary_connection.as_ref());
    assert!(rfd.connection.contains("us-west-2"), "{}", rfd.connection);
    assert_eq!(
        rf.node_groups.as_ref().unwrap().cluster,
        "emr-integration-dr"
    );
}

#[test]
fn the_shipped_policy_has_no_orientation_gap_and_a_bare_one_names_each_field() {
    let p = shipped();
    assert_eq!(p.orientation_gaps(), Vec::<String>::new());
    let mut bare = p.clone();
    bare.detection.secondary_probes = None;
    bare.tiers.node_groups.as_mut().unwrap().primary_cluster = None;
    bare.tiers.stream.as_mut().unwrap().reverse_replicator = None;
    let f = bare.fencing.as_mut().unwrap();
    f.database.as_mut().unwrap().secondary_connection = None;
    bare.tiers.dns.as_mut().unwrap().primary_target_groups = None;
    let gaps = bare.orientation_gaps();
    for field in [
        "tiers.dns.primary_target_groups",
        "detection.secondary_probes",
        "tiers.node_groups.primary_cluster",
        "tiers.stream.reverse_replicator",
        "fencing.database.secondary_connection",
    ] {
        assert!(gaps.iter().any(|g| g.contains(field)), "{field}: {gaps:?}");
    }
}

#[test]
fn a_recorded_cache_topology_replaces_the_home_member_and_datastore() {
    let p = shipped();
    let topology = CacheTopology {
        global_datastore: Some("ldgnf-emr-platform-redis".into()),
        home_member: Some("emr-platform-redis-r1".into()),
    };
    let r = p
        .with_cache_topology(&topology)
        .oriented(Orientation::Reversed);
    let c = r.tiers.cache.as_ref().unwrap();
    assert_eq!(c.global_datastore, "ldgnf-emr-platform-redis");
    assert_eq!(c.dr_member, "emr-platform-redis-r1");
    assert_eq!(c.primary_member, "emr-platform-redis-dr");
}
