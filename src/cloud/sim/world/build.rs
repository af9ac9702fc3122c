//! The world a policy describes, as the simulated cloud starts: its
//! databases, node groups, zones and records, caches, streams and routing
//! controls, in their pre-failover roles.

use super::*;

impl World {
    /// The world `policy` describes, before any failover.
    pub(in crate::cloud::sim) fn from_policy(
        policy: &Policy,
        rng: SmallRng,
        latency: LatencyModel,
        faults: Vec<Fault>,
        lag: BTreeMap<DataTier, Exposure>,
    ) -> Self {
        let (primary, dr) = (&policy.regions.primary, &policy.regions.secondary);
        let now = Instant::now();
        let mut w = World {
            rng,
            latency,
            faults: Vec::new(),
            lag,
            databases: BTreeMap::new(),
            node_groups: BTreeMap::new(),
            zones: BTreeMap::new(),
            changes: BTreeMap::new(),
            datastores: BTreeMap::new(),
            streams: BTreeMap::new(),
            mutations: BTreeMap::new(),
            mutation_log: Vec::new(),
            refused_log: Vec::new(),
            fenced_writers: Default::default(),
            quiesced: BTreeMap::new(),
            calls: BTreeMap::new(),
            transitions: Vec::new(),
            route53_window: VecDeque::new(),
            outage: Default::default(),
            primary_region: primary.clone(),
            replication_groups: BTreeMap::new(),
            routing_controls: BTreeMap::new(),
            routed_records: BTreeMap::new(),
            closed_gating_rules: Vec::new(),
            busy: Vec::new(),
            call_sites: BTreeMap::new(),
            readiness: super::super::readiness::SimReadiness::seeded(policy),
            replicators: BTreeMap::new(),
            creations: Vec::new(),
        };
        for f in faults {
            w.add_fault(f, now);
        }
        let control = |w: &mut World, arn: &str, on: bool| {
            let rc = SimRoutingControl {
                on,
                effective_at: now,
                before: on,
            };
            w.routing_controls.insert(arn.to_string(), rc);
        };
        if let Some(d) = &policy.tiers.dns {
            if let crate::policy::TrafficSwitch::RoutingControl(pair) = &d.switch {
                control(&mut w, &pair.primary, true);
                control(&mut w, &pair.secondary, false);
                w.routed_records.insert(
                    d.record.to_ascii_lowercase(),
                    RoutedRecord {
                        primary_target: d.primary.dns_name.clone(),
                        secondary_target: d.secondary.dns_name.clone(),
                        primary_control: pair.primary.clone(),
                        secondary_control: pair.secondary.clone(),
                    },
                );
            }
        }
        if let Some(st) = &policy.tiers.stream {
            if let crate::policy::TrafficSwitch::RoutingControl(pair) = &st.switch {
                control(&mut w, &pair.primary, true);
                control(&mut w, &pair.secondary, false);
                let host =
                    |region: &str, name: &str| format!("b-1.{name}.kafka.{region}.amazonaws.com");
                w.routed_records.insert(
                    st.client_record.name.to_ascii_lowercase(),
                    RoutedRecord {
                        primary_target: host(primary, &st.primary_cluster),
                        secondary_target: host(dr, &st.dr_cluster),
                        primary_control: pair.primary.clone(),
                        secondary_control: pair.secondary.clone(),
                    },
                );
            }
        }
        let tiers = &policy.tiers;
        if let Some(db) = &tiers.database {
            let available = |source: Option<String>| SimDatabase {
                status: "available".into(),
                replica_source: source,
                pending: None,
                tags: BTreeMap::new(),
            };
            w.databases
                .insert(key(&[primary, &db.primary]), available(None));
            let arn = format!("arn:aws:rds:{primary}:123456789012:db:{}", db.primary);
            w.databases
                .insert(key(&[dr, &db.replica]), available(Some(arn)));
        }
        if let Some(ng) = &tiers.node_groups {
            for g in &ng.groups {
                let minimal = Scaling {
                    min: 1,
                    desired: 1,
                    max: g.scaling.max,
                };
                let group = SimNodeGroup {
                    scaling: minimal,
                    status: "ACTIVE".into(),
                    pending: None,
                };
                w.node_groups
                    .insert(key(&[dr, &ng.cluster, &g.name]), group);
                // The home cluster runs every group at its production size.
                if let Some(home) = &ng.primary_cluster {
                    let group = SimNodeGroup {
                        scaling: g.scaling,
                        status: "ACTIVE".into(),
                        pending: None,
                    };
                    w.node_groups.insert(key(&[primary, home, &g.name]), group);
                }
            }
        }
        // The primary region's node groups that fencing scales to zero,
        // running at the sizes the DR side scales up to.
        if let Some(f) = policy.fencing.as_ref().and_then(|f| f.node_groups.as_ref()) {
            for name in &f.groups {
                let scaling = tiers
                    .node_groups
                    .iter()
                    .flat_map(|n| &n.groups)
                    .find(|g| &g.name == name)
                    .map_or(
                        Scaling {
                            min: 2,
                            desired: 3,
                            max: 6,
                        },
                        |g| g.scaling,
                    );
                let group = SimNodeGroup {
                    scaling,
                    status: "ACTIVE".into(),
                    pending: None,
                };
                w.node_groups
                    .insert(key(&[primary, &f.cluster, name]), group);
            }
        }
        if let Some(c) = &tiers.cache {
            let member = |id: &str, region: &str, role| CacheMember {
                replication_group_id: id.into(),
                region: region.into(),
                role,
                status: "associated".into(),
            };
            let members = vec![
                member(&c.primary_member, primary, MemberRole::Primary),
                member(&c.dr_member, dr, MemberRole::Secondary),
            ];
            let gds = SimDatastore {
                status: "available".into(),
                members,
                pending: None,
                promoting: None,
            };
            w.datastores.insert(c.global_datastore.clone(), gds);
            for (region, id) in [(primary, &c.primary_member), (dr, &c.dr_member)] {
                let rg = SimReplicationGroup {
                    status: "available".into(),
                    global: Some(c.global_datastore.clone()),
                    pending: None,
                };
                w.replication_groups.insert(key(&[region, id]), rg);
            }
        }
        if let Some(s) = &tiers.stream {
            for (region, name) in [(primary, &s.primary_cluster), (dr, &s.dr_cluster)] {
                let hosts = (1..=3)
                    .map(|i| format!("b-{i}.{name}.kafka.{region}.amazonaws.com"))
                    .collect();
                let cluster = StreamClusterState {
                    name: name.clone(),
                    arn: format!("arn:aws:kafka:{region}:123456789012:cluster/{name}/sim"),
                    state: "ACTIVE".into(),
                    bootstrap_hosts: hosts,
                };
                w.streams.insert(key(&[region, name]), cluster);
            }
            w.seed_replicator(policy);
            let target = RecordTarget::Cname {
                value: format!("b-1.{}.kafka.{primary}.amazonaws.com", s.primary_cluster),
                ttl: s.client_record.ttl,
            };
            w.put_record(
                &s.client_record.zone,
                Record {
                    name: s.client_record.name.clone(),
                    target,
                },
            );
        }
        if let Some(d) = &tiers.dns {
            let target = RecordTarget::Alias {
                dns_name: d.primary.dns_name.clone(),
                hosted_zone_id: d.primary.hosted_zone_id.clone(),
            };
            w.put_record(
                &d.zone,
                Record {
                    name: d.record.clone(),
                    target,
                },
            );
        }
        w
    }
}
