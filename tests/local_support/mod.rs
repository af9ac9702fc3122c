//! A `drctl local-cluster` on free ports, and the CLI's view of it, for
//! the tests that run it as a user does.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use drctl::api::client::Controllers;
use drctl::api::views::{ExecutionView, StatusView};

use crate::cluster_support::free_port;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Node configs like deploy/local's, on free ports, in `dir`.
pub fn configs(dir: &Path) -> (Vec<std::path::PathBuf>, Vec<String>, String) {
    let sim = format!("http://127.0.0.1:{}", free_port());
    let urls: Vec<String> = (0..3)
        .map(|_| format!("http://127.0.0.1:{}", free_port()))
        .collect();
    let mut paths = Vec::new();
    for n in 1..=3 {
        let text = std::fs::read_to_string(root().join(format!("deploy/local/node-{n}.yaml")))
            .unwrap()
            .replace("http://127.0.0.1:7100", &sim)
            .replace(".drctl/local/", &format!("{}/", dir.join("data").display()))
            .replace("policies/", &format!("{}/policies/", root().display()))
            .replace(
                "deploy/local/",
                &format!("{}/deploy/local/", root().display()),
            );
        let mut text = text;
        for (i, u) in urls.iter().enumerate() {
            text = text.replace(&format!("http://127.0.0.1:710{}", i + 1), u);
            text = text.replace(
                &format!("127.0.0.1:710{}", i + 1),
                u.trim_start_matches("http://"),
            );
        }
        let p = dir.join(format!("node-{n}.yaml"));
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    (paths, urls, sim)
}

pub struct Stop(pub Child);

impl Drop for Stop {
    fn drop(&mut self) {
        // SIGTERM: local-cluster stops its children before exiting.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

pub fn drctl(args: &[&str]) -> std::process::Output {
    Command::new(cargo_bin("drctl"))
        .args(args)
        .output()
        .unwrap()
}

/// Node `url`'s `/v1/status` through the typed client; `None` when it
/// does not answer within 2 s.
pub fn status(url: &str) -> Option<StatusView> {
    read(url, |c| async move { c.status().await })
}

/// Execution `id` from node `url` through the typed client.
pub fn execution(url: &str, id: &str) -> Option<ExecutionView> {
    read(url, |c| async move { c.execution(id).await })
}

pub fn read<
    T,
    F: std::future::Future<Output = Result<(String, T), drctl::api::client::ClientError>>,
>(
    url: &str,
    ask: impl FnOnce(Controllers) -> F,
) -> Option<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = Controllers::new(&[url.to_string()], Duration::from_secs(2));
    rt.block_on(ask(c)).ok().map(|(_, v)| v)
}

pub fn get_json(url: &str) -> Option<serde_json::Value> {
    let out = drctl_get(url)?;
    serde_json::from_str(&out).ok()
}

/// A GET through `drctl status --output json`-free path: plain HTTP.
pub fn drctl_get(url: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.text().await.ok()
    })
}

/// A running `drctl local-cluster` on free ports: the process (stopped on
/// drop), each node's pid by name, the node URLs and the simulated cloud's.
pub fn start_local(
    dir: &Path,
) -> (
    Stop,
    std::collections::HashMap<String, u32>,
    Vec<String>,
    String,
) {
    let (paths, urls, sim) = configs(dir);
    let mut child = local_cluster(&paths, Stdio::inherit());
    let stdout = child.stdout.take().unwrap();
    let cluster = Stop(child);
    // The table of processes: name, site, pid, url.
    let mut pids = std::collections::HashMap::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 3 && words[0].starts_with("node-") {
            pids.insert(words[0].to_string(), words[2].parse::<u32>().unwrap());
        }
        if line.starts_with("try:") {
            break;
        }
    }
    assert_eq!(pids.len(), 3, "{pids:?}");
    std::thread::spawn(move || lines.for_each(drop));
    (cluster, pids, urls, sim)
}

/// Runs `drctl status` against `url` until its text satisfies `pred`.
pub fn wait_status(url: &str, within: Duration, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    loop {
        let out = drctl(&["status", "--controller", url]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if pred(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "status not as expected within {within:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls node `url` for the last execution's `fence_old_primary` record
/// until it satisfies `pred`, and returns it. On timeout it says which
/// read came back empty (no answer, no execution, no fence record) with
/// the node's raw answers, so a failure in CI can be read without a rerun.
pub fn wait_fence_old_primary(
    url: &str,
    within: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let fence = last_fence_old_primary(url);
        if let Ok(fence) = &fence {
            if pred(fence) {
                return fence.clone();
            }
        }
        if Instant::now() >= deadline {
            let raw_status = drctl_get(&format!("{url}/v1/status")).unwrap_or_default();
            let raw_list = drctl_get(&format!("{url}/v1/executions")).unwrap_or_default();
            panic!(
                "fence-old-primary not as expected within {within:?}: {fence:?}\n\
                 status: {raw_status}\nexecutions: {raw_list}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The `fence_old_primary` record of node `url`'s policy's last
/// execution, or which read failed.
fn last_fence_old_primary(url: &str) -> Result<serde_json::Value, String> {
    let s = status(url).ok_or("GET /v1/status: no answer within 2s")?;
    let p = s.policies.first().ok_or("status lists no policy")?;
    let summary = p
        .execution
        .as_ref()
        .ok_or_else(|| format!("policy {} has no execution", p.name))?;
    let e = execution(url, &summary.id)
        .ok_or_else(|| format!("GET /v1/executions/{}: no answer within 2s", summary.id))?;
    let fence = e.fence_old_primary.ok_or_else(|| {
        format!(
            "execution {} ({}, {}) has no fence_old_primary",
            summary.id,
            e.summary.status.label(),
            e.summary.requested_by
        )
    })?;
    Ok(serde_json::to_value(fence).expect("serializes"))
}

/// `drctl local-cluster` on the node files `paths`, its table on a pipe.
pub fn local_cluster(paths: &[std::path::PathBuf], stderr: Stdio) -> std::process::Child {
    let mut cmd = Command::new(cargo_bin("drctl"));
    cmd.arg("local-cluster").args(["--scale", "0.03"]);
    for p in paths {
        cmd.arg("--config").arg(p);
    }
    cmd.stdout(Stdio::piped()).stderr(stderr).spawn().unwrap()
}
