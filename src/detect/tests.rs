//! The detector's rules, exactly: majority, consecutive, freshness, actions.

use super::*;
use std::path::Path;

const SITES: [&str; 3] = ["us-east-1", "us-west-2", "us-east-2"];
const SEC: u64 = 1000;

/// The shipped policy with 1 s probes, 500 ms timeout, 3 failures, in
/// `mode` with `manual_timeout`.
fn policy(mode: Mode, manual_timeout: Option<(u64, TimeoutAction)>) -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml");
    let mut p = crate::policy::load(&path).unwrap();
    p.detection.probe_interval = Duration::from_secs(1);
    p.detection.probe_timeout = Duration::from_millis(500);
    p.mode = mode;
    p.manual_timeout = manual_timeout.map(|(mins, action)| crate::policy::ManualTimeout {
        after: Duration::from_secs(mins * 60),
        action,
    });
    p
}

fn round(site: &str, n: u64, at_ms: u64, ok: bool) -> Observation {
    Observation {
        policy: "emr-platform".into(),
        site: site.into(),
        node: 1,
        round: n,
        at_ms,
        probes: vec![ProbeResult {
            target: "http https://api.emr-platform.com/health".into(),
            ok,
            inconclusive: false,
            latency_ms: 12,
            detail: (!ok).then(|| "connection refused".into()),
        }],
        tiers: vec![],
    }
}

/// Rounds every second from t=0 for each site, `pattern[site][i]` = ok.
fn history(patterns: &[(&str, &str)]) -> BTreeMap<String, VecDeque<Observation>> {
    patterns
        .iter()
        .map(|(site, p)| {
            let rounds = p
                .chars()
                .enumerate()
                .map(|(i, c)| round(site, i as u64 + 1, i as u64 * SEC, c == '.'))
                .collect();
            (site.to_string(), rounds)
        })
        .collect()
}

fn sites() -> Vec<String> {
    SITES.iter().map(|s| s.to_string()).collect()
}

fn verdict(
    p: &Policy,
    h: &BTreeMap<String, VecDeque<Observation>>,
    now: u64,
    tweak: impl FnOnce(&mut Situation<'_>),
) -> Verdict {
    let sites = sites();
    let mut s = Situation {
        now_ms: now,
        sites: &sites,
        observations: Some(h),
        ..Situation::default()
    };
    tweak(&mut s);
    evaluate(p, &s)
}

// '.' = probe passed, 'x' = failed; round i starts at i seconds.

#[test]
fn a_majority_failing_in_a_row_confirms_the_failure() {
    let p = policy(Mode::Automatic, None);
    let h = history(&[
        ("us-east-1", "....xxx"),
        ("us-west-2", "....xxx"),
        ("us-east-2", "......."),
    ]);
    let v = verdict(&p, &h, 6 * SEC + 100, |_| {});
    assert_eq!(v.health, Health::Down);
    assert_eq!(v.action, Action::Failover);
    // Confirmed by the third failed round of the second site: t = 6 s.
    assert_eq!(v.confirmed_at_ms, Some(6 * SEC));
    assert!(
        v.reason
            .starts_with("primary down: 2 of 3 sites failed 3 consecutive probes"),
        "{}",
        v.reason
    );
    assert!(v.reason.contains("connection refused"), "{}", v.reason);
}

#[test]
fn one_failure_short_is_only_suspect() {
    let p = policy(Mode::Automatic, None);
    let h = history(&[
        ("us-east-1", ".....xx"),
        ("us-west-2", "....xxx"),
        ("us-east-2", "....xxx"),
    ]);
    let v = verdict(&p, &h, 6 * SEC, |_| {});
    assert_eq!(v.health, Health::Down, "two of three are enough");
    let h = history(&[
        ("us-east-1", ".....xx"),
        ("us-west-2", ".....xx"),
        ("us-east-2", "....xxx"),
    ]);
    let v = verdict(&p, &h, 6 * SEC, |_| {});
    assert_eq!(v.health, Health::Suspect);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.confirmed_at_ms, None);
}

#[test]
fn one_site_cut_off_is_never_enough() {
    let p = policy(Mode::Automatic, None);
    let h = history(&[
        ("us-east-1", "...."),
        ("us-west-2", "xxxxxxxxxxxxxxxxxxxx"),
        ("us-east-2", "...................."),
    ]);
    // us-east-1's rounds stopped at t=3: only two sites report.
    let v = verdict(&p, &h, 19 * SEC, |_| {});
    assert_eq!(v.health, Health::Suspect);
    assert_eq!(v.action, Action::None);
    assert!(
        v.reason.contains("1 of 3 sites see it down, 2 needed"),
        "{}",
        v.reason
    );
    assert!(
        v.reason.contains("no recent rounds from us-east-1"),
        "{}",
        v.reason
    );
}

