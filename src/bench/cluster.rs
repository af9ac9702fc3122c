//! `drctl bench cluster`: the controller cluster's figures, measured on real
//! processes: each node's resident memory and CPU when idle, and the time
//! from killing the leader in the middle of a failover to the next step
//! starting on the new leader.
//!
//! Each kill run starts a fresh local cluster (deploy/local's files moved to
//! free ports and a temporary directory), submits a failover, waits until
//! the database promotion has been sent, sends SIGKILL to the leader's
//! process and polls the survivors every 5 ms for the first step intent
//! recorded under a later term.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::api::client::Controllers;
use crate::api::views::FailoverBody;
use crate::cli::local::{start_all, stop_all, LocalClusterArgs, Proc};
use crate::controller::{self, NodeConfig};
use crate::execute::ExecutionStatus;

/// How long the node asked to fail over may take to answer.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `drctl bench cluster` measures, and how long.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Leader kills to measure (a fresh cluster each).
    pub runs: u32,
    /// How long to watch the idle cluster for memory and CPU.
    pub idle: Duration,
    /// Latency scale of the simulated cloud (promotion takes 3–5 s at 0.02).
    pub scale: f64,
}

/// One node's idle footprint.
#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    /// The node.
    pub node: u64,
    /// Its site.
    pub site: String,
    /// Resident memory at the end of the window, in KiB.
    pub rss_kib: u64,
    /// CPU used over the window, as a percentage of one core.
    pub cpu_percent: f64,
}

/// One leader kill.
#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    /// The leader that was killed.
    pub killed: u64,
    /// The node that took over.
    pub new_leader: u64,
    /// SIGKILL → the first step intent under the new leader's term.
    pub next_step_ms: u64,
    /// SIGKILL → the execution completed.
    pub completed_ms: u64,
}

/// Everything measured.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterBench {
    /// Idle footprint per node.
    pub idle: Vec<Idle>,
    /// The idle window, in seconds.
    pub idle_window_s: u64,
    /// Leader kills.
    pub kills: Vec<Kill>,
}

/// Runs the benchmark: one idle cluster, then `runs` leader kills.
///
/// # Errors
///
/// A cluster did not start, or a run did not end as expected.
pub async fn measure(args: &ClusterOptions) -> Result<ClusterBench, String> {
    let dir = std::env::temp_dir().join(format!("drctl-bench-{}", std::process::id()));
    let (configs, sim) = cluster_configs(&dir)?;
    let local = LocalClusterArgs {
        configs: Vec::new(),
        scale: args.scale,
        keep_data: false,
    };
    eprintln!("idle: one cluster, watched for {}s", args.idle.as_secs());
    let mut procs = start_all(&local, &configs, &sim).await?;
    let idle = idle_footprint(&configs, &procs, args.idle).await;
    stop_all(&mut procs).await;
    let mut kills = Vec::new();
    for i in 0..args.runs {
        let mut procs = start_all(&local, &configs, &sim).await?;
        let k = kill_run(&configs, &procs, &sim).await;
        stop_all(&mut procs).await;
        let k = k?;
        eprintln!(
            "kill {}/{}: node {} killed, node {} took over, next step after {} ms",
            i + 1,
            args.runs,
            k.killed,
            k.new_leader,
            k.next_step_ms
        );
        kills.push(k);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ClusterBench {
        idle: idle?,
        idle_window_s: args.idle.as_secs(),
        kills,
    })
}

/// deploy/local's node files on free ports, with their data in `dir`;
/// also the shared simulated cloud's URL.
pub(super) fn cluster_configs(dir: &Path) -> Result<(Vec<NodeConfig>, String), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let port = || -> Result<u16, String> {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        Ok(l.local_addr().map_err(|e| e.to_string())?.port())
    };
    let ports = [port()?, port()?, port()?, port()?];
    let mut configs = Vec::new();
    for n in 1..=3 {
        let src = PathBuf::from(format!("deploy/local/node-{n}.yaml"));
        let mut text = std::fs::read_to_string(&src).map_err(|e| {
            format!(
                "{}: {e} (run the benchmark from the repository root)",
                src.display()
            )
        })?;
        for (i, p) in ports.iter().enumerate() {
            text = text.replace(&format!("127.0.0.1:710{i}"), &format!("127.0.0.1:{p}"));
        }
        text = text.replace(".drctl/local/", &format!("{}/", dir.display()));
        let path = dir.join(format!("node-{n}.yaml"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        configs.push(controller::load(&path).map_err(|e| e.to_string())?);
    }
    Ok((configs, format!("http://127.0.0.1:{}", ports[0])))
}

fn pid_of(procs: &[Proc], node: u64) -> Option<u32> {
    procs
        .iter()
        .find(|p| p.name == format!("node-{node}"))
        .and_then(|p| p.child.id())
}

/// (utime + stime in clock ticks, RSS in KiB) of a process.
fn proc_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks, rss))
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

async fn idle_footprint(
    configs: &[NodeConfig],
    procs: &[Proc],
    window: Duration,
) -> Result<Vec<Idle>, String> {
    // Let elections and connection pools settle first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pids: Vec<(u64, u32)> = configs
        .iter()
        .filter_map(|c| Some((c.id, pid_of(procs, c.id)?)))
        .collect();
    let before: Vec<_> = pids.iter().map(|(_, p)| proc_usage(*p)).collect();
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let secs = t0.elapsed().as_secs_f64();
    let hz = clock_ticks();
    let mut out = Vec::new();
    for ((node, pid), b) in pids.iter().zip(before) {
        let (Some((t_before, _)), Some((t_after, rss))) = (b, proc_usage(*pid)) else {
            return Err(format!("node {node} (pid {pid}) cannot be read in /proc"));
        };
        let site = configs
            .iter()
            .find(|c| c.id == *node)
            .map(|c| c.me().site.clone())
            .unwrap_or_default();
        out.push(Idle {
            node: *node,
            site,
            rss_kib: rss,
            cpu_percent: (t_after - t_before) as f64 / hz / secs * 100.0,
        });
    }
    Ok(out)
}

