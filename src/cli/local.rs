//! `drctl local-cluster`: a three-node controller cluster on 127.0.0.1 over
//! one shared simulated cloud, as separate processes, so that a node can be
//! killed for real (`kill -9`) and restarted from its disk.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use clap::Args;
use tokio::process::{Child, ChildStdin, Command};

use super::controller_cmd::shutdown_signal;
use super::{live_runtime, Exit};
use crate::controller::{self, CloudConfig, NodeConfig};

/// `drctl local-cluster` arguments.
#[derive(Debug, Args)]
pub struct LocalClusterArgs {
    /// The node configuration files.
    #[arg(
        long = "config",
        default_values = ["deploy/local/node-1.yaml", "deploy/local/node-2.yaml", "deploy/local/node-3.yaml"]
    )]
    pub configs: Vec<PathBuf>,
    /// Latency scale of the simulated cloud: 0.05 makes a failover take
    /// about twenty seconds, long enough to kill the leader in the middle.
    #[arg(long, default_value_t = 0.05)]
    pub scale: f64,
    /// Keep the nodes' raft data from an earlier run instead of starting fresh.
    #[arg(long)]
    pub keep_data: bool,
}

/// One started process.
pub(crate) struct Proc {
    /// `sim` or `node-N`.
    pub name: String,
    /// The process.
    pub child: Child,
    /// Where its output goes.
    pub log: PathBuf,
    /// The write end of the child's standard input, never written: when
    /// this process dies it closes, and the child stops (see `lifeline.rs`).
    pub lifeline: Option<ChildStdin>,
}

pub(super) fn run(args: LocalClusterArgs) -> Exit {
    let mut configs = Vec::new();
    for path in &args.configs {
        match controller::load(path) {
            Ok(c) => configs.push(c),
            Err(e) => {
                eprintln!("error: invalid controller configuration {e}");
                return Exit::BadInput;
            }
        }
    }
    let sim_url = match shared_sim(&configs) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async move {
        match start_all(&args, &configs, &sim_url).await {
            Ok(mut procs) => {
                print_table(&configs, &procs, &sim_url);
                supervise(&mut procs).await;
                stop_all(&mut procs).await;
                eprintln!("local cluster stopped");
                Exit::Ok
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Io
            }
        }
    })
}

