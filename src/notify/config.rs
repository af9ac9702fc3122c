//! `notifications:` in the node file: the webhooks this node sends to
//! while it leads.
//!
//! ```yaml
//! notifications:
//!   queue: 256                  # events held per receiver (default 256)
//!   receivers:
//!     - name: ops               # unique; metric label and delivery record
//!       kind: json              # json | slack | pagerduty
//!       url: https://hooks.example.com/drctl
//!       events: [verdict_down, failover_started]   # default: every event
//!       timeout: 5s             # per request (default 5s)
//!       retries: 5              # attempts after the first (default 5)
//!     - name: slack
//!       kind: slack
//!       url_file: /var/run/drctl/slack/url       # or url_env: DRCTL_SLACK_URL
//!     - name: pager
//!       kind: pagerduty         # url defaults to PagerDuty's Events v2 endpoint
//!       routing_key_file: /var/run/drctl/pagerduty/key   # or routing_key_env
//! ```
//!
//! A URL may carry a credential (a Slack webhook URL is one), so it can be
//! read from an environment variable or a file like the other secrets;
//! the PagerDuty routing key must be. Neither is ever shown: `Debug`
//! masks them and delivery errors leave the URL out.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::EventKind;

/// PagerDuty's Events API v2 endpoint, the default URL of a `pagerduty`
/// receiver.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Events held per receiver when `queue` is not set.
pub const QUEUE_DEFAULT: usize = 256;
/// The largest `queue` accepted: a bound on memory per receiver.
pub const QUEUE_MAX: usize = 10_000;
/// The largest `retries` accepted: with backoff capped at a minute, about
/// an hour of trying.
pub const RETRIES_MAX: u32 = 60;
/// The longest `timeout` accepted.
pub const TIMEOUT_MAX: Duration = Duration::from_secs(60);

/// `notifications:` as written.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSection {
    /// Events held per receiver; when full the oldest non-critical is dropped.
    pub queue: Option<usize>,
    /// The webhooks.
    #[serde(default)]
    pub receivers: Vec<ReceiverEntry>,
}

/// One `notifications.receivers` entry as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiverEntry {
    /// A unique name.
    pub name: String,
    /// `json`, `slack` or `pagerduty`.
    #[schemars(extend("enum" = ["json", "slack", "pagerduty"]))]
    pub kind: String,
    /// The URL, when it holds no credential.
    pub url: Option<String>,
    /// An environment variable holding the URL.
    pub url_env: Option<String>,
    /// A file holding the URL.
    pub url_file: Option<PathBuf>,
    /// An environment variable holding the PagerDuty routing key.
    pub routing_key_env: Option<String>,
    /// A file holding the PagerDuty routing key.
    pub routing_key_file: Option<PathBuf>,
    /// The events sent to it (default: all).
    pub events: Option<Vec<String>>,
    /// The longest one request may take.
    #[schemars(with = "Option<crate::duration::DurationText>")]
    pub timeout: Option<String>,
    /// Attempts after the first.
    pub retries: Option<u32>,
}

/// The payload a receiver speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverKind {
    /// The event as JSON (see [`super::payload::json`]).
    Json,
    /// `{"text": ..., "blocks": [...]}`, as Slack's incoming webhooks take.
    Slack,
    /// PagerDuty Events v2, with this routing key.
    PagerDuty {
        /// The integration's routing key (a secret).
        routing_key: Secret,
    },
}

/// A secret text: its `Debug` is the mask.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Arc<str>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::redact::MASK)
    }
}

/// A validated receiver.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Its name.
    pub name: String,
    /// What it speaks.
    pub kind: ReceiverKind,
    /// Where to POST (masked in `Debug`: it may hold a credential).
    pub url: Secret,
    /// The events it wants; `None`: all.
    pub events: Option<BTreeSet<EventKind>>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
}

impl Receiver {
    /// Whether `kind` is sent to it.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.as_ref().is_none_or(|e| e.contains(&kind))
    }
}

/// The validated `notifications:` section.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Events held per receiver.
    pub queue: usize,
    /// The receivers, in file order.
    pub receivers: Vec<Receiver>,
    /// The wait before a first retry, doubled for each next one up to
    /// [`super::deliver::BACKOFF_MAX`] ([`BACKOFF_FIRST`]; not in the file).
    pub backoff: Duration,
}

/// The wait before a first retry.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            queue: QUEUE_DEFAULT,
            receivers: Vec::new(),
            backoff: BACKOFF_FIRST,
        }
    }
}

