//! Commands that talk to a running controller cluster over its API:
//! `drctl status`, `drctl failover --controller`, `drctl maintenance`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tokio::sync::mpsc;

use super::remote_client::{Controllers, Repeat};
use super::{exit_for, live_runtime, progress, Exit, FailoverArgs, Output};
use crate::api::views::{ExecutionView, StatusView};
use crate::execute::{Event, StepStatus};

/// The default controller: node 1 of the local cluster.
pub const DEFAULT_CONTROLLER: &str = "http://127.0.0.1:7101";

/// `drctl health`'s default: [`DEFAULT_CONTROLLER`]'s `/healthz`.
pub const DEFAULT_HEALTH_URL: &str = "http://127.0.0.1:7101/healthz";

/// Where the cluster is and how long to wait for it.
#[derive(Debug, Clone, Args)]
pub struct ControllerArg {
    /// Controller nodes' base URLs, tried in turn (repeat the flag or
    /// separate with commas); any member will do: requests that need the
    /// leader are forwarded to it. A change is sent to the next member only
    /// when the previous one cannot have recorded it (no connection, or no
    /// leader to forward to).
    #[arg(long, env = "DRCTL_CONTROLLER", default_value = DEFAULT_CONTROLLER, value_delimiter = ',')]
    pub controller: Vec<String>,
    /// How long each controller may take to answer before the next one is
    /// tried (the connection itself gets at most 3s).
    #[arg(long, default_value = super::remote_client::DEFAULT_TIMEOUT, value_parser = crate::duration::parse_flag)]
    pub timeout: Duration,
}

impl ControllerArg {
    /// The members to ask.
    pub fn controllers(&self) -> Controllers {
        Controllers::new(&self.controller, self.timeout)
    }
}

/// The API token, for commands that change something.
#[derive(Debug, Clone, Args)]
pub struct TokenArg {
    /// A file holding the API bearer token (the DRCTL_API_TOKEN environment
    /// variable is used when this is not given).
    #[arg(long, env = "DRCTL_API_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

impl TokenArg {
    /// The token, from `--token-file` or `DRCTL_API_TOKEN`.
    ///
    /// # Errors
    ///
    /// [`Exit::Denied`] (77, as for a refused token) when the token is
    /// missing, or its file is unreadable or empty; the message names the
    /// flag or the file, never the token.
    pub(super) fn token(&self) -> Result<String, Exit> {
        if let Some(f) = &self.token_file {
            return match std::fs::read_to_string(f) {
                Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
                Ok(_) => {
                    eprintln!("error: --token-file {}: the file is empty", f.display());
                    Err(Exit::Denied)
                }
                Err(e) => {
                    eprintln!("error: --token-file {}: {e}", f.display());
                    Err(Exit::Denied)
                }
            };
        }
        match std::env::var(crate::controller::config::API_TOKEN_ENV) {
            Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
            _ => {
                eprintln!(
                    "error: this changes the platform and needs the API token: pass --token-file FILE or set DRCTL_API_TOKEN"
                );
                Err(Exit::Denied)
            }
        }
    }
}

/// `drctl status` arguments.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The cluster.
    #[command(flatten)]
    pub controller: ControllerArg,
    /// Text for people, or the API's JSON.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Suppress automatic failover.
    On,
    /// Allow automatic failover again.
    Off,
}

/// `drctl maintenance` arguments.
#[derive(Debug, Args)]
pub struct MaintenanceArgs {
    /// on or off.
    #[arg(value_enum)]
    pub switch: Switch,
    /// Who, why, where.
    #[command(flatten)]
    pub action: ActionArgs,
}

/// What every authenticated action against the cluster takes: who and why
/// (for the audit log), the cluster and the token.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// Why, for the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Who, for the audit log.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub operator: String,
    /// The cluster.
    #[command(flatten)]
    pub controller: ControllerArg,
    /// The token.
    #[command(flatten)]
    pub token: TokenArg,
}

fn base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

async fn get_status(c: &Controllers) -> Result<StatusView, String> {
    c.get("/v1/status").await.map(|(_, s)| s)
}

pub(super) fn status(args: StatusArgs) -> Exit {
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        match get_status(&args.controller.controllers()).await {
            Ok(s) => {
                match args.output {
                    Output::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(&s).expect("status serializes")
                    ),
                    Output::Text => print!("{}", render_status(&s)),
                }
                Exit::Ok
            }
            Err(e) => {
                eprintln!("error: cannot read the cluster status: {e}");
                Exit::Unavailable
            }
        }
    })
}

