//! The `notifications:` section: receivers load, secrets come from the
//! environment or files and never show, mistakes are named by field.

use std::collections::HashMap;

use super::*;

fn parse(yaml: &str, env: &[(&str, &str)]) -> Result<NotifyConfig, Vec<String>> {
    let s: NotificationsSection = serde_yaml_ng::from_str(yaml).unwrap();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    resolve(&s, &|k| env.get(k).cloned())
}

const SLACK_URL: &str = "https://hooks.slack.com/services/T000/B000/very-secret-token";
const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn three_kinds_of_receiver_load_with_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{ROUTING_KEY}\n")).unwrap();
    let yaml = format!(
        "queue: 32
receivers:
  - {{name: ops, kind: json, url: 'http://127.0.0.1:9/hook', events: [verdict_down, failover_started], timeout: 2s, retries: 3}}
  - {{name: slack, kind: slack, url_env: DRCTL_SLACK_URL}}
  - {{name: pager, kind: pagerduty, routing_key_file: {}}}
",
        key.display()
    );
    let c = parse(&yaml, &[("DRCTL_SLACK_URL", SLACK_URL)]).unwrap();
    assert_eq!(c.queue, 32);
    let [ops, slack, pager] = &c.receivers[..] else {
        panic!("{c:?}")
    };
    assert_eq!(ops.kind, ReceiverKind::Json);
    assert!(ops.wants(EventKind::VerdictDown) && !ops.wants(EventKind::VerdictSuspect));
    assert_eq!((ops.timeout, ops.retries), (Duration::from_secs(2), 3));
    assert_eq!(&*slack.url.0, SLACK_URL);
    assert!(slack.wants(EventKind::ReadinessRecovered));
    assert_eq!(&*pager.url.0, PAGERDUTY_URL);
    assert_eq!(
        pager.kind,
        ReceiverKind::PagerDuty {
            routing_key: Secret(ROUTING_KEY.into())
        }
    );
    let debug = format!("{c:?}");
    assert!(
        !debug.contains(ROUTING_KEY) && !debug.contains("very-secret-token"),
        "{debug}"
    );
}

#[test]
fn every_mistake_is_named_by_field_without_the_secret() {
    let yaml = "queue: 0
receivers:
  - {name: ops, kind: jsn, url: 'http://x'}
  - {name: ops, kind: slack, url: 'http://x', url_env: SLACK}
  - {name: 'a b', kind: json, url: 'ftp://x', events: [verdict-down], timeout: 2m}
  - {name: pager, kind: pagerduty, routing_key_env: PD_KEY, retries: 99}
  - {name: hook, kind: json, url_env: HOOK, routing_key_env: PD_KEY}
  - {name: nourl, kind: slack}
";
    let e = parse(yaml, &[("HOOK", SLACK_URL)]).unwrap_err().join("\n");
    for want in [
        "notifications.queue: 0 must be between 1 and",
        "notifications.receivers[0].kind: \"jsn\" is not a receiver kind",
        "notifications.receivers[1].name: \"ops\" appears twice",
        "notifications.receivers[1].url: give only one of",
        "notifications.receivers[2].name: \"a b\" must be",
        "notifications.receivers[2].url: must be an http:// or https:// URL",
        "notifications.receivers[2].events[0]: \"verdict-down\" is not an event; expected one of verdict_suspect",
        "notifications.receivers[2].timeout: must be above zero and at most 1m",
        "notifications.receivers[3].routing_key_env: PD_KEY is not set in the environment",
        "notifications.receivers[3].retries: 99 is above 60",
        "notifications.receivers[4].routing_key_env/routing_key_file: only a pagerduty receiver",
        "notifications.receivers[5].url: not set; give",
    ] {
        assert!(e.contains(want), "{want:?} missing from:\n{e}");
    }
    assert!(!e.contains("very-secret-token"), "{e}");
}

#[test]
fn unknown_fields_are_refused_and_an_empty_section_sends_nothing() {
    let e = serde_yaml_ng::from_str::<NotificationsSection>(
        "receivers: [{name: p, kind: pagerduty, routing_key: abc}]",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `routing_key`"), "{e}");
    let c = parse("{}", &[]).unwrap();
    assert!(c.receivers.is_empty());
    assert_eq!(c.queue, QUEUE_DEFAULT);
}
