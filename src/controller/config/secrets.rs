//! Reading the secrets a node file names: the cluster secret, the API
//! token and the node's private key, each from the environment first.

use std::path::Path;
use std::sync::Arc;

use crate::consensus::auth::{NodeKey, NODE_KEY_ENV};

/// The node's private key from `DRCTL_NODE_KEY`, else from `file`.
pub(super) fn read_node_key(file: Option<&Path>) -> Result<NodeKey, String> {
    let field = "cluster.node_key_file";
    let text = match (std::env::var(NODE_KEY_ENV).ok().filter(|v| !v.is_empty()), file) {
        (Some(v), _) => v,
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| format!("{field}: cannot read {}: {e}", f.display()))?,
        (None, None) => {
            return Err(format!(
                "{field}: not set, and {NODE_KEY_ENV} is not in the environment (create a key with `drctl node keygen --out FILE`)"
            ))
        }
    };
    NodeKey::from_pem(&text).map_err(|e| format!("{field} ({NODE_KEY_ENV}): {e}"))
}

/// A secret from the environment, else from a file; at least 16 characters.
pub(super) fn read_secret(env: &str, file: Option<&Path>, field: &str) -> Result<Arc<str>, String> {
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
