//! `drctl controller`, `drctl sim serve` and `drctl health`: the long-running
//! processes and their probe.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tracing::warn;

use super::{live_runtime, Exit, PolicyArg};
use crate::cloud::aws::{check_pod_credentials, AwsCloud};
use crate::cloud::sim::remote::{self, RemoteSim};
use crate::cloud::sim::{LatencyModel, SimCloud, SimOptions};
use crate::consensus::network::Links;
use crate::controller::{self, CloudConfig, NodeConfig};

/// `drctl controller` arguments.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// The node's configuration file (see deploy/local/node-1.yaml).
    #[arg(long, env = "DRCTL_CONFIG")]
    pub config: PathBuf,
    /// On SIGTERM or Ctrl-C, how long running executions may take to end
    /// before they are stopped for the next leader to resume; leadership
    /// is then handed on (a few seconds more). Keep it well under the
    /// pod's terminationGracePeriodSeconds. A second signal stops at once.
    #[arg(long, env = "DRCTL_DRAIN", default_value = "15s", value_parser = crate::duration::parse_flag)]
    pub drain: Duration,
}

/// `drctl sim serve` arguments.
#[derive(Debug, Args)]
pub struct SimServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7100")]
    pub listen: SocketAddr,
    /// The policy whose platform the world holds.
    #[command(flatten)]
    pub policy: PolicyArg,
    /// Latency scale: 1 is AWS-like (promotion takes minutes); 0.05 makes a
    /// failover take about twenty seconds.
    #[arg(long, default_value_t = 0.05)]
    pub scale: f64,
    /// Seed of the world's random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `drctl health` arguments.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The URL to check (by default the local controller's, the node that
    /// `drctl status` asks by default).
    #[arg(long, default_value = super::remote::DEFAULT_HEALTH_URL)]
    pub url: String,
    /// How long to wait for the answer.
    #[arg(long, default_value = "2s", value_parser = crate::duration::parse_flag)]
    pub timeout: Duration,
}

pub(super) fn controller(args: ControllerArgs) -> Exit {
    let cfg = match controller::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: invalid controller configuration {e}");
            return Exit::BadInput;
        }
    };
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(run_node(cfg, args.drain))
}

