//! `cloud:` in a node file: the AWS SDK's default chain or a simulated cloud.

use schemars::JsonSchema;
use serde::Deserialize;

/// `cloud:`, either `aws` or `{sim: {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "CloudRaw")]
pub enum CloudConfig {
    /// The AWS SDK's default chain (credentials, region, endpoints).
    #[default]
    Aws,
    /// The simulated cloud.
    Sim(SimConfig),
}

/// `cloud:` as written: a name or a map.
#[derive(Deserialize)]
#[serde(untagged)]
enum CloudRaw {
    Name(String),
    Sim { sim: SimConfig },
}

impl TryFrom<CloudRaw> for CloudConfig {
    type Error = String;

    fn try_from(raw: CloudRaw) -> Result<Self, String> {
        match raw {
            CloudRaw::Name(n) if n == "aws" => Ok(Self::Aws),
            CloudRaw::Name(n) if n == "sim" => Ok(Self::Sim(SimConfig::default())),
            CloudRaw::Name(n) => Err(format!(
                "cloud: {n:?} is not a cloud; expected aws, sim or {{sim: {{url: ...}}}}"
            )),
            CloudRaw::Sim { sim } => Ok(Self::Sim(sim)),
        }
    }
}

/// By hand, as its `Deserialize` goes through `CloudRaw`: `aws`, `sim`, or
/// `{sim: {...}}`.
impl JsonSchema for CloudConfig {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CloudConfig".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let sim = generator.subschema_for::<SimConfig>();
        schemars::json_schema!({
            "description": "The cloud the executor acts on: aws (the AWS SDK's default chain), sim (a simulated cloud of this node's own), or {sim: {...}}.",
            "default": "aws",
            "oneOf": [
                { "type": "string", "enum": ["aws", "sim"] },
                {
                    "type": "object",
                    "properties": { "sim": sim },
                    "required": ["sim"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// `cloud: {sim: ...}`
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// A shared simulated cloud served by `drctl sim serve` (what a
    /// multi-process local cluster uses, so that every node sees the same
    /// world). Without it the node holds its own simulated world.
    pub url: Option<String>,
    /// Latency scale of an own world (1.0 = AWS-like minutes).
    pub scale: Option<f64>,
    /// Seed of an own world.
    pub seed: Option<u64>,
}
