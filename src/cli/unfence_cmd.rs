//! `drctl unfence`: gives the application its writes back in a region whose
//! controller fenced them when it was cut off from the majority.

use clap::Args;

use super::remote::{finish, ActionArgs};
use super::Exit;
use crate::api::messages::UnfenceBody;

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
    let s = match args.action.session() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let body = UnfenceBody {
        policy: args.policy,
        confirm: true,
        reason: args.action.reason.clone(),
        operator: Some(args.action.operator.clone()),
    };
    let answer = s.rt.block_on(s.cluster.unfence(&s.token, &body));
    finish(answer, |b| {
        println!("unfenced policy {} on node {}:", b.policy, b.node);
        for line in &b.unfenced {
            println!("  {line}");
        }
    })
}
