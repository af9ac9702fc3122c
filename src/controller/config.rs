//! A controller node's configuration file (`deploy/local/node-1.yaml`).
//!
//! Unknown fields are refused and every problem names the file and the
//! field. Secrets never live in this file: the cluster secret and the API
//! token come from the environment (`DRCTL_CLUSTER_SECRET`,
//! `DRCTL_API_TOKEN`) or from the files the configuration names. Relative
//! paths are relative to the working directory.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::consensus::{Member, NodeId};
use crate::policy::{self, Policy};

/// The environment variable that overrides `cluster.secret_file`.
pub const CLUSTER_SECRET_ENV: &str = "DRCTL_CLUSTER_SECRET";
/// The environment variable that overrides `api.token_file`.
pub const API_TOKEN_ENV: &str = "DRCTL_API_TOKEN";

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Which member this node is.
    pub node: NodeSection,
    /// Where the API and raft RPC listen, like `127.0.0.1:7101`.
    pub listen: String,
    /// Where the raft log, vote and state machine are kept.
    pub data_dir: PathBuf,
    /// The failover policies this cluster owns.
    pub policies: Vec<PathBuf>,
    /// The cloud the executor acts on.
    #[serde(default)]
    pub cloud: CloudConfig,
    /// The cluster.
    pub cluster: ClusterSection,
    /// The HTTP API.
    #[serde(default)]
    pub api: ApiSection,
    /// AWS credentials.
    #[serde(default)]
    pub aws: AwsSection,
}

/// `node:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// This node's id, one of `cluster.members`.
    pub id: NodeId,
}

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

/// `cloud: {sim: ...}`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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

/// `cluster:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// Every voter: one per site.
    pub members: Vec<MemberEntry>,
    /// A file holding the shared secret that authenticates raft RPC: sent
    /// with every call, and accepted.
    pub secret_file: Option<PathBuf>,
    /// Files holding further secrets that are accepted but not sent: the
    /// next secret during a rotation (see runbooks/controller.md).
    #[serde(default)]
    pub accept_secret_files: Vec<PathBuf>,
    /// How often the leader sends heartbeats.
    #[serde(default = "default_heartbeat", with = "duration_text")]
    pub heartbeat: Duration,
    /// A follower without heartbeat for a random time in this range starts
    /// an election.
    #[serde(default = "default_election", with = "duration_range")]
    pub election_timeout: [Duration; 2],
    /// The longest one node-to-node call may take.
    #[serde(default = "default_rpc_timeout", with = "duration_text")]
    pub rpc_timeout: Duration,
}

/// One `cluster.members` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// Its id.
    pub id: NodeId,
    /// Its site (region).
    pub site: String,
    /// Its base URL (`http://host:port`).
    pub addr: String,
    /// Whether it is the witness.
    #[serde(default)]
    pub witness: bool,
}

/// `api:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// A file holding the bearer token for authenticated requests.
    pub token_file: Option<PathBuf>,
}

// Inter-region links: 15–70 ms of round trip between the three sites and
// the occasional lost packet. openraft followers campaign after their
// leader lease (the range's upper end) plus their own timeout within the
// range: with a heartbeat every 150 ms (over twice the longest round trip)
// and a 450–900 ms range, 1.35–1.8 s of silence (nine or more heartbeats
// lost in a row) starts an election, where the library's LAN defaults
// (50 ms, 150–300 ms) would campaign after a few hundred milliseconds of
// jitter. A dead leader is replaced within about two seconds.
fn default_heartbeat() -> Duration {
    Duration::from_millis(150)
}
fn default_election() -> [Duration; 2] {
    [Duration::from_millis(450), Duration::from_millis(900)]
}
fn default_rpc_timeout() -> Duration {
    Duration::from_millis(400)
}

mod duration_text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        crate::duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

mod duration_range {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[Duration; 2], D::Error> {
        let [a, b] = <[String; 2]>::deserialize(d)?;
        let p = |s: &str| crate::duration::parse(s).map_err(serde::de::Error::custom);
        Ok([p(&a)?, p(&b)?])
    }
}

/// A validated node configuration, secrets resolved and policies loaded.
/// `Debug` masks the secrets (see `config/sites.rs`).
#[derive(Clone)]
pub struct NodeConfig {
    /// The file it came from.
    pub source: PathBuf,
    /// This node's id.
    pub id: NodeId,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// Every voter by id.
    pub members: std::collections::BTreeMap<NodeId, Member>,
    /// The policies, by name.
    pub policies: std::collections::BTreeMap<String, Arc<Policy>>,
    /// The cloud.
    pub cloud: CloudConfig,
    /// The cluster secret, sent with every raft call.
    pub secret: Arc<str>,
    /// Every secret accepted on raft calls: the cluster secret first, then
    /// those of `accept_secret_files`.
    pub accepted_secrets: Vec<Arc<str>>,
    /// The API token.
    pub token: Arc<str>,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Election timeout range.
    pub election_timeout: [Duration; 2],
    /// Per-call RPC timeout.
    pub rpc_timeout: Duration,
    /// `aws.allow_other_credentials`: any AWS credentials, not only the
    /// pod's own role, are accepted in Kubernetes.
    pub allow_other_credentials: bool,
}

impl NodeConfig {
    /// This node as a member.
    pub fn me(&self) -> &Member {
        &self.members[&self.id]
    }
}

/// A configuration problem, naming the file and the field.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", path.display(), problems.join("\n  "))]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// Every problem found.
    pub problems: Vec<String>,
}

