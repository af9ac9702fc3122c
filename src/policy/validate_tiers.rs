//! Stage two, per tier: each tier's raw values → its checked type.

use std::time::Duration;

use super::raw::*;
use super::validate::Validator;
use super::validate_targets::{DR_FIELD, PRIMARY_FIELD};
use super::*;

impl Validator {
    pub(super) fn database(&mut self, raw: RawDatabase) -> Option<DatabaseTier> {
        let primary = self.name(
            "tiers.database.primary",
            raw.primary,
            "the primary DB instance id",
        );
        let replica = self.name(
            "tiers.database.replica",
            raw.replica,
            "the DR read replica's DB instance id",
        );
        Some(DatabaseTier {
            primary: primary?,
            replica: replica?,
            required_for_traffic: raw.required_for_traffic.unwrap_or(true),
        })
    }

    pub(super) fn node_groups(&mut self, raw: RawNodeGroups) -> Option<NodeGroupTier> {
        let cluster = self.name(
            "tiers.node_groups.cluster",
            raw.cluster,
            "the DR EKS cluster name",
        );
        let primary_cluster = match raw.primary_cluster {
            None => Some(None),
            Some(c) => self
                .name(
                    "tiers.node_groups.primary_cluster",
                    Some(c),
                    "the primary region's EKS cluster name",
                )
                .map(Some),
        };
        if raw.groups.is_empty() {
            self.problem("tiers.node_groups.groups", None, "at least one node group");
        }
        let mut groups = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, g) in raw.groups.into_iter().enumerate() {
            let at = format!("tiers.node_groups.groups[{i}]");
            let name = self.name(&format!("{at}.name"), g.name, "a node group name");
            let min = self.count(&format!("{at}.min"), g.min, 0, 1000);
            let desired = self.count(&format!("{at}.desired"), g.desired, 0, 1000);
            let max = self.count(&format!("{at}.max"), g.max, 1, 1000);
            let (Some(name), Some(min), Some(desired), Some(max)) = (name, min, desired, max)
            else {
                continue;
            };
            if !seen.insert(name.clone()) {
                self.problem(
                    format!("{at}.name"),
                    Some(name.clone()),
                    "a name not used by another group",
                );
            }
            if min > max {
                self.problem(
                    format!("{at}.min"),
                    Some(min.to_string()),
                    format!("at most max ({max})"),
                );
            } else if desired < min || desired > max {
                self.problem(
                    format!("{at}.desired"),
                    Some(desired.to_string()),
                    format!("between min ({min}) and max ({max})"),
                );
            }
            groups.push(NodeGroupTarget {
                name,
                scaling: Scaling { min, desired, max },
            });
        }
        let cluster = cluster?;
        let primary_cluster = primary_cluster?;
        if primary_cluster.as_ref() == Some(&cluster) {
            self.problem(
                "tiers.node_groups.primary_cluster",
                Some(cluster.clone()),
                "a cluster other than the DR cluster (tiers.node_groups.cluster)",
            );
        }
        Some(NodeGroupTier {
            cluster,
            primary_cluster,
            groups,
        })
    }

    pub(super) fn cache(&mut self, raw: RawCache) -> Option<CacheTier> {
        let gds = self.name(
            "tiers.cache.global_datastore",
            raw.global_datastore,
            "the Global Datastore id",
        );
        let primary = self.name(
            "tiers.cache.primary_member",
            raw.primary_member,
            "the primary region's replication group id",
        );
        let dr = self.name(
            "tiers.cache.dr_member",
            raw.dr_member,
            "the DR region's replication group id",
        );
        let (gds, primary, dr) = (gds?, primary?, dr?);
        if primary == dr {
            self.problem(
                "tiers.cache.dr_member",
                Some(dr.clone()),
                "a replication group other than the primary member",
            );
        }
        let failover_timeout = self.positive(
            "tiers.cache.failover_timeout",
            raw.failover_timeout,
            Some(Duration::from_secs(120)),
        );
        let when = match raw.when_primary_region_down.as_deref() {
            None | Some("disassociate") => Some(WhenPrimaryDown::Disassociate),
            Some("wait") => Some(WhenPrimaryDown::Wait),
            Some(other) => {
                self.problem(
                    "tiers.cache.when_primary_region_down",
                    Some(format!("{other:?}")),
                    "disassociate or wait",
                );
                None
            }
        };
        Some(CacheTier {
            global_datastore: gds,
            primary_member: primary,
            dr_member: dr,
            failover_timeout: failover_timeout?,
            when_primary_region_down: when?,
            required_for_traffic: raw.required_for_traffic.unwrap_or(false),
        })
    }

    pub(super) fn stream(&mut self, raw: RawStream) -> Option<StreamTier> {
        let primary = self.name(
            "tiers.stream.primary_cluster",
            raw.primary_cluster,
            "the primary MSK cluster name",
        );
        let dr = self.name(
            "tiers.stream.dr_cluster",
            raw.dr_cluster,
            "the DR MSK cluster name",
        );
        let record = self.required(
            "tiers.stream.client_record",
            raw.client_record,
            "zone and name of the clients' bootstrap record",
        );
        let record = record.and_then(|r| {
            let zone = self.name(
                "tiers.stream.client_record.zone",
                r.zone,
                "the hosted zone name",
            );
            let name = self.name("tiers.stream.client_record.name", r.name, "the record name");
            let ttl = match r.ttl {
                None => Some(60),
                Some(t) => self.count("tiers.stream.client_record.ttl", Some(t), 1, 86_400),
            };
            Some(ClientRecord {
                zone: zone?,
                name: name?,
                ttl: ttl?,
            })
        });
        let replicator = match raw.replicator {
            None => None,
            Some(r) => Some(self.name(
                "tiers.stream.replicator",
                Some(r),
                "the MSK Replicator's name",
            )?),
        };
        let reverse_replicator = match raw.reverse_replicator {
            None => Some(None),
            Some(r) => self.reverse_replicator(r).map(Some),
        };
        let switch = self.switch("tiers.stream", raw.mode, raw.routing_controls);
        Some(StreamTier {
            primary_cluster: primary?,
            dr_cluster: dr?,
            client_record: record?,
            replicator,
            reverse_replicator: reverse_replicator?,
            switch: switch?,
            required_for_traffic: raw.required_for_traffic.unwrap_or(true),
        })
    }

    pub(super) fn dns(&mut self, raw: RawDns) -> Option<DnsTier> {
        let zone = self.name("tiers.dns.zone", raw.zone, "the public hosted zone name");
        let record = self.name("tiers.dns.record", raw.record, "the record to flip");
        let primary = self.alias("tiers.dns.primary", raw.primary);
        let secondary = self.alias("tiers.dns.secondary", raw.secondary);
        let (zone, record) = (zone?, record?);
        let bare = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
        if !(bare(&record) == bare(&zone) || bare(&record).ends_with(&format!(".{}", bare(&zone))))
        {
            self.problem(
                "tiers.dns.record",
                Some(record.clone()),
                format!("a name inside the zone {zone}"),
            );
        }
        let switch = self.switch("tiers.dns", raw.mode, raw.routing_controls);
        let dr_target_groups = self.target_groups(DR_FIELD, raw.dr_target_groups);
        let primary_target_groups = raw
            .primary_target_groups
            .map(|g| self.target_groups(PRIMARY_FIELD, Some(g)));
        let ttl = match raw.ttl {
            None => Some(60),
            Some(t) => self.count("tiers.dns.ttl", Some(t), 1, 86_400),
        };
        let (primary, secondary) = (primary?, secondary?);
        if primary == secondary {
            self.problem(
                "tiers.dns.secondary",
                Some(secondary.dns_name.clone()),
                "a target other than the primary",
            );
        }
        Some(DnsTier {
            zone,
            record,
            primary,
            secondary,
            switch: switch?,
            ttl: ttl?,
            dr_target_groups,
            primary_target_groups,
        })
    }

    pub(super) fn alias(&mut self, path: &str, raw: Option<RawAlias>) -> Option<AliasTarget> {
        let raw = self.required(path, raw, "alias and hosted_zone_id")?;
        let dns_name = self.name(
            &format!("{path}.alias"),
            raw.alias,
            "the load balancer's DNS name",
        );
        let zone = self.name(
            &format!("{path}.hosted_zone_id"),
            raw.hosted_zone_id,
            "the load balancer's hosted zone id",
        );
        Some(AliasTarget {
            dns_name: dns_name?,
            hosted_zone_id: zone?,
        })
    }
}
