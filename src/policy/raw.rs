//! Stage one: the policy file as written, in plain serde types.
//!
//! Values that need checking (durations, sizes, modes) stay strings or wide
//! integers here, so that stage two can report every bad value at once rather
//! than stopping at the first one serde meets. Unknown fields are collected
//! by the loader (see `load.rs`) and reported as errors too.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::duration::DurationText;

/// The whole policy file.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawPolicy {
    #[schemars(required)]
    pub name: Option<String>,
    pub description: Option<String>,
    #[schemars(required)]
    pub regions: Option<RawRegions>,
    #[schemars(required)]
    pub objectives: Option<RawObjectives>,
    #[schemars(required)]
    pub detection: Option<RawDetection>,
    #[schemars(required, extend("enum" = ["automatic", "manual"]))]
    pub mode: Option<String>,
    pub manual_timeout: Option<RawManualTimeout>,
    #[serde(default)]
    pub execution: RawExecution,
    pub routing_control: Option<RawRoutingControl>,
    #[schemars(required)]
    pub tiers: Option<RawTiers>,
    pub fencing: Option<RawFencing>,
    pub readiness: Option<RawReadiness>,
    pub failback: Option<RawFailback>,
}

/// The planned switchover home after a reprotect.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawFailback {
    /// How long the replica may take to hold the last heartbeat written
    /// before the quiesce (default 5m).
    #[schemars(with = "Option<DurationText>")]
    pub drain_timeout: Option<String>,
    /// The longest the platform may have no writer (default 15m).
    #[schemars(with = "Option<DurationText>")]
    pub max_write_pause: Option<String>,
}