/// How long a benchmark waits for one node's answer to a read.
pub(super) const READ_TIMEOUT: Duration = Duration::from_millis(500);

/// Each node's API, asked alone, a read bounded by [`READ_TIMEOUT`].
pub(super) fn node_apis(urls: &[String]) -> Vec<Controllers> {
    Controllers::new(urls, READ_TIMEOUT).each()
}

/// `GET url` of the simulated cloud's server as JSON within
/// [`READ_TIMEOUT`]; `None` on any failure.
pub(super) async fn sim_get(http: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    let r = http.get(url).timeout(READ_TIMEOUT).send().await.ok()?;
    r.json().await.ok()
}

async fn kill_run(configs: &[NodeConfig], procs: &[Proc], sim: &str) -> Result<Kill, String> {
    let http = reqwest::Client::new();
    let urls: Vec<(u64, String)> = configs
        .iter()
        .map(|c| (c.id, c.me().addr.clone()))
        .collect();
    let token = configs[0].token.clone();
    let nodes = node_apis(&urls.iter().map(|(_, u)| u.clone()).collect::<Vec<_>>());
    let submit = Controllers::new(&[urls[2].1.clone()], SUBMIT_TIMEOUT);
    let body = FailoverBody {
        confirm: true,
        reason: Some("benchmark".into()),
        ..FailoverBody::default()
    };
    let answer = submit
        .failover(&token, &body)
        .await
        .map_err(|e| e.to_string())?;
    let accepted = match answer.reply {
        Ok(r) => r,
        Err(e) => {
            let code = answer.code;
            return Err(format!("failover not accepted: {code} {}", e.error));
        }
    };
    let (id, leader) = (accepted.execution_id, accepted.leader);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = sim_get(&http, &format!("{sim}/sim/mutations")).await;
        if m.is_some_and(|m| m["rds:PromoteReadReplica"] == 1) {
            break;
        }
        if Instant::now() > deadline {
            return Err("the promotion was never sent".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let term = nodes[2]
        .execution(&id)
        .await
        .map(|(_, v)| v.summary.owner_term)
        .map_err(|e| format!("cannot read the execution: {e}"))?;
    let pid = pid_of(procs, leader).ok_or("no pid for the leader")?;
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    if !killed.success() {
        return Err(format!("kill -9 {pid} failed"));
    }
    let survivors: Vec<&Controllers> = urls
        .iter()
        .zip(&nodes)
        .filter(|((n, _), _)| *n != leader)
        .map(|(_, api)| api)
        .collect();
    let mut next_step_ms = None;
    loop {
        for api in &survivors {
            let Ok((_, v)) = api.execution(&id).await else {
                continue;
            };
            let later = v
                .steps
                .iter()
                .any(|s| s.epoch.is_some_and(|e| e.term > term));
            if later && next_step_ms.is_none() {
                next_step_ms = Some(t0.elapsed().as_millis() as u64);
            }
            if v.summary.status == ExecutionStatus::Completed {
                let new_leader = api
                    .status()
                    .await
                    .ok()
                    .and_then(|(_, s)| s.leader.map(|l| l.id));
                return Ok(Kill {
                    killed: leader,
                    new_leader: new_leader.unwrap_or(0),
                    next_step_ms: next_step_ms.unwrap_or(0),
                    completed_ms: t0.elapsed().as_millis() as u64,
                });
            }
        }
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(format!("execution {id} did not complete after the kill"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The figures as a table for people.
pub fn table(b: &ClusterBench) -> String {
    let mut out = format!(
        "idle footprint over {}s (3 nodes on 127.0.0.1, heartbeat 150 ms)\n\n{:>5} {:<10} {:>10} {:>10}\n",
        b.idle_window_s, "node", "site", "RSS", "CPU"
    );
    for i in &b.idle {
        out += &format!(
            "{:>5} {:<10} {:>7.1} MB {:>9.2}%\n",
            i.node,
            i.site,
            i.rss_kib as f64 / 1024.0,
            i.cpu_percent
        );
    }
    out += &format!(
        "\nleader killed mid-failover (SIGKILL during the database promotion), {} run(s)\n\n{:>4} {:>7} {:>11} {:>16} {:>14}\n",
        b.kills.len(),
        "run",
        "killed",
        "new leader",
        "→ next step",
        "→ completed"
    );
    for (i, k) in b.kills.iter().enumerate() {
        out += &format!(
            "{:>4} {:>7} {:>11} {:>13} ms {:>11} ms\n",
            i + 1,
            k.killed,
            k.new_leader,
            k.next_step_ms,
            k.completed_ms
        );
    }
    let mut v: Vec<u64> = b.kills.iter().map(|k| k.next_step_ms).collect();
    v.sort_unstable();
    if let (Some(min), Some(max)) = (v.first(), v.last()) {
        let mean = v.iter().sum::<u64>() / v.len() as u64;
        out += &format!(
            "\nkill → next step: min {min} ms, mean {mean} ms, max {max} ms (target ≤ 3000 ms)\n"
        );
    }
    out
}