/// Validates the section, reading secrets through `env` (the process
/// environment in production, a map in tests).
///
/// # Errors
///
/// Every problem, each naming its field (`notifications.receivers[1].url`).
pub fn resolve(
    s: &NotificationsSection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<NotifyConfig, Vec<String>> {
    let mut problems = Vec::new();
    let queue = s.queue.unwrap_or(QUEUE_DEFAULT);
    if queue == 0 || queue > QUEUE_MAX {
        problems.push(format!(
            "notifications.queue: {queue} must be between 1 and {QUEUE_MAX}"
        ));
    }
    let mut names = BTreeSet::new();
    let mut receivers = Vec::new();
    for (i, r) in s.receivers.iter().enumerate() {
        let field = format!("notifications.receivers[{i}]");
        if r.name.is_empty()
            || r.name.len() > 64
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(format!(
                "{field}.name: {} must be 1 to 64 letters, digits, '-' or '_'",
                crate::policy::shown_name(&r.name)
            ));
        } else if !names.insert(r.name.clone()) {
            problems.push(format!("{field}.name: {:?} appears twice", r.name));
        }
        match receiver(r, &field, env) {
            Ok(r) => receivers.push(r),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(NotifyConfig {
            queue,
            receivers,
            backoff: BACKOFF_FIRST,
        })
    } else {
        Err(problems)
    }
}

fn receiver(
    r: &ReceiverEntry,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Receiver, Vec<String>> {
    let mut problems = Vec::new();
    let default_url = (r.kind == "pagerduty").then_some(PAGERDUTY_URL);
    let url = secret(
        (r.url.as_deref(), r.url_env.as_deref(), r.url_file.as_ref()),
        &format!("{field}.url"),
        default_url,
        env,
    )
    .map_err(|p| problems.push(p))
    .ok()
    .filter(|u| {
        let ok = u.starts_with("https://") || u.starts_with("http://");
        if !ok {
            problems.push(format!("{field}.url: must be an http:// or https:// URL"));
        }
        ok
    });
    let routing = (r.routing_key_env.as_deref(), r.routing_key_file.as_ref());
    let kind = match r.kind.as_str() {
        "json" | "slack" if routing != (None, None) => {
            problems.push(format!(
                "{field}.routing_key_env/routing_key_file: only a pagerduty receiver has a routing key"
            ));
            None
        }
        "json" => Some(ReceiverKind::Json),
        "slack" => Some(ReceiverKind::Slack),
        "pagerduty" => secret(
            (None, routing.0, routing.1),
            &format!("{field}.routing_key"),
            None,
            env,
        )
        .map_err(|p| problems.push(p))
        .ok()
        .map(|k| ReceiverKind::PagerDuty {
            routing_key: Secret(k.into()),
        }),
        other => {
            problems.push(format!(
                "{field}.kind: {} is not a receiver kind; expected json, slack or pagerduty",
                crate::policy::shown_name(other)
            ));
            None
        }
    };
    let events = r.events.as_ref().map(|names| {
        let mut set = BTreeSet::new();
        for (j, n) in names.iter().enumerate() {
            match EventKind::parse(n) {
                Some(k) => {
                    set.insert(k);
                }
                None => problems.push(format!(
                    "{field}.events[{j}]: {} is not an event; expected one of {}",
                    crate::policy::shown_name(n),
                    EventKind::ALL.map(EventKind::label).join(", ")
                )),
            }
        }
        set
    });
    let timeout = match r.timeout.as_deref().map(crate::duration::parse) {
        None => Some(Duration::from_secs(5)),
        Some(Ok(d)) if !d.is_zero() && d <= TIMEOUT_MAX => Some(d),
        Some(Ok(_)) => {
            problems.push(format!(
                "{field}.timeout: must be above zero and at most {}",
                crate::duration::fmt(TIMEOUT_MAX)
            ));
            None
        }
        Some(Err(e)) => {
            problems.push(format!("{field}.timeout: {e}"));
            None
        }
    };
    let retries = r.retries.unwrap_or(5);
    if retries > RETRIES_MAX {
        problems.push(format!("{field}.retries: {retries} is above {RETRIES_MAX}"));
    }
    match (url, kind, timeout, problems.is_empty()) {
        (Some(url), Some(kind), Some(timeout), true) => Ok(Receiver {
            name: r.name.clone(),
            kind,
            url: Secret(url.into()),
            events,
            timeout,
            retries,
        }),
        _ => Err(problems),
    }
}

/// A value given inline, through an environment variable or in a file:
/// exactly one of them, or `default` when none is.
fn secret(
    (inline, env_var, file): (Option<&str>, Option<&str>, Option<&PathBuf>),
    field: &str,
    default: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let given = [inline.is_some(), env_var.is_some(), file.is_some()];
    let value = match (inline, env_var, file) {
        _ if given.iter().filter(|g| **g).count() > 1 => {
            return Err(format!(
                "{field}: give only one of {field}, {field}_env and {field}_file"
            ))
        }
        (Some(v), _, _) => v.to_string(),
        (_, Some(var), _) => env(var)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("{field}_env: {var} is not set in the environment"))?,
        (_, _, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| format!("{field}_file: cannot read {}: {e}", f.display()))?,
        (None, None, None) => match default {
            Some(d) => d.to_string(),
            None => {
                return Err(format!(
                    "{field}: not set; give {field}_env or {field}_file"
                ))
            }
        },
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(format!("{field}: empty"));
    }
    Ok(value)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