/// The one simulated cloud every node uses.
fn shared_sim(configs: &[NodeConfig]) -> Result<String, String> {
    let mut urls: Vec<String> = configs
        .iter()
        .filter_map(|c| match &c.cloud {
            CloudConfig::Sim(s) => s.url.clone(),
            CloudConfig::Aws => None,
        })
        .collect();
    urls.dedup();
    match urls.as_slice() {
        [u] if configs.iter().all(|c| matches!(&c.cloud, CloudConfig::Sim(s) if s.url.as_deref() == Some(u.as_str()))) => {
            Ok(u.clone())
        }
        _ => Err(format!(
            "{}: a local cluster needs every node on the same shared simulated cloud (cloud: {{sim: {{url: http://127.0.0.1:7100}}}})",
            configs.iter().map(|c| c.source.display().to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Kills every process and waits for them.
pub(crate) async fn stop_all(procs: &mut [Proc]) {
    for p in procs.iter_mut() {
        // Closing the lifeline alone would stop the child too, gently; the
        // kill makes sure of it.
        drop(p.lifeline.take());
        let _ = p.child.start_kill();
    }
    for p in procs.iter_mut() {
        let _ = p.child.wait().await;
    }
}

/// Starts the shared simulated cloud and one controller per configuration,
/// and waits until every node is ready.
pub(crate) async fn start_all(
    args: &LocalClusterArgs,
    configs: &[NodeConfig],
    sim_url: &str,
) -> Result<Vec<Proc>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the drctl binary: {e}"))?;
    // Say which port is taken now, rather than wait for a node that cannot start.
    let sim_listen = sim_url.trim_start_matches("http://").trim_end_matches('/');
    for addr in
        std::iter::once(sim_listen.to_string()).chain(configs.iter().map(|c| c.listen.to_string()))
    {
        std::net::TcpListener::bind(&addr).map_err(|e| {
            format!("{addr} is not free ({e}): is another local cluster or controller running?")
        })?;
    }
    let logs = configs[0]
        .data_dir
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    if !args.keep_data {
        for c in configs {
            match std::fs::remove_dir_all(&c.data_dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", c.data_dir.display())),
            }
        }
    }
    let listen = sim_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let policy = configs[0]
        .policies
        .values()
        .next()
        .expect("validated")
        .source
        .clone();
    let mut procs = Vec::new();
    let sim = spawn(
        &exe,
        "sim",
        &[
            "sim".into(),
            "serve".into(),
            "--listen".into(),
            listen,
            "--policy".into(),
            policy.display().to_string(),
            "--scale".into(),
            args.scale.to_string(),
        ],
        &logs.join("sim.log"),
    )?;
    procs.push(sim);
    wait_healthy(sim_url).await?;
    for c in configs {
        let name = format!("node-{}", c.id);
        let p = spawn(
            &exe,
            &name,
            &[
                "--log-format".into(),
                "json".into(),
                "controller".into(),
                "--config".into(),
                c.source.display().to_string(),
            ],
            &logs.join(format!("{name}.log")),
        )?;
        procs.push(p);
    }
    for c in configs {
        wait_ready(&c.me().addr).await?;
    }
    Ok(procs)
}

fn spawn(exe: &Path, name: &str, args: &[String], log: &Path) -> Result<Proc, String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new(exe)
        .args(args)
        .env(super::lifeline::EXIT_WITH_STDIN_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let lifeline = child.stdin.take();
    Ok(Proc {
        name: name.to_string(),
        child,
        log: log.to_path_buf(),
        lifeline,
    })
}

async fn wait_healthy(url: &str) -> Result<(), String> {
    poll(&format!("{url}/healthz"), Duration::from_secs(10)).await
}

async fn wait_ready(addr: &str) -> Result<(), String> {
    poll(&format!("{addr}/readyz"), Duration::from_secs(30)).await
}

async fn poll(url: &str, within: Duration) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(r) = http.get(url).timeout(Duration::from_secs(1)).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{url} not ready within {}s: see the logs under .drctl/local/",
                within.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints what was started and what to try. Write errors (a closed pipe)
/// are ignored: the cluster keeps running.
fn print_table(configs: &[NodeConfig], procs: &[Proc], sim_url: &str) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "local cluster up (Ctrl-C stops every process):");
    let _ = writeln!(
        out,
        "  {:<8} {:<10} {:>7}  {:<24} log",
        "process", "site", "pid", "url"
    );
    // The simulated cloud's row is `sim`, at its URL: `drctl sim outage
    // --url` and `drctl sim lag --url` take it.
    for p in procs {
        let c = configs.iter().find(|c| p.name == format!("node-{}", c.id));
        let (site, url) = match c {
            Some(c) => (
                format!("{}{}", c.me().site, if c.me().witness { "*" } else { "" }),
                c.me().addr.clone(),
            ),
            None => ("-".into(), sim_url.to_string()),
        };
        let _ = writeln!(
            out,
            "  {:<8} {:<10} {:>7}  {:<24} {}",
            p.name,
            site,
            p.child.id().map(|i| i.to_string()).unwrap_or_default(),
            url,
            p.log.display()
        );
    }
    let first = configs[0].me().addr.clone();
    let _ = writeln!(out, "  (* witness: votes, never executes)\n");
    let _ = writeln!(out, "try:");
    let _ = writeln!(out, "  drctl status --controller {first}");
    let _ = writeln!(
        out,
        "  drctl failover --confirm --controller {first} {}",
        token_hint(&configs[0])
    );
    let _ = writeln!(
        out,
        "  kill -9 <pid of the leader's node>      # mid-failover: another node finishes it"
    );
    let _ = writeln!(
        out,
        "  drctl controller --config deploy/local/node-N.yaml   # restart it from its disk"
    );
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stdout().flush();
}

/// How the operator passes the API token that `config` names: its
/// `api.token_file`, or the environment variable when the file gives none.
fn token_hint(config: &NodeConfig) -> String {
    let file = crate::policy::read::read_bounded(&config.source)
        .ok()
        .and_then(|t| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&t).ok())
        .and_then(|v| v.get("api")?.get("token_file")?.as_str().map(String::from));
    match file {
        Some(f) => format!("--token-file {f}"),
        None => format!(
            "(with the token in {})",
            crate::controller::config::API_TOKEN_ENV
        ),
    }
}

/// Waits for Ctrl-C, reporting processes that exit meanwhile.
async fn supervise(procs: &mut [Proc]) {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut reported = vec![false; procs.len()];
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                for (i, p) in procs.iter_mut().enumerate() {
                    if reported[i] {
                        continue;
                    }
                    if let Ok(Some(status)) = p.child.try_wait() {
                        reported[i] = true;
                        eprintln!("{} exited ({status}); see {}", p.name, p.log.display());
                    }
                }
            }
        }
    }
}