/// The status as a readable summary.
pub fn render_status(s: &StatusView) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let leader = match &s.leader {
        Some(l) => format!("node {} ({})", l.id, l.site),
        None => "NONE (no majority reachable from this node)".into(),
    };
    let _ = writeln!(
        out,
        "cluster: leader {leader}, term {}; answered by node {} ({}, {})",
        s.raft.term, s.node.id, s.node.site, s.node.state
    );
    let _ = writeln!(out, "members:");
    for m in &s.members {
        let role = if s.leader.as_ref().is_some_and(|l| l.id == m.id) {
            "leader"
        } else if m.witness {
            "witness"
        } else {
            "executor"
        };
        let health = match m.healthy {
            Some(true) => "healthy",
            Some(false) => "UNREACHABLE",
            None => "unknown",
        };
        let matched = m
            .matched_index
            .map(|i| format!("  replicated to {i}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<2} {:<10} {:<9} {:<12} {}{matched}",
            m.id, m.site, role, health, m.addr
        );
    }
    let mt = &s.maintenance;
    let _ = writeln!(
        out,
        "maintenance: {}",
        if mt.on {
            format!(
                "ON (by {}{}): automatic failover suppressed",
                mt.by.as_deref().unwrap_or("?"),
                mt.reason
                    .as_deref()
                    .map(|r| format!(", {r}"))
                    .unwrap_or_default()
            )
        } else {
            "off".into()
        }
    );
    for p in &s.policies {
        let _ = writeln!(
            out,
            "policy {}: {} → {}; active region {}",
            p.name, p.primary_region, p.secondary_region, p.active_region
        );
        super::detect_cmd::render_detection(&mut out, p);
        if let Some(f) = &p.self_fenced {
            let _ = writeln!(
                out,
                "  SELF-FENCED at {} by node {} ({}), because {}",
                f.at, s.node.id, s.node.site, f.because
            );
            for line in &f.outcome {
                let _ = writeln!(out, "    {line}");
            }
            let _ = writeln!(
                out,
                "    lift only once this region is the only writer: drctl unfence --confirm --controller <this node>"
            );
        }
        if let Some(why) = &p.old_primary_writable {
            let _ = writeln!(out, "  ALARM old primary writable: {why}");
        }
        match &p.execution {
            Some(e) => {
                let _ = writeln!(
                    out,
                    "  execution {}: {} ({}/{} steps done), requested by {}{}, started {}{}",
                    e.id,
                    e.status.label(),
                    e.steps_done,
                    e.steps_total,
                    e.requested_by,
                    e.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    e.started_at,
                    e.interruptions()
                        .map(|what| format!(", {what}"))
                        .unwrap_or_default()
                );
                if let Some(summary) = &e.summary {
                    let _ = writeln!(out, "  {summary}");
                }
            }
            None => {
                let _ = writeln!(out, "  no execution yet");
            }
        }
    }
    out
}

pub(super) fn maintenance(args: MaintenanceArgs) -> Exit {
    let on = args.switch == Switch::On;
    let body = serde_json::json!({ "on": on });
    action(&args.action, "/v1/maintenance", body, |_| {
        println!(
            "maintenance {}",
            if on {
                "on: automatic failover suppressed"
            } else {
                "off"
            }
        );
    })
}

/// Sends an authenticated action to the cluster, `body` with the operator
/// and the reason added; on 200 hands the answer to `done`, otherwise exits
/// as the status code says. The members are tried in turn only while the
/// action cannot have been recorded (see `remote_client.rs`).
pub(super) fn action(
    args: &ActionArgs,
    path: &str,
    mut body: serde_json::Value,
    done: impl FnOnce(&serde_json::Value),
) -> Exit {
    body["reason"] = serde_json::json!(args.reason);
    body["operator"] = serde_json::json!(args.operator);
    let token = match args.token.token() {
        Ok(t) => t,
        Err(e) => return e,
    };
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        let c = args.controller.controllers();
        let (code, answer) = match c.post(path, &token, &body, Repeat::NeverAfterSent).await {
            Ok(a) => (a.code, a.body),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Unavailable;
            }
        };
        if code == 200 {
            done(&answer);
            Exit::Ok
        } else {
            exit_for_http(code, &answer)
        }
    })
}