#[test]
fn flapping_is_never_enough() {
    let p = policy(Mode::Automatic, None);
    let h = history(&[
        ("us-east-1", "xx.xx.xx.xx.xx.xx.xx"),
        ("us-west-2", "x.xx.xx.xx.xx.xx.xx."),
        ("us-east-2", ".xx.xx.xx.xx.xx.xx.x"),
    ]);
    for now in 0..20 {
        // Evaluate as the rounds arrive, the way the leader does.
        let cut: BTreeMap<_, _> = h
            .iter()
            .map(|(s, r)| (s.clone(), r.iter().take(now + 1).cloned().collect()))
            .collect();
        let v = verdict(&p, &cut, now as u64 * SEC + 10, |_| {});
        assert_ne!(v.health, Health::Down, "at {now} s: {}", v.reason);
    }
    let v = verdict(&p, &h, 19 * SEC + 10, |_| {});
    assert!(v.reason.contains("flapping"), "{}", v.reason);
}

#[test]
fn stale_rounds_do_not_count() {
    let p = policy(Mode::Automatic, None);
    let h = history(&[
        ("us-east-1", "xxx"),
        ("us-west-2", "xxx"),
        ("us-east-2", "xxx"),
    ]);
    // Two intervals + the timeout after the newest round: still fresh.
    assert_eq!(verdict(&p, &h, 2 * SEC + 2500, |_| {}).health, Health::Down);
    // Later: nobody reports; nothing is confirmed from old news.
    let v = verdict(&p, &h, 2 * SEC + 2501, |_| {});
    assert_eq!(v.health, Health::Unknown);
    assert_eq!(v.action, Action::None);
}

#[test]
fn a_gap_in_a_sites_rounds_breaks_its_run() {
    let p = policy(Mode::Automatic, None);
    let mut h = history(&[("us-west-2", "xx"), ("us-east-2", "xxx")]);
    // us-west-2's third failure comes 10 s after its second: it was not
    // probing in between, so its run starts again.
    h.get_mut("us-west-2")
        .unwrap()
        .push_back(round("us-west-2", 3, 11 * SEC, false));
    h.get_mut("us-east-2")
        .unwrap()
        .push_back(round("us-east-2", 4, 11 * SEC, false));
    let v = verdict(&p, &h, 11 * SEC, |_| {});
    let west = v.sites.iter().find(|s| s.site == "us-west-2").unwrap();
    assert_eq!(west.consecutive_failures, 1);
    assert_eq!(v.health, Health::Suspect);
}

