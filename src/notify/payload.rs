//! The bodies POSTed to each kind of receiver.

use serde_json::{json, Value};

use super::config::ReceiverKind;
use super::Event;

/// The body for `kind`; `site` names the sending node's site.
pub fn body(kind: &ReceiverKind, e: &Event, site: &str) -> Value {
    match kind {
        ReceiverKind::Json => json(e),
        ReceiverKind::Slack => slack(e),
        ReceiverKind::PagerDuty { routing_key } => pagerduty(&routing_key.0, e, site),
    }
}

/// The generic webhook: the event as it is, with PagerDuty's dedup key
/// for receivers that group by incident.
pub fn json(e: &Event) -> Value {
    json!({
        "id": e.id,
        "kind": e.kind,
        "policy": e.policy,
        "execution_id": e.execution_id,
        "sentence": e.sentence,
        "at": e.at,
        "node": e.node,
        "incident": e.incident,
        "dedup_key": e.dedup_key(),
    })
}

/// Slack's incoming-webhook format: a `text` fallback and blocks.
pub fn slack(e: &Event) -> Value {
    let icon = if e.kind.resolves() {
        ":white_check_mark:"
    } else if e.kind.critical() {
        ":rotating_light:"
    } else {
        ":warning:"
    };
    let text = format!("{icon} drctl [{}] {}: {}", e.policy, e.kind, e.sentence);
    let mut context = format!("node {} · {}", e.node, e.at);
    if let Some(x) = &e.execution_id {
        context.push_str(&format!(" · execution {x}"));
    }
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    })
}

/// PagerDuty Events v2: `trigger` for an incident's events, `resolve`
/// for the one that ends it, both with the incident's dedup key.
pub fn pagerduty(routing_key: &str, e: &Event, site: &str) -> Value {
    if e.kind.resolves() {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": e.dedup_key(),
        });
    }
    let severity = if e.kind.critical() {
        "critical"
    } else {
        "warning"
    };
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": e.dedup_key(),
        "payload": {
            "summary": truncate(&format!("[{}] {}: {}", e.policy, e.kind, e.sentence), 1024),
            "source": format!("drctl node {} ({site})", e.node),
            "severity": severity,
            "timestamp": e.at,
            "component": e.policy,
            "class": e.kind,
            "custom_details": json(e),
        },
    })
}

/// `s` cut to at most `max` bytes at a character boundary (PagerDuty
/// refuses a summary over 1024 characters).
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::Secret;
    use crate::notify::EventKind;

    fn event(kind: EventKind, incident: &str) -> Event {
        Event {
            id: format!("p/{incident}/{kind}"),
            kind,
            policy: "p".into(),
            execution_id: None,
            sentence: "the primary is down at 2 of 3 sites".into(),
            at: "2026-12-01T16:00:00Z".into(),
            node: 2,
            incident: incident.into(),
        }
    }

    #[test]
    fn pagerduty_trigger_and_resolve_share_the_dedup_key() {
        let key = Secret("rk".into());
        let kind = ReceiverKind::PagerDuty { routing_key: key };
        let t = body(
            &kind,
            &event(EventKind::VerdictDown, "primary-3"),
            "us-west-2",
        );
        let r = body(
            &kind,
            &event(EventKind::VerdictRecovered, "primary-3"),
            "us-west-2",
        );
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(r["event_action"], "resolve");
        assert_eq!(t["dedup_key"], "drctl/p/primary-3");
        assert_eq!(t["dedup_key"], r["dedup_key"]);
        assert_eq!(t["routing_key"], "rk");
        assert_eq!(t["payload"]["severity"], "critical");
        assert_eq!(t["payload"]["source"], "drctl node 2 (us-west-2)");
        assert_eq!(
            t["payload"]["summary"],
            "[p] verdict_down: the primary is down at 2 of 3 sites"
        );
        let s = body(&kind, &event(EventKind::VerdictSuspect, "primary-3"), "x");
        assert_eq!(s["payload"]["severity"], "warning");
    }

    #[test]
    fn slack_and_json_carry_the_sentence() {
        let e = event(EventKind::VerdictDown, "primary-1");
        let s = slack(&e);
        assert_eq!(
            s["text"],
            ":rotating_light: drctl [p] verdict_down: the primary is down at 2 of 3 sites"
        );
        assert_eq!(s["blocks"][0]["text"]["text"], s["text"]);
        let j = json(&e);
        assert_eq!(j["kind"], "verdict_down");
        assert_eq!(j["node"], 2);
        assert_eq!(j["dedup_key"], "drctl/p/primary-1");
    }

    #[test]
    fn a_long_summary_is_cut_at_a_character() {
        let s = truncate(&"é".repeat(600), 1024);
        assert!(s.len() <= 1024 && s.ends_with("..."));
    }
}
