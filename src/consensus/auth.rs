//! Per-node authentication of node-to-node calls (raft RPC, `/raft/elect`,
//! `/raft/observe`).
//!
//! Every node holds its own Ed25519 key and every member's public keys.
//! Each call is signed over its method, path, sender node id, timestamp
//! (Unix ms) and the SHA-256 of its body; the receiver verifies the
//! signature with the keys listed for the node the call claims to come
//! from, and refuses timestamps more than the clock-skew bound away from
//! its own clock, so a captured call cannot be replayed later. A node can
//! therefore speak only for itself: the witness cannot send a round as
//! another site. The cluster secret is still sent and checked as well.
//!
//! Several public keys may be listed per member, so keys rotate without
//! downtime: list the new key beside the old one everywhere, switch the
//! node's private key, then drop the old key (runbooks/controller.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use super::network::{secret_ok, SECRET_HEADER};
use super::NodeId;

/// The header naming the node a call comes from.
pub const NODE_HEADER: &str = "x-drctl-node";
/// The header carrying the call's timestamp, Unix milliseconds.
pub const TIME_HEADER: &str = "x-drctl-time";
/// The header carrying the call's Ed25519 signature, base64.
pub const SIGNATURE_HEADER: &str = "x-drctl-signature";
/// The environment variable that overrides `cluster.node_key_file`: the
/// node's private key, PKCS#8 PEM.
pub const NODE_KEY_ENV: &str = "DRCTL_NODE_KEY";
/// The default bound on clock differences between nodes: signed calls and
/// probe rounds stamped further than this from the receiver's clock are
/// refused (`cluster.max_clock_skew` in the node file).
pub const CLOCK_SKEW_DEFAULT: Duration = Duration::from_secs(5);

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// A node's private Ed25519 key.
pub struct NodeKey(Ed25519KeyPair);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key itself.
        write!(f, "NodeKey({})", self.public_key())
    }
}

impl NodeKey {
    /// A new random key, with its PKCS#8 PEM text (what `drctl node keygen`
    /// writes).
    ///
    /// # Errors
    ///
    /// The system's random source failed.
    pub fn generate() -> Result<(Self, String), String> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "no randomness".to_string())?;
        let body = B64.encode(doc.as_ref());
        let pem = format!("{PEM_BEGIN}\n{body}\n{PEM_END}\n");
        Ok((Self::from_pem(&pem)?, pem))
    }

    /// Reads a PKCS#8 PEM (or bare base64 PKCS#8) Ed25519 private key.
    ///
    /// # Errors
    ///
    /// Not base64, or not an Ed25519 PKCS#8 document. The message never
    /// quotes the key.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let body: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----"))
            .collect();
        let der = B64
            .decode(body.as_bytes())
            .map_err(|_| "not a PEM or base64 PKCS#8 private key".to_string())?;
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map(Self)
            .map_err(|e| format!("not an Ed25519 PKCS#8 private key ({e})"))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.0.public_key().as_ref());
        PublicKey(k)
    }
}

/// An Ed25519 public key, written as base64 of its 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl std::str::FromStr for PublicKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = B64
            .decode(s.trim().as_bytes())
            .map_err(|e| format!("{s:?} is not base64 ({e})"))?;
        let k: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{s:?} is {} bytes; an Ed25519 key is 32", b.len()))?;
        Ok(Self(k))
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&B64.encode(self.0))
    }
}

/// The bytes a signature covers.
fn message(method: &str, path: &str, node: NodeId, at_ms: u64, body: &[u8]) -> Vec<u8> {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    let mut m = format!("drctl-node-call-v1\n{method}\n{path}\n{node}\n{at_ms}\n").into_bytes();
    m.extend_from_slice(digest.as_ref());
    m
}

/// Signs this node's outgoing calls (and sends the cluster secret).
#[derive(Debug, Clone)]
pub struct Signer {
    /// This node.
    pub id: NodeId,
    /// Its private key.
    pub key: Arc<NodeKey>,
    /// The cluster secret, sent as well.
    pub secret: Arc<str>,
}

