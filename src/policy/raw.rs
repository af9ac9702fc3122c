//! Stage one: the policy file as written, in plain serde types.
//!
//! Values that need checking (durations, sizes, modes) stay strings or wide
//! integers here, so that stage two can report every bad value at once rather
//! than stopping at the first one serde meets. Unknown fields are collected
//! by the loader (see `load.rs`) and reported as errors too.

use serde::Deserialize;

/// The whole policy file.
#[derive(Debug, Deserialize)]
pub struct RawPolicy {
    pub name: Option<String>,
    pub description: Option<String>,
    pub regions: Option<RawRegions>,
    pub objectives: Option<RawObjectives>,
    pub detection: Option<RawDetection>,
    pub mode: Option<String>,
    pub manual_timeout: Option<RawManualTimeout>,
    #[serde(default)]
    pub execution: RawExecution,
    pub routing_control: Option<RawRoutingControl>,
    pub tiers: Option<RawTiers>,
    pub fencing: Option<RawFencing>,
}

#[derive(Debug, Deserialize)]
pub struct RawFencing {
    pub self_fence_after: Option<String>,
    pub max_clock_skew: Option<String>,
    pub on_return: Option<bool>,
    pub database: Option<RawDatabaseFencing>,
    pub cache: Option<RawCacheFencing>,
    pub node_groups: Option<RawNodeGroupFencing>,
}

#[derive(Debug, Deserialize)]
pub struct RawDatabaseFencing {
    pub connection: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawCacheFencing {
    pub method: Option<String>,
    pub connection: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    #[serde(default)]
    pub users: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawNodeGroupFencing {
    pub cluster: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawRoutingControl {
    #[serde(default)]
    pub cluster_endpoints: Vec<RawEndpoint>,
}

#[derive(Debug, Deserialize)]
pub struct RawEndpoint {
    pub url: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawRoutingControls {
    pub primary: Option<String>,
    pub secondary: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawRegions {
    pub primary: Option<String>,
    pub secondary: Option<String>,
    pub witness: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawObjectives {
    pub rto: Option<String>,
    pub rpo: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawDetection {
    pub probe_interval: Option<String>,
    pub probe_timeout: Option<String>,
    pub consecutive_failures: Option<i64>,
    pub hold_down: Option<String>,
    pub probes: Option<RawProbes>,
    pub heartbeats: Option<RawHeartbeats>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawProbes {
    #[serde(default)]
    pub http: Vec<RawHttpProbe>,
    #[serde(default)]
    pub tcp: Vec<String>,
    pub database_status: Option<bool>,
    pub health_check: Option<String>,
}

/// One `detection.probes.http` entry: a URL, or a map (`url`,
/// `server_name`, `host`, `tls_verify`) kept as written, every key and
/// value checked in stage two, unknown keys included.
#[derive(Debug)]
pub enum RawHttpProbe {
    Url(String),
    Fields(Vec<(String, serde_yaml_ng::Value)>),
}

impl<'de> Deserialize<'de> for RawHttpProbe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawHttpProbe;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a URL, or a map with url and optional server_name, host, tls_verify")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawHttpProbe, E> {
                Ok(RawHttpProbe::Url(v.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawHttpProbe, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    fields.push((key, map.next_value()?));
                }
                Ok(RawHttpProbe::Fields(fields))
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawHeartbeats {
    pub database: Option<RawHeartbeat>,
    pub cache: Option<RawHeartbeat>,
}

#[derive(Debug, Deserialize)]
pub struct RawHeartbeat {
    pub primary: Option<String>,
    pub replica: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawManualTimeout {
    pub after: Option<String>,
    pub action: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawExecution {
    pub poll_interval: Option<String>,
    pub step_timeout: Option<String>,
    pub call_timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub step_budgets: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawTiers {
    pub database: Option<RawDatabase>,
    pub node_groups: Option<RawNodeGroups>,
    pub cache: Option<RawCache>,
    pub stream: Option<RawStream>,
    pub dns: Option<RawDns>,
}

#[derive(Debug, Deserialize)]
pub struct RawDatabase {
    pub primary: Option<String>,
    pub replica: Option<String>,
    pub required_for_traffic: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct RawNodeGroups {
    pub cluster: Option<String>,
    #[serde(default)]
    pub groups: Vec<RawNodeGroup>,
}

#[derive(Debug, Deserialize)]
pub struct RawNodeGroup {
    pub name: Option<String>,
    pub min: Option<i64>,
    pub desired: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct RawCache {
    pub global_datastore: Option<String>,
    pub primary_member: Option<String>,
    pub dr_member: Option<String>,
    pub failover_timeout: Option<String>,
    pub when_primary_region_down: Option<String>,
    pub required_for_traffic: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct RawStream {
    pub primary_cluster: Option<String>,
    pub dr_cluster: Option<String>,
    pub client_record: Option<RawClientRecord>,
    pub replicator: Option<String>,
    pub mode: Option<String>,
    pub routing_controls: Option<RawRoutingControls>,
    pub required_for_traffic: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct RawClientRecord {
    pub zone: Option<String>,
    pub name: Option<String>,
    pub ttl: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct RawDns {
    pub zone: Option<String>,
    pub record: Option<String>,
    pub primary: Option<RawAlias>,
    pub secondary: Option<RawAlias>,
    pub mode: Option<String>,
    pub routing_controls: Option<RawRoutingControls>,
    pub ttl: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct RawAlias {
    pub alias: Option<String>,
    pub hosted_zone_id: Option<String>,
}