/// Reads, validates and resolves a node configuration.
///
/// # Errors
///
/// Every problem at once: unreadable or malformed file, unknown fields,
/// inconsistent members, missing secrets, invalid policies.
pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
    let err = |problems: Vec<String>| ConfigError {
        path: path.to_path_buf(),
        problems,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(vec![format!("cannot read: {e}")]))?;
    let file: NodeFile = serde_yaml_ng::from_str(&text).map_err(|e| err(vec![e.to_string()]))?;
    let mut problems = sites::problems(&file.cluster.members);
    let listen = file
        .listen
        .parse::<SocketAddr>()
        .map_err(|e| problems.push(format!("listen: {:?} is not host:port ({e})", file.listen)))
        .ok();
    let mut ids = BTreeSet::new();
    let mut members = std::collections::BTreeMap::new();
    for (i, m) in file.cluster.members.iter().enumerate() {
        if !ids.insert(m.id) {
            problems.push(format!("cluster.members[{i}].id: {} appears twice", m.id));
        }
        if !(m.addr.starts_with("http://") || m.addr.starts_with("https://")) {
            problems.push(format!(
                "cluster.members[{i}].addr: {:?} must be an http:// or https:// URL",
                m.addr
            ));
        }
        members.insert(
            m.id,
            Member {
                site: m.site.clone(),
                addr: m.addr.trim_end_matches('/').to_string(),
                witness: m.witness,
            },
        );
    }
    if members.len() < 3 || members.len() % 2 == 0 {
        problems.push(format!(
            "cluster.members: {} members; a cluster that survives the loss of a site needs an odd number, at least 3 (one per site plus a witness)",
            members.len()
        ));
    }
    if members.values().filter(|m| !m.witness).count() < 2 {
        problems.push(
            "cluster.members: at least two members must not be witnesses (they execute)".into(),
        );
    }
    if !members.contains_key(&file.node.id) {
        problems.push(format!(
            "node.id: {} is not one of cluster.members ({:?})",
            file.node.id,
            members.keys().collect::<Vec<_>>()
        ));
    }
    let c = &file.cluster;
    let [emin, emax] = c.election_timeout;
    if emin >= emax {
        problems.push("cluster.election_timeout: the first value must be below the second".into());
    }
    if c.heartbeat * 3 > emin {
        problems.push(format!(
            "cluster.heartbeat: {} leaves fewer than 3 heartbeats per election timeout ({}); followers would start needless elections",
            crate::duration::fmt(c.heartbeat),
            crate::duration::fmt(emin)
        ));
    }
    if c.rpc_timeout >= emin {
        problems.push("cluster.rpc_timeout: must be below the election timeout".into());
    }
    let secret = read_secret(
        CLUSTER_SECRET_ENV,
        c.secret_file.as_deref(),
        "cluster.secret_file",
    )
    .map_err(|p| problems.push(p))
    .ok();
    let mut accepted: Vec<Arc<str>> = secret.iter().cloned().collect();
    for (i, f) in c.accept_secret_files.iter().enumerate() {
        match read_secret("", Some(f), &format!("cluster.accept_secret_files[{i}]")) {
            Ok(s) => accepted.push(s),
            Err(p) => problems.push(p),
        }
    }
    let token = read_secret(
        API_TOKEN_ENV,
        file.api.token_file.as_deref(),
        "api.token_file",
    )
    .map_err(|p| problems.push(p))
    .ok();
    if let CloudConfig::Sim(s) = &file.cloud {
        if let Some(scale) = s.scale {
            if !(scale > 0.0 && scale <= 10.0) {
                problems.push(format!("cloud.sim.scale: {scale} must be in (0, 10]"));
            }
        }
    }
    let mut policies = std::collections::BTreeMap::new();
    if file.policies.is_empty() {
        problems.push("policies: name at least one policy file".into());
    }
    for (i, p) in file.policies.iter().enumerate() {
        match policy::load(p) {
            Ok(p) => {
                if policies.insert(p.name.clone(), Arc::new(p)).is_some() {
                    problems.push(format!("policies[{i}]: a second policy with the same name"));
                }
            }
            Err(e) => problems.push(format!("policies[{i}]: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(err(problems));
    }
    Ok(NodeConfig {
        source: path.to_path_buf(),
        id: file.node.id,
        listen: listen.expect("no problems"),
        data_dir: file.data_dir,
        members,
        policies,
        cloud: file.cloud,
        secret: secret.expect("no problems"),
        accepted_secrets: accepted,
        token: token.expect("no problems"),
        heartbeat: c.heartbeat,
        election_timeout: c.election_timeout,
        rpc_timeout: c.rpc_timeout,
        allow_other_credentials: file.aws.allow_other_credentials,
    })
}

/// A secret from the environment, else from a file; at least 16 characters.
fn read_secret(env: &str, file: Option<&Path>, field: &str) -> Result<Arc<str>, String> {
    let from_env = (!env.is_empty())
        .then(|| std::env::var(env).ok())
        .flatten()
        .filter(|v| !v.is_empty());
    let value = match (from_env, file) {
        (Some(v), _) => v,
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| format!("{field}: cannot read {}: {e}", f.display()))?,
        (None, None) => {
            return Err(format!(
                "{field}: not set, and {env} is not in the environment"
            ))
        }
    };
    let value = value.trim().to_string();
    if value.len() < 16 {
        return Err(format!(
            "{field} ({env}): the secret must be at least 16 characters"
        ));
    }
    Ok(value.into())
}

mod aws;
mod sites;

pub use aws::AwsSection;

#[cfg(test)]
mod tests;