/// Applies the simulated cloud's partition (`isolated` sites) to this
/// process's links, every 250 ms.
async fn follow_partition(
    sim: RemoteSim,
    links: Links,
    members: std::collections::BTreeMap<crate::consensus::NodeId, crate::consensus::Member>,
) {
    let mut applied = None;
    loop {
        if let Ok(o) = sim.outage().await {
            if applied.as_ref() != Some(&o.isolated) {
                if !o.isolated.is_empty() {
                    tracing::warn!(isolated = ?o.isolated, "simulated partition: links to these sites are cut");
                }
                links.partition(&members, &o.isolated);
                applied = Some(o.isolated);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Runs the node of `cfg` until a signal; `drain` as `--drain` says.
async fn run_node(cfg: NodeConfig, drain: Duration) -> Exit {
    // An executing node acts with its own role only: never with the
    // instance role of the machine it happens to run on.
    if cfg.cloud == CloudConfig::Aws && !cfg.me().witness {
        let env: HashMap<String, String> = std::env::vars().collect();
        if let Err(e) = check_pod_credentials(&env, cfg.allow_other_credentials) {
            eprintln!("error: {}: {e}", cfg.source.display());
            return Exit::BadInput;
        }
    }
    let started = match cfg.cloud.clone() {
        // The witness reads (probes) through the same clients; it never
        // executes, so it needs no write access.
        CloudConfig::Aws => match AwsCloud::from_env((
            crate::cloud::aws::CONNECT_TIMEOUT,
            crate::cloud::aws::ATTEMPT_TIMEOUT,
        ))
        .await
        {
            Ok(c) => controller::start(cfg, Some(Arc::new(c)), Links::default()).await,
            Err(e) => {
                eprintln!("error: {}", e.message);
                return Exit::for_cloud_start(&e);
            }
        },
        CloudConfig::Sim(s) => match s.url {
            Some(url) => {
                // Calls carry this site's region: when it is under a
                // simulated regional outage, this node reaches nothing.
                let site = cfg.me().site.clone();
                let cloud = Some(Arc::new(RemoteSim::new(&url).as_site(&site)));
                // `drctl sim outage --isolate SITE` partitions the cluster:
                // every process applies it to its own links.
                let links = Links::default();
                tokio::spawn(follow_partition(
                    RemoteSim::new(&url),
                    links.clone(),
                    cfg.members.clone(),
                ));
                controller::start(cfg, cloud, links).await
            }
            None => {
                let policy = cfg.policies.values().next().expect("validated").clone();
                let options = SimOptions {
                    seed: s.seed.unwrap_or(1),
                    latency: LatencyModel::default().scaled(s.scale.unwrap_or(1.0)),
                    ..SimOptions::default()
                };
                let cloud = SimCloud::new(&policy, options).expect("no faults to validate");
                let cloud = Some(Arc::new(cloud));
                controller::start(cfg, cloud, Links::default()).await
            }
        },
    };
    let node = match started {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Io;
        }
    };
    let me = node.ctx.me().clone();
    eprintln!(
        "drctl controller: node {} ({}{}) serving http://{}; stop with Ctrl-C or SIGTERM",
        node.ctx.id,
        me.site,
        if me.witness { ", witness" } else { "" },
        node.addr
    );
    shutdown_signal().await;
    eprintln!(
        "drctl controller: stopping: running executions have {} to end, then leadership is handed on (signal again to stop at once)",
        crate::duration::fmt(drain)
    );
    tokio::select! {
        stopped = node.shutdown(drain) => {
            eprintln!("drctl controller: stopped: {stopped}");
            Exit::Ok
        }
        () = shutdown_signal() => {
            warn!("stopping at once: a second signal");
            Exit::Ok
        }
    }
}

/// Runs a measurement on a live runtime until it ends or Ctrl-C/SIGTERM
/// interrupts it (dropping it, and with it every child process it holds).
pub(super) fn until_interrupted<T>(
    measure: impl std::future::Future<Output = Result<T, String>>,
) -> Result<Result<T, String>, Exit> {
    let rt = live_runtime()?;
    Ok(rt.block_on(async {
        tokio::select! {
            r = measure => r,
            _ = shutdown_signal() => Err("interrupted".to_string()),
        }
    }))
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends), or when the
/// supervising `drctl local-cluster` is gone (see `lifeline.rs`).
pub(super) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
            () = super::lifeline::parent_gone() => {},
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = ctrl_c => {},
            () = super::lifeline::parent_gone() => {},
        }
    }
}

pub(super) fn sim_serve(args: SimServeArgs) -> Exit {
    let policy = match args.policy.load() {
        Ok(p) => p,
        Err(e) => return e,
    };
    if !(args.scale > 0.0 && args.scale <= 10.0) {
        eprintln!("error: --scale {} must be in (0, 10]", args.scale);
        return Exit::Usage;
    }
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        let options = SimOptions {
            seed: args.seed,
            latency: LatencyModel::default().scaled(args.scale),
            ..SimOptions::default()
        };
        let world = SimCloud::new(&policy, options).expect("no faults to validate");
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: listen on {}: {e}", args.listen);
                return Exit::Io;
            }
        };
        eprintln!(
            "drctl sim: the platform of {:?} served on http://{} (latency scale {})",
            policy.name, args.listen, args.scale
        );
        let server = axum::serve(listener, remote::router(world));
        tokio::select! {
            r = server => if let Err(e) = r {
                eprintln!("error: {e}");
                return Exit::Io;
            },
            _ = shutdown_signal() => {},
        }
        Exit::Ok
    })
}

pub(super) fn health(args: HealthArgs) -> Exit {
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        let client = reqwest::Client::new();
        match client.get(&args.url).timeout(args.timeout).send().await {
            Ok(r) if r.status().is_success() => Exit::Ok,
            Ok(r) => {
                eprintln!("{}: {}", args.url, r.status());
                Exit::Failed
            }
            Err(e) => {
                eprintln!("{}: {e}", args.url);
                Exit::Failed
            }
        }
    })
}
