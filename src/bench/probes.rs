//! `drctl bench probes`: what probing costs a node, to tell how many probe
//! targets one core serves at a 1 s interval.
//!
//! N local targets (axum answering 200 OK, or TCP listeners that accept
//! and drop) run on their own thread and runtime. A prober, through the
//! production network probes (`probe::net`: a new connection per probe),
//! takes rounds of N targets back to back on a current-thread runtime on
//! this thread; the thread's own CPU time (`/proc/thread-self/schedstat`)
//! divided by the probes taken is the cost of one probe. The targets' CPU
//! is not counted.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::cloud::aws::AwsCloud;
use crate::policy::{self, Policy};
use crate::probe::Prober;

/// What `drctl bench probes` measures, and how long.
#[derive(Debug, Clone)]
pub struct ProbesOptions {
    /// Probe targets per round.
    pub targets: u32,
    /// How long rounds run back to back, per kind of probe.
    pub duration: Duration,
    /// Stop a kind earlier after this many probes: each one leaves a socket
    /// in TIME_WAIT on 127.0.0.1 for a minute.
    pub max_probes: u64,
}

/// The cost of one kind of probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeCost {
    /// `http` or `tcp`.
    pub kind: String,
    /// Targets per round.
    pub targets: u32,
    /// Rounds taken.
    pub rounds: u64,
    /// Probes taken (rounds × targets).
    pub probes: u64,
    /// Probes that failed (should be 0).
    pub failed: u64,
    /// Wall time of a round, mean, in ms.
    pub round_ms: f64,
    /// The prober thread's CPU time, in ms.
    pub cpu_ms: f64,
    /// CPU time per probe, in µs.
    pub cpu_us_per_probe: f64,
    /// Probes one core can take per second: 1 / CPU per probe; at a 1 s
    /// interval, the targets one core serves.
    pub per_core_second: f64,
}

/// This thread's CPU time so far (scheduler accounting, nanoseconds).
fn thread_cpu_ns() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|e| format!("/proc/thread-self/schedstat: {e} (Linux only)"))?;
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("/proc/thread-self/schedstat: unexpected {text:?}"))
}

/// The targets, served on their own thread until the sender is dropped.
fn serve(kind: &'static str, n: u32) -> Result<(Vec<String>, oneshot::Sender<()>), String> {
    let mut listeners = Vec::new();
    for _ in 0..n {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        listeners.push(l);
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let (stop, stopped) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("probe-targets".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime always builds");
            rt.block_on(async move {
                for l in listeners {
                    let l = tokio::net::TcpListener::from_std(l).expect("a bound listener");
                    if kind == "http" {
                        let app = axum::Router::new()
                            .route("/health", axum::routing::get(|| async { "ok" }));
                        tokio::spawn(async move { axum::serve(l, app).await });
                    } else {
                        tokio::spawn(async move {
                            while let Ok((s, _)) = l.accept().await {
                                drop(s);
                            }
                        });
                    }
                }
                let _ = stopped.await;
            });
        })
        .map_err(|e| e.to_string())?;
    Ok((addrs, stop))
}

fn policy_for(kind: &str, addrs: &[String]) -> Result<Policy, String> {
    let list: Vec<String> = addrs
        .iter()
        .map(|a| match kind {
            "http" => format!("      - http://{a}/health\n"),
            _ => format!("      - {a}\n"),
        })
        .collect();
    let text = format!(
        "name: probe-cost
regions: {{primary: us-east-1, secondary: us-west-2, witness: us-east-2}}
objectives: {{rto: 4h, rpo: 15m}}
detection:
  probe_interval: 1s
  probe_timeout: 1s
  consecutive_failures: 3
  probes:
    {kind}:
{}mode: manual
tiers:
  dns:
    zone: example.com
    record: api.example.com
    primary: {{alias: primary.example.com, hosted_zone_id: Z1}}
    secondary: {{alias: dr.example.com, hosted_zone_id: Z2}}
",
        list.concat()
    );
    policy::parse(std::path::Path::new("(bench probes)"), &text).map_err(|e| e.to_string())
}

/// Measures the HTTP probe, then the TCP one.
///
/// # Errors
///
/// The targets could not be served, or the probes could not run.
pub fn measure_all(args: &ProbesOptions) -> Result<Vec<ProbeCost>, String> {
    ["http", "tcp"]
        .into_iter()
        .map(|kind| measure(kind, args))
        .collect()
}

fn measure(kind: &'static str, args: &ProbesOptions) -> Result<ProbeCost, String> {
    let (addrs, stop) = serve(kind, args.targets)?;
    let policy = Arc::new(policy_for(kind, &addrs)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = rt.block_on(async {
        // The DNS tier needs no cloud reading, so no AWS call is made: the
        // client only carries the production network probes.
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let cloud = Arc::new(AwsCloud::from_sdk_config(&config));
        let mut prober = Prober::new("us-east-1", 1, policy, cloud)?;
        // One round to warm up (client, listeners).
        prober.round().await;
        let (mut rounds, mut failed) = (0u64, 0u64);
        let cpu0 = thread_cpu_ns()?;
        let t0 = std::time::Instant::now();
        while t0.elapsed() < args.duration && rounds * u64::from(args.targets) < args.max_probes {
            let o = prober.round().await;
            failed += o.probes.iter().filter(|p| !p.ok).count() as u64;
            rounds += 1;
        }
        let cpu = thread_cpu_ns()? - cpu0;
        let wall = t0.elapsed();
        let probes = rounds * u64::from(args.targets);
        let per_probe_ns = cpu as f64 / probes.max(1) as f64;
        Ok::<_, String>(ProbeCost {
            kind: kind.into(),
            targets: args.targets,
            rounds,
            probes,
            failed,
            round_ms: wall.as_secs_f64() * 1000.0 / rounds.max(1) as f64,
            cpu_ms: cpu as f64 / 1e6,
            cpu_us_per_probe: per_probe_ns / 1e3,
            per_core_second: 1e9 / per_probe_ns,
        })
    });
    drop(stop);
    result
}

/// The figures as a table for people.
pub fn table(costs: &[ProbeCost]) -> String {
    let mut out = format!(
        "probe cost on one thread (targets on 127.0.0.1, served by another thread, not counted)\n\n{:<5} {:>8} {:>7} {:>7} {:>7} {:>10} {:>9} {:>13} {:>15}\n",
        "kind", "targets", "rounds", "probes", "failed", "round", "CPU", "CPU / probe", "probes/core·s"
    );
    for c in costs {
        out += &format!(
            "{:<5} {:>8} {:>7} {:>7} {:>7} {:>7.2} ms {:>6.0} ms {:>10.1} µs {:>15.0}\n",
            c.kind,
            c.targets,
            c.rounds,
            c.probes,
            c.failed,
            c.round_ms,
            c.cpu_ms,
            c.cpu_us_per_probe,
            c.per_core_second
        );
    }
    out += "\nat a 1 s interval, one core serves about probes/core·s targets of that kind\n";
    out
}