#[test]
fn a_confirmed_failure_is_acted_on_only_when_nothing_blocks_it() {
    let p = policy(Mode::Automatic, None);
    let h = history(&[
        ("us-east-1", "xxx"),
        ("us-west-2", "xxx"),
        ("us-east-2", "xxx"),
    ]);
    let now = 2 * SEC;
    type Tweak = fn(&mut Situation<'_>);
    let cases: [(&str, Tweak, Action); 4] = [
        (
            "maintenance",
            |s| s.maintenance = Some("alice: patching".into()),
            Action::Maintenance,
        ),
        (
            "held down",
            |s| s.unacknowledged = Some(("e-1".into(), "completed".into())),
            Action::HeldDown,
        ),
        (
            "running",
            |s| s.running = Some("e-2".into()),
            Action::Running,
        ),
        (
            "failed over",
            |s| s.failed_over_to = Some("us-west-2".into()),
            Action::FailedOver,
        ),
    ];
    for (name, tweak, want) in cases {
        let v = verdict(&p, &h, now, tweak);
        assert_eq!(v.health, Health::Down, "{name}: observation goes on");
        assert_eq!(v.action, want, "{name}: {}", v.reason);
    }
    let v = verdict(&p, &h, now, |s| {
        s.unacknowledged = Some(("e-1".into(), "completed".into()))
    });
    assert!(v.reason.contains("drctl acknowledge"), "{}", v.reason);
}

#[test]
fn manual_mode_recommends_and_proceeds_only_when_the_policy_says_so() {
    let h = history(&[
        ("us-east-1", "xxx"),
        ("us-west-2", "xxx"),
        ("us-east-2", "xxx"),
    ]);
    let now = 1000 * SEC;
    let wait = policy(Mode::Manual, None);
    let v = verdict(&wait, &h, 2 * SEC, |_| {});
    assert_eq!(v.action, Action::Recommend);
    assert!(v.reason.contains("failover recommended"), "{}", v.reason);

    let proceed = policy(Mode::Manual, Some((15, TimeoutAction::Proceed)));
    let fresh: BTreeMap<_, _> = h
        .iter()
        .map(|(s, r)| {
            let r = r
                .iter()
                .map(|o| Observation {
                    at_ms: o.at_ms + now - 2 * SEC,
                    ..o.clone()
                })
                .collect();
            (s.clone(), r)
        })
        .collect();
    let since = now - 15 * 60 * SEC;
    let v = verdict(&proceed, &fresh, now, |s| {
        s.recommended_since_ms = Some(since + 1)
    });
    assert_eq!(v.action, Action::Recommend, "not yet: {}", v.reason);
    let v = verdict(&proceed, &fresh, now, |s| {
        s.recommended_since_ms = Some(since)
    });
    assert_eq!(v.action, Action::Failover, "{}", v.reason);
    assert!(
        v.reason.contains("the policy proceeds after 15m"),
        "{}",
        v.reason
    );

    let keep = policy(Mode::Manual, Some((15, TimeoutAction::Wait)));
    let v = verdict(&keep, &fresh, now, |s| s.recommended_since_ms = Some(0));
    assert_eq!(v.action, Action::Recommend);
}

#[test]
fn a_healthy_primary_reads_as_healthy() {
    let p = policy(Mode::Automatic, None);
    let h = history(&[
        ("us-east-1", "..."),
        ("us-west-2", "..."),
        ("us-east-2", "..."),
    ]);
    let v = verdict(&p, &h, 2 * SEC, |_| {});
    assert_eq!(v.health, Health::Healthy);
    assert_eq!(v.reason, "primary healthy: 3 of 3 sites report it up");
}

#[test]
fn exposures_take_the_largest_fresh_heartbeat_figure() {
    let p = policy(Mode::Automatic, None);
    let reading = |ms: Option<u64>, source: &str| TierReading {
        tier: DataTier::Database,
        exposure: ms.map_or(Exposure::Unknown, |m| {
            Exposure::Known(Duration::from_millis(m))
        }),
        source: source.into(),
        detail: None,
        source_reachable: None,
    };
    let mut h = history(&[("us-east-1", "."), ("us-west-2", "."), ("us-east-2", ".")]);
    let set = |h: &mut BTreeMap<String, VecDeque<Observation>>, site: &str, r: TierReading| {
        h.get_mut(site).unwrap().back_mut().unwrap().tiers = vec![r];
    };
    set(&mut h, "us-east-1", reading(Some(900), "cloud"));
    set(&mut h, "us-west-2", reading(Some(300), "heartbeat"));
    set(&mut h, "us-east-2", reading(Some(450), "heartbeat"));
    let e = exposures(&p, &h, 100);
    assert_eq!(
        e[&DataTier::Database],
        (
            Exposure::Known(Duration::from_millis(450)),
            "heartbeat".into()
        )
    );
    // Unknown only when no fresh site knows it.
    set(&mut h, "us-west-2", reading(None, "heartbeat"));
    set(&mut h, "us-east-2", reading(None, "heartbeat"));
    assert_eq!(
        exposures(&p, &h, 100)[&DataTier::Database].0,
        Exposure::Unknown
    );
    // Stale readings are ignored.
    assert!(exposures(&p, &h, 100 * SEC).is_empty());
}

#[test]
fn inconclusive_probes_are_no_evidence_either_way() {
    let p = policy(Mode::Automatic, None);
    let mut h = history(&[
        ("us-east-1", "...."),
        ("us-west-2", "xxxx"),
        ("us-east-2", "...."),
    ]);
    // The witness cannot read AWS (no credentials): its status probe fails
    // on its own side. That is not the primary failing.
    for o in h.get_mut("us-east-2").unwrap() {
        o.probes = vec![ProbeResult {
            target: "rds emr-platform-prod".into(),
            ok: false,
            inconclusive: true,
            latency_ms: 3,
            detail: Some("cannot check: AccessDenied".into()),
        }];
    }
    let v = verdict(&p, &h, 3 * SEC, |_| {});
    assert_ne!(v.health, Health::Down, "{}", v.reason);
    assert!(
        v.reason.contains("no recent rounds from us-east-2"),
        "{}",
        v.reason
    );
    // An inconclusive probe beside a failed one: the round still failed.
    for o in h.get_mut("us-east-2").unwrap() {
        let mut failed = round("us-east-2", 0, 0, false).probes;
        failed.append(&mut o.probes);
        o.probes = failed;
    }
    assert_eq!(verdict(&p, &h, 3 * SEC, |_| {}).health, Health::Down);
}

#[test]
fn a_replica_that_lost_its_source_is_named_as_evidence() {
    let p = policy(Mode::Automatic, None);
    let mut h = history(&[
        ("us-east-1", "xxx"),
        ("us-west-2", "xxx"),
        ("us-east-2", "xxx"),
    ]);
    h.get_mut("us-west-2").unwrap().back_mut().unwrap().tiers = vec![TierReading {
        tier: DataTier::Database,
        exposure: Exposure::Known(Duration::from_millis(1200)),
        source: "heartbeat".into(),
        detail: None,
        source_reachable: Some(false),
    }];
    let v = verdict(&p, &h, 2 * SEC, |_| {});
    assert!(
        v.reason
            .contains("; the database replica reports its source unreachable; automatic mode"),
        "{}",
        v.reason
    );
}
