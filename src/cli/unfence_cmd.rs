//! `drctl unfence`: gives the application its writes back in a region whose
//! controller fenced them when it was cut off from the majority.

use clap::Args;

use super::remote::{action, ActionArgs};
use super::Exit;

/// `drctl unfence` arguments.
#[derive(Debug, Args)]
pub struct UnfenceArgs {
    /// The policy (needed only when the node has several).
    #[arg(long = "policy-name")]
    pub policy: Option<String>,
    /// Really lift the fence. Without it, nothing is sent: lifting it
    /// while the DR region serves makes two writers.
    #[arg(long)]
    pub confirm: bool,
    /// Who, why, and the node that fenced (its own URL: the request is not
    /// forwarded).
    #[command(flatten)]
    pub action: ActionArgs,
}

/// Sends the unfence to the node that fenced.
pub(super) fn run(args: UnfenceArgs) -> Exit {
    let urls = &args.action.controller.controller;
    if urls.len() != 1 {
        eprintln!(
            "error: --controller: unfence goes to the one node that fenced, never to another member; give exactly one URL (got {})",
            urls.len()
        );
        return Exit::Usage;
    }
    if !args.confirm {
        eprintln!(
            "unfence gives the application back its writes in the region of node {}; \
             run it only once that region is the only writer again (after a failback, or when no failover happened). \
             Check first: drctl status --controller {}. Nothing was sent; add --confirm to unfence.",
            urls[0], urls[0]
        );
        return Exit::Usage;
    }
    let body = serde_json::json!({ "policy": args.policy, "confirm": true });
    action(&args.action, "/v1/unfence", body, |b| {
        println!(
            "unfenced policy {} on node {}:",
            b["policy"].as_str().unwrap_or("?"),
            b["node"]
        );
        for line in b["unfenced"].as_array().into_iter().flatten() {
            println!("  {}", line.as_str().unwrap_or(""));
        }
    })
}
