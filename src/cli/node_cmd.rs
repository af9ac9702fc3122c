//! `drctl node keygen`: a controller node's signing key.
//!
//! Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600 on Unix) to
//! `--out` and prints its public key, which goes into every node file's
//! `cluster.members[].keys` for this node (see runbooks/controller.md).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Exit;
use crate::consensus::auth::NodeKey;

/// `drctl node ...`
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Write a new node key pair and print the public key.
    ///
    /// The private key (PKCS#8 PEM) goes to --out, which must not exist
    /// yet; name it in the node file as `cluster.node_key_file` or pass it
    /// as DRCTL_NODE_KEY. The printed public key goes into this node's
    /// `keys:` in every member's node file.
    Keygen(KeygenArgs),
}

/// `drctl node keygen`
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key; an existing file is never replaced.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `drctl node ...`.
pub fn run(cmd: NodeCommand) -> Exit {
    match cmd {
        NodeCommand::Keygen(args) => match keygen(&args.out) {
            Ok(public) => {
                println!("{public}");
                Exit::Ok
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Io
            }
        },
    }
}

/// Writes a new private key to `out` and returns its public key's text.
///
/// # Errors
///
/// `out` exists or cannot be written (the message names it).
pub fn keygen(out: &Path) -> Result<String, String> {
    let (key, pem) = NodeKey::generate().map_err(|e| format!("--out {}: {e}", out.display()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(out)
        .map_err(|e| format!("--out {}: {e}", out.display()))?;
    f.write_all(pem.as_bytes())
        .map_err(|e| format!("--out {}: {e}", out.display()))?;
    Ok(key.public_key().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_key_whose_public_half_it_returns_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("node.key");
        let public = keygen(&out).unwrap();
        let key = NodeKey::from_pem(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(key.public_key().to_string(), public);
        let e = keygen(&out).unwrap_err();
        assert!(e.contains("node.key"), "{e}");
        assert_eq!(
            NodeKey::from_pem(&std::fs::read_to_string(&out).unwrap())
                .unwrap()
                .public_key(),
            key.public_key()
        );
    }
}