impl Signer {
    /// The authentication headers of a call stamped `at_ms`.
    pub fn headers(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        at_ms: u64,
    ) -> [(&'static str, String); 4] {
        let sig = self
            .key
            .0
            .sign(&message(method, path, self.id, at_ms, body));
        [
            (SECRET_HEADER, self.secret.to_string()),
            (NODE_HEADER, self.id.to_string()),
            (TIME_HEADER, at_ms.to_string()),
            (SIGNATURE_HEADER, B64.encode(sig.as_ref())),
        ]
    }

    /// `call`, signed by this node now (its path and body).
    pub fn sign(&self, mut call: super::transport::Call) -> super::transport::Call {
        let method = match call.method {
            super::transport::Method::Get => "GET",
            super::transport::Method::Post => "POST",
        };
        let signed = self.headers(method, &call.path, &call.body, crate::clock::now_ms());
        call.headers
            .extend(signed.into_iter().map(|(k, v)| (k.to_string(), v)));
        call
    }

    /// A signed `POST {base}{path}` carrying `body` as JSON.
    pub fn post(
        &self,
        http: &reqwest::Client,
        base: &str,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let mut rb = http
            .post(format!("{}{path}", base.trim_end_matches('/')))
            .header("content-type", "application/json");
        for (k, v) in self.headers("POST", path, &body, crate::clock::now_ms()) {
            rb = rb.header(k, v);
        }
        rb.body(body)
    }
}

/// Why a node-to-node call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The cluster secret is missing or wrong.
    #[error("missing or wrong cluster secret (x-drctl-cluster-secret); every node must use the same secret_file or DRCTL_CLUSTER_SECRET")]
    Secret,
    /// A header is missing or malformed.
    #[error("header {0} missing or malformed")]
    Header(&'static str),
    /// The claimed sender is not a member with keys.
    #[error("node {0} is not a member with public keys in cluster.members")]
    UnknownNode(NodeId),
    /// The timestamp is too far from this node's clock.
    #[error("call stamped {off_ms} ms away from this node's clock (bound {skew_ms} ms): replayed, or clocks drift")]
    Skew {
        /// How far off, in ms.
        off_ms: u64,
        /// The bound, in ms.
        skew_ms: u64,
    },
    /// No listed key of the claimed sender verifies the signature.
    #[error("signature does not verify with any public key listed for node {0}")]
    Signature(NodeId),
}

impl AuthError {
    /// A bounded label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Header(_) => "header",
            Self::UnknownNode(_) => "unknown_node",
            Self::Skew { .. } => "skew",
            Self::Signature(_) => "signature",
        }
    }
}

/// Checks incoming node-to-node calls.
#[derive(Debug, Clone)]
pub struct Verifier {
    /// Each member's accepted public keys.
    pub keys: BTreeMap<NodeId, Vec<PublicKey>>,
    /// The cluster secrets accepted.
    pub secrets: Arc<[Arc<str>]>,
    /// The bound on clock differences.
    pub skew: Duration,
}

impl Verifier {
    /// The node a call comes from, once its secret, timestamp (against
    /// `now_ms`) and signature are verified.
    ///
    /// # Errors
    ///
    /// Why the call is refused.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        now_ms: u64,
    ) -> Result<NodeId, AuthError> {
        if !secret_ok(headers, &self.secrets) {
            return Err(AuthError::Secret);
        }
        let text = |h: &'static str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .ok_or(AuthError::Header(h))
        };
        let node: NodeId = text(NODE_HEADER)?
            .parse()
            .map_err(|_| AuthError::Header(NODE_HEADER))?;
        let at_ms: u64 = text(TIME_HEADER)?
            .parse()
            .map_err(|_| AuthError::Header(TIME_HEADER))?;
        let sig = B64
            .decode(text(SIGNATURE_HEADER)?)
            .map_err(|_| AuthError::Header(SIGNATURE_HEADER))?;
        let keys = self
            .keys
            .get(&node)
            .filter(|k| !k.is_empty())
            .ok_or(AuthError::UnknownNode(node))?;
        let off_ms = at_ms.abs_diff(now_ms);
        let skew_ms = self.skew.as_millis() as u64;
        if off_ms > skew_ms {
            return Err(AuthError::Skew { off_ms, skew_ms });
        }
        let m = message(method, path, node, at_ms, body);
        // Try every key, so timing does not tell which one matched.
        let ok = keys.iter().fold(false, |ok, k| {
            ok | UnparsedPublicKey::new(&ED25519, &k.0)
                .verify(&m, &sig)
                .is_ok()
        });
        if ok {
            Ok(node)
        } else {
            Err(AuthError::Signature(node))
        }
    }
}

#[cfg(test)]
mod tests;
