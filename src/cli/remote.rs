//! Commands that talk to a running controller cluster over its API:
//! `drctl status`, `drctl failover --controller`, `drctl maintenance`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tokio::sync::mpsc;

use super::{exit_for, live_runtime, progress, Exit, FailoverArgs, Output};
use crate::api::client::{Answer, Controllers};
use crate::api::messages::ErrorReply;
use crate::api::views::{ExecutionView, FailoverBody, MaintenanceBody, StatusView};
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
    #[arg(long, default_value = crate::api::client::DEFAULT_TIMEOUT, value_parser = crate::duration::parse_flag)]
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
    c.status().await.map(|(_, s)| s).map_err(|e| e.message)
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
        super::roles_cmd::render_roles(&mut out, p);
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
    let s = match args.action.session() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let body = MaintenanceBody {
        on,
        reason: args.action.reason.clone(),
        operator: Some(args.action.operator.clone()),
    };
    let answer = s.rt.block_on(s.cluster.maintenance(&s.token, &body));
    finish(answer, |_| {
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

/// What an authenticated action needs before it is sent: a runtime, the
/// members to ask and the token.
pub(super) struct Session {
    /// The runtime to send on.
    pub rt: tokio::runtime::Runtime,
    /// The members, tried in turn only while the action cannot have been
    /// recorded (see `api/client.rs`).
    pub cluster: Controllers,
    /// The API token.
    pub token: String,
}

impl ActionArgs {
    /// The token, a runtime and the members.
    ///
    /// # Errors
    ///
    /// The token is missing or unreadable ([`Exit::Denied`]), or the runtime
    /// cannot start.
    pub(super) fn session(&self) -> Result<Session, Exit> {
        let token = self.token.token()?;
        Ok(Session {
            rt: live_runtime()?,
            cluster: self.controller.controllers(),
            token,
        })
    }
}

/// Ends an authenticated action: on 200 hands the reply to `done`,
/// otherwise prints the error and exits as the status code says.
pub(super) fn finish<T>(
    answer: Result<Answer<T>, crate::api::client::ClientError>,
    done: impl FnOnce(&T),
) -> Exit {
    let a = match answer {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Unavailable;
        }
    };
    match (a.code, a.reply) {
        (200, Ok(reply)) => {
            done(&reply);
            Exit::Ok
        }
        (code, Ok(_)) => exit_for_http(code, &ErrorReply::default()),
        (code, Err(e)) => exit_for_http(code, &e),
    }
}

/// A duration as the API's `accept_data_loss` takes it (`1h30m15s`),
/// rounded up to whole seconds so no accepted loss is cut short.
pub(super) fn api_duration(d: Duration) -> String {
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
pub(super) fn exit_for_http(code: u16, body: &ErrorReply) -> Exit {
    let msg = match body.error.as_str() {
        "" => "no message",
        m => m,
    };
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
        let body = FailoverBody {
            confirm: true,
            policy: args.policy_name.clone(),
            accept_data_loss: args.accept_data_loss.map(api_duration),
            reason: args.reason.clone(),
            operator: Some(args.operator.clone()),
            ..FailoverBody::default()
        };
        // A repeat is harmless: the cluster runs one execution per policy
        // and answers a second request with the running one.
        let a = match c.failover(&token, &body).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Unavailable;
            }
        };
        match (a.code, a.reply) {
            (202, Ok(r)) => {
                eprintln!(
                    "execution {} accepted by leader node {}; following it",
                    r.execution_id, r.leader
                );
                follow(c, &a.url, &r.execution_id).await
            }
            (200, Ok(r)) => {
                println!(
                    "already failed over: execution {} recorded; nothing changed",
                    r.execution_id
                );
                Exit::Ok
            }
            (409, Err(e)) => {
                let id = e.execution_id.unwrap_or_default();
                eprintln!("execution {id} is already running (no second one was started); following it");
                follow(c, &a.url, &id).await
            }
            (code, Ok(_)) => exit_for_http(code, &ErrorReply::default()),
            (code, Err(e)) => exit_for_http(code, &e),
        }
    })
}

/// Follows an execution until it ends, through any member that answers:
/// when the node we asked dies (it may be the leader), the others still do.
pub(super) async fn follow(c: &Controllers, url: &str, id: &str) -> Exit {
    let mut urls = vec![base(url)];
    urls.extend(c.urls().iter().cloned());
    if let Ok(s) = get_status(c).await {
        urls.extend(s.members.iter().map(|m| base(&m.addr)));
    }
    let mut seen_urls = std::collections::HashSet::new();
    urls.retain(|u| seen_urls.insert(u.clone()));
    // Each member gets 2 s per poll, whatever `--timeout` says: a dead
    // leader must not hold up reading the journal from the others.
    let members = Controllers::new(&urls, Duration::from_secs(2));
    let (tx, rx) = mpsc::unbounded_channel();
    let shown = progress::spawn(rx);
    let mut seen: HashMap<String, StepStatus> = HashMap::new();
    let mut last_answer = tokio::time::Instant::now();
    let mut resumed = 0;
    let view = loop {
        let answer = members.execution(id).await.ok().map(|(_, v)| v);
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
        let body = crate::api::views::FailoverBody {
            confirm: true,
            reason: None,
            ..Default::default()
        };
        let b = serde_json::to_value(&body).unwrap();
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
