//! A controller node's configuration file (`deploy/local/node-1.yaml`).
//!
//! Unknown fields are refused and every problem names the file and the
//! field. Secrets never live in this file: the cluster secret, the node's
//! private key and the API token come from the environment
//! (`DRCTL_CLUSTER_SECRET`, `DRCTL_NODE_KEY`, `DRCTL_API_TOKEN`) or from
//! the files the configuration names; the members' public keys are listed
//! in it. Relative paths are relative to the working directory.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::consensus::auth::{NodeKey, PublicKey, Signer, Verifier};
use crate::consensus::{Member, NodeId};
use crate::policy::{self, Policy};

/// The environment variable that overrides `cluster.secret_file`.
pub const CLUSTER_SECRET_ENV: &str = "DRCTL_CLUSTER_SECRET";
/// The environment variable that overrides `api.token_file`.
pub const API_TOKEN_ENV: &str = "DRCTL_API_TOKEN";

/// The file as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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
    /// Webhooks told of verdicts, failovers and readiness.
    #[serde(default)]
    pub notifications: crate::notify::config::NotificationsSection,
}

/// `node:`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// This node's id, one of `cluster.members`.
    pub id: NodeId,
}

/// `cluster:`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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
    /// A file holding this node's Ed25519 private key (PKCS#8 PEM, written
    /// by `drctl node keygen`), which signs every node-to-node call.
    /// `DRCTL_NODE_KEY` overrides it.
    pub node_key_file: Option<PathBuf>,
    /// How far a peer's clock may be from this node's: signed calls and
    /// probe rounds stamped further away are refused.
    #[serde(default = "default_clock_skew", with = "duration_text")]
    #[schemars(with = "crate::duration::DurationText")]
    pub max_clock_skew: Duration,
    /// How often the leader sends heartbeats.
    #[serde(default = "default_heartbeat", with = "duration_text")]
    #[schemars(with = "crate::duration::DurationText")]
    pub heartbeat: Duration,
    /// A follower without heartbeat for a random time in this range starts
    /// an election.
    #[serde(default = "default_election", with = "duration_range")]
    #[schemars(with = "[crate::duration::DurationText; 2]")]
    pub election_timeout: [Duration; 2],
    /// The longest one node-to-node call may take.
    #[serde(default = "default_rpc_timeout", with = "duration_text")]
    #[schemars(with = "crate::duration::DurationText")]
    pub rpc_timeout: Duration,
}

/// One `cluster.members` entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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
    /// Its Ed25519 public keys (base64, as `drctl node keygen` prints
    /// them). Calls signed by any of them are accepted as this member's:
    /// list two while its key rotates.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// `api:`
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
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
fn default_clock_skew() -> Duration {
    crate::consensus::auth::CLOCK_SKEW_DEFAULT
}
fn default_rpc_timeout() -> Duration {
    Duration::from_millis(400)
}

mod durations;
use durations::{duration_range, duration_text};

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
    /// This node's private key, which signs its node-to-node calls.
    pub node_key: Arc<NodeKey>,
    /// Every member's accepted public keys.
    pub member_keys: std::collections::BTreeMap<NodeId, Vec<PublicKey>>,
    /// How far a peer's clock may be from this node's.
    pub max_clock_skew: Duration,
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
    /// `notifications:`: the webhooks, their secrets read.
    pub notifications: crate::notify::NotifyConfig,
}

impl NodeConfig {
    /// This node as a member.
    pub fn me(&self) -> &Member {
        &self.members[&self.id]
    }

    /// What signs this node's outgoing node-to-node calls.
    pub fn signer(&self) -> Signer {
        Signer {
            id: self.id,
            key: self.node_key.clone(),
            secret: self.secret.clone(),
        }
    }

    /// What checks incoming node-to-node calls.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            keys: self.member_keys.clone(),
            secrets: self.accepted_secrets.clone().into(),
            skew: self.max_clock_skew,
        }
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
    let text = crate::policy::read::read_bounded(path)
        .map_err(|e| err(vec![format!("cannot read: {e}")]))?;
    let file: NodeFile = serde_yaml_ng::from_str(&text).map_err(|e| err(vec![e.to_string()]))?;
    let mut problems = sites::problems(&file.cluster.members);
    let listen = file
        .listen
        .parse::<SocketAddr>()
        .map_err(|e| problems.push(format!("listen: {:?} is not host:port ({e})", file.listen)))
        .ok();
    let mut ids = BTreeSet::new();
    let mut members = std::collections::BTreeMap::new();
    let mut member_keys = std::collections::BTreeMap::new();
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
        if m.keys.is_empty() {
            problems.push(format!(
                "cluster.members[{i}].keys: list the member's public key (printed by `drctl node keygen`)"
            ));
        }
        let mut keys = Vec::new();
        for (j, k) in m.keys.iter().enumerate() {
            match k.parse::<PublicKey>() {
                Ok(k) => keys.push(k),
                Err(e) => problems.push(format!("cluster.members[{i}].keys[{j}]: {e}")),
            }
        }
        member_keys.insert(m.id, keys);
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
    let node_key = read_node_key(c.node_key_file.as_deref())
        .map_err(|p| problems.push(p))
        .ok();
    if let (Some(k), Some(listed)) = (&node_key, member_keys.get(&file.node.id)) {
        if !listed.is_empty() && !listed.contains(&k.public_key()) {
            problems.push(format!(
                "cluster.node_key_file: its public key {} is not among cluster.members[id={}].keys",
                k.public_key(),
                file.node.id
            ));
        }
    }
    if c.max_clock_skew.is_zero() {
        problems.push("cluster.max_clock_skew: must be above zero".into());
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
    let notifications =
        crate::notify::config::resolve(&file.notifications, &|k| std::env::var(k).ok())
            .map_err(|p| problems.extend(p))
            .ok();
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
        node_key: Arc::new(node_key.expect("no problems")),
        member_keys,
        max_clock_skew: c.max_clock_skew,
        token: token.expect("no problems"),
        heartbeat: c.heartbeat,
        election_timeout: c.election_timeout,
        rpc_timeout: c.rpc_timeout,
        allow_other_credentials: file.aws.allow_other_credentials,
        notifications: notifications.expect("no problems"),
    })
}

mod cloud;
mod secrets;
pub use cloud::{CloudConfig, SimConfig};
use secrets::{read_node_key, read_secret};

mod aws;
mod schema;
mod sites;

pub use aws::AwsSection;
pub use schema::schema;

#[cfg(test)]
mod tests;