/// The reverse MSK Replicator a reprotect creates (DR cluster → home cluster).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawReverseReplicator {
    /// Its name.
    pub name: Option<String>,
    /// The IAM role MSK Replicator assumes.
    pub service_execution_role_arn: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawReadiness {
    #[schemars(with = "Option<DurationText>")]
    pub interval: Option<String>,
    /// The witness controller's IAM role (`arn:aws:iam::<account>:role/<name>`):
    /// the permissions check fails if it may make any of the plan's writes.
    pub witness_role_arn: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawFencing {
    #[schemars(with = "Option<DurationText>")]
    pub self_fence_after: Option<String>,
    #[schemars(with = "Option<DurationText>")]
    pub max_clock_skew: Option<String>,
    pub on_return: Option<bool>,
    pub database: Option<RawDatabaseFencing>,
    pub cache: Option<RawCacheFencing>,
    pub node_groups: Option<RawNodeGroupFencing>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawDatabaseFencing {
    pub connection: Option<String>,
    /// The DR instance as the fencing role, for when the platform runs
    /// from the secondary region (failback quiesces it).
    pub secondary_connection: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawCacheFencing {
    #[schemars(extend("enum" = ["elasticache_user", "acl", null]))]
    pub method: Option<String>,
    pub connection: Option<String>,
    /// The DR member's `redis://` URL (method `acl`), for when the
    /// platform runs from the secondary region.
    pub secondary_connection: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    #[serde(default)]
    pub users: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawNodeGroupFencing {
    pub cluster: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawRoutingControl {
    #[serde(default)]
    pub cluster_endpoints: Vec<RawEndpoint>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawEndpoint {
    pub url: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawRoutingControls {
    pub primary: Option<String>,
    pub secondary: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawRegions {
    #[schemars(required)]
    pub primary: Option<String>,
    #[schemars(required)]
    pub secondary: Option<String>,
    #[schemars(required)]
    pub witness: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawObjectives {
    #[schemars(required)]
    #[schemars(with = "Option<DurationText>")]
    pub rto: Option<String>,
    #[schemars(required)]
    #[schemars(with = "Option<DurationText>")]
    pub rpo: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawDetection {
    #[schemars(with = "Option<DurationText>")]
    pub probe_interval: Option<String>,
    #[schemars(with = "Option<DurationText>")]
    pub probe_timeout: Option<String>,
    pub consecutive_failures: Option<i64>,
    #[schemars(with = "Option<DurationText>")]
    pub hold_down: Option<String>,
    pub probes: Option<RawProbes>,
    /// Probes of the secondary region, used once a reprotect made it active.
    pub secondary_probes: Option<RawProbes>,
    pub heartbeats: Option<RawHeartbeats>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
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

/// By hand, as its `Deserialize` is: a URL string, or a map of the four
/// keys stage two reads.
impl JsonSchema for RawHttpProbe {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HttpProbe".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An HTTP(S) health URL of the primary region, or a map with the URL and how to reach it.",
            "oneOf": [
                { "type": "string", "examples": ["https://api.emr-platform.com/healthz"] },
                {
                    "type": "object",
                    "properties": {
                        "url": { "type": "string", "description": "The URL probed." },
                        "server_name": { "type": "string", "description": "The name presented (SNI) and verified in the certificate instead of the URL's host (https only); also the default Host header." },
                        "host": { "type": "string", "description": "The Host header sent, host or host:port (default: server_name when set, else the URL's host)." },
                        "tls_verify": { "type": "boolean", "description": "Whether the server's certificate is verified (https only; default true)." }
                    },
                    "required": ["url"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawHeartbeats {
    pub database: Option<RawHeartbeat>,
    pub cache: Option<RawHeartbeat>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawHeartbeat {
    pub primary: Option<String>,
    pub replica: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub ca_file: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawManualTimeout {
    #[schemars(with = "Option<DurationText>")]
    pub after: Option<String>,
    #[schemars(extend("enum" = ["proceed", "wait", null]))]
    pub action: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawExecution {
    #[schemars(with = "Option<DurationText>")]
    pub poll_interval: Option<String>,
    #[schemars(with = "Option<DurationText>")]
    pub step_timeout: Option<String>,
    #[schemars(with = "Option<DurationText>")]
    pub call_timeout: Option<String>,
    #[schemars(with = "Option<DurationText>")]
    pub connect_timeout: Option<String>,
    /// Per step kind, the p95 above which `drctl history` flags drift.
    #[schemars(with = "Option<std::collections::BTreeMap<String, DurationText>>")]
    pub step_budgets: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawTiers {
    pub database: Option<RawDatabase>,
    pub node_groups: Option<RawNodeGroups>,
    pub cache: Option<RawCache>,
    pub stream: Option<RawStream>,
    pub dns: Option<RawDns>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawDatabase {
    pub primary: Option<String>,
    pub replica: Option<String>,
    pub required_for_traffic: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawNodeGroups {
    pub cluster: Option<String>,
    /// The primary region's EKS cluster (needed to fail back).
    pub primary_cluster: Option<String>,
    #[serde(default)]
    pub groups: Vec<RawNodeGroup>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawNodeGroup {
    pub name: Option<String>,
    pub min: Option<i64>,
    pub desired: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawCache {
    pub global_datastore: Option<String>,
    pub primary_member: Option<String>,
    pub dr_member: Option<String>,
    #[schemars(with = "Option<DurationText>")]
    pub failover_timeout: Option<String>,
    #[schemars(extend("enum" = ["disassociate", "wait", null]))]
    pub when_primary_region_down: Option<String>,
    pub required_for_traffic: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawStream {
    pub primary_cluster: Option<String>,
    pub dr_cluster: Option<String>,
    pub client_record: Option<RawClientRecord>,
    pub replicator: Option<String>,
    pub reverse_replicator: Option<RawReverseReplicator>,
    #[schemars(extend("enum" = ["record", "routing_control", null]))]
    pub mode: Option<String>,
    pub routing_controls: Option<RawRoutingControls>,
    pub required_for_traffic: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawClientRecord {
    pub zone: Option<String>,
    pub name: Option<String>,
    pub ttl: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawDns {
    pub zone: Option<String>,
    pub record: Option<String>,
    pub primary: Option<RawAlias>,
    pub secondary: Option<RawAlias>,
    #[schemars(extend("enum" = ["record", "routing_control", null]))]
    pub mode: Option<String>,
    pub routing_controls: Option<RawRoutingControls>,
    pub ttl: Option<i64>,
    pub dr_target_groups: Option<Vec<String>>,
    pub primary_target_groups: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawAlias {
    pub alias: Option<String>,
    pub hosted_zone_id: Option<String>,
}