/// `body` without its null fields: the API refuses a null field (an
/// option not given is left out instead).
pub(super) fn without_nulls(body: &serde_json::Value) -> serde_json::Value {
    match body {
        serde_json::Value::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A duration as the API's `accept_data_loss` takes it (`1h30m15s`),
/// rounded up to whole seconds so no accepted loss is cut short.
fn api_duration(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Prints the API's error and picks the exit code.
pub(super) fn exit_for_http(code: u16, body: &serde_json::Value) -> Exit {
    let msg = body["error"].as_str().unwrap_or("no message");
    eprintln!("error ({code}): {msg}");
    match code {
        401 | 403 | 429 => Exit::Denied,
        400 | 404 | 413 | 415 => Exit::BadInput,
        412 => Exit::Refused,
        422 => Exit::Preflight,
        503 => Exit::Unavailable,
        _ => Exit::Failed,
    }
}

/// `drctl failover --controller URL`: submits and follows the execution.
pub(super) fn failover(args: &FailoverArgs, c: &Controllers) -> Exit {
    let rt = match live_runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    rt.block_on(async {
        if !args.confirm {
            let s = match get_status(c).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: cannot read the cluster status: {e}");
                    return Exit::Unavailable;
                }
            };
            print!("{}", render_status(&s));
            println!(
                "\ndry run: nothing was changed. To execute through the cluster: drctl failover --confirm --controller {}",
                c.urls().join(",")
            );
            return Exit::Ok;
        }
        let token = match args.token.token() {
            Ok(t) => t,
            Err(e) => return e,
        };
        let body = serde_json::json!({
            "confirm": true,
            "policy": args.policy_name,
            "accept_data_loss": args.accept_data_loss.map(api_duration),
            "reason": args.reason,
            "operator": args.operator,
        });
        // A repeat is harmless: the cluster runs one execution per policy
        // and answers a second request with the running one.
        let (url, code, body) = match c.post("/v1/failover", &token, &body, Repeat::Harmless).await {
            Ok(a) => (a.url, a.code, a.body),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Unavailable;
            }
        };
        let id = body["execution_id"].as_str().unwrap_or_default().to_string();
        match code {
            202 => {
                eprintln!(
                    "execution {id} accepted by leader node {}; following it",
                    body["leader"]
                );
                follow(c, &url, &id).await
            }
            200 => {
                println!("already failed over: execution {id} recorded; nothing changed");
                Exit::Ok
            }
            409 => {
                eprintln!("execution {id} is already running (no second one was started); following it");
                follow(c, &url, &id).await
            }
            _ => exit_for_http(code, &body),
        }
    })
}

/// Follows an execution until it ends, through any member that answers:
/// when the node we asked dies (it may be the leader), the others still do.
async fn follow(c: &Controllers, url: &str, id: &str) -> Exit {
    let http = reqwest::Client::new();
    let mut urls = vec![base(url)];
    urls.extend(c.urls().iter().cloned());
    if let Ok(s) = get_status(c).await {
        urls.extend(s.members.iter().map(|m| base(&m.addr)));
    }
    let mut seen_urls = std::collections::HashSet::new();
    urls.retain(|u| seen_urls.insert(u.clone()));
    let (tx, rx) = mpsc::unbounded_channel();
    let shown = progress::spawn(rx);
    let mut seen: HashMap<String, StepStatus> = HashMap::new();
    let mut last_answer = tokio::time::Instant::now();
    let mut resumed = 0;
    let view = loop {
        let mut answer = None;
        for u in &urls {
            let r = http
                .get(format!("{u}/v1/executions/{id}"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(r) = r {
                if r.status().is_success() {
                    if let Ok(v) = r.json::<ExecutionView>().await {
                        answer = Some(v);
                        break;
                    }
                }
            }
        }
        match answer {
            Some(v) => {
                last_answer = tokio::time::Instant::now();
                if v.summary.resumed > resumed {
                    resumed = v.summary.resumed;
                    let _ = tx.send(Event::Started {
                        execution_id: id.to_string(),
                        resumed: true,
                        steps: v.steps.iter().map(|s| s.id.clone()).collect(),
                    });
                }
                emit_changes(&v, &mut seen, &tx);
                if v.summary.status.is_finished() {
                    break v;
                }
            }
            None if last_answer.elapsed() > Duration::from_secs(60) => {
                drop(tx);
                let _ = shown.await;
                eprintln!("error: no controller has answered for 60 s; the execution continues on the cluster: drctl status");
                return Exit::Unavailable;
            }
            None => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    drop(tx);
    let _ = shown.await;
    println!(
        "execution {}: {}",
        view.summary.id,
        view.summary.summary.clone().unwrap_or_default()
    );
    for s in &view.steps {
        let took = s
            .duration_ms()
            .map(|ms| crate::duration::fmt(Duration::from_millis(ms)))
            .unwrap_or_else(|| "-".into());
        let epoch = s.epoch.map(|e| format!("epoch {e}")).unwrap_or_default();
        println!(
            "  {:<34} {:<13} {:>9}  {}",
            s.id,
            s.status.label(),
            took,
            epoch
        );
    }
    exit_for(view.summary.status)
}

/// Sends the step changes seen by this poll as progress events, in the
/// journal's order (see `follow_changes.rs`).
fn emit_changes(
    v: &ExecutionView,
    seen: &mut HashMap<String, StepStatus>,
    tx: &mpsc::UnboundedSender<Event>,
) {
    for e in super::follow_changes::changes(&v.steps, seen) {
        let _ = tx.send(e);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn bodies_leave_out_options_not_given_and_durations_match_the_api_pattern() {
        let b = super::without_nulls(&serde_json::json!({"confirm": true, "reason": null}));
        assert_eq!(b, serde_json::json!({"confirm": true}));
        for (d, want) in [
            (5400, "1h30m"),
            (20 * 60, "20m"),
            (3723, "1h2m3s"),
            (0, "0s"),
        ] {
            let got = super::api_duration(Duration::from_secs(d));
            assert_eq!(got, want);
            assert!(crate::api::input::is_plain_duration(&got), "{got}");
        }
        assert_eq!(super::api_duration(Duration::from_millis(1500)), "2s");
    }
}
