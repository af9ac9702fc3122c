//! Stage two: raw values → a checked [`Policy`], every problem collected.

use std::path::Path;
use std::time::Duration;

use super::raw::*;
use super::*;

/// Collects problems while building a policy.
pub(super) struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    pub(super) fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    pub(super) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    pub(super) fn problem(
        &mut self,
        path: impl Into<String>,
        value: Option<String>,
        expected: impl Into<String>,
    ) {
        // A value may be a connection string: never echo its secret.
        self.problems.push(Problem {
            path: path.into(),
            value: value.map(|v| crate::redact::redact(&v)),
            expected: expected.into(),
        });
    }

    pub(super) fn required<T>(&mut self, path: &str, v: Option<T>, what: &str) -> Option<T> {
        if v.is_none() {
            self.problem(path, None, format!("required: {what}"));
        }
        v
    }

    pub(super) fn name(&mut self, path: &str, v: Option<String>, what: &str) -> Option<String> {
        let s = self.required(path, v, what)?;
        if s.trim().is_empty() || s.chars().any(char::is_whitespace) {
            self.problem(
                path,
                Some(format!("{s:?}")),
                format!("{what}, without spaces"),
            );
            return None;
        }
        Some(s)
    }

    pub(super) fn region(&mut self, path: &str, v: Option<String>) -> Option<String> {
        let s = self.required(path, v, "an AWS region such as us-east-1")?;
        if !super::is_region(&s) {
            self.problem(path, Some(super::names::shown(&s)), super::REGION_RULE);
            return None;
        }
        Some(s)
    }

    /// The policy's name: it names the journal file, metrics and state,
    /// so it is held to [`super::NAME_RULE`].
    fn policy_name(&mut self, v: Option<String>) -> Option<String> {
        let s = self.required("name", v, "a policy name")?;
        if !super::is_valid_name(&s) {
            self.problem(
                "name",
                Some(super::names::shown(&s)),
                format!("a valid policy name: {}", super::NAME_RULE),
            );
            return None;
        }
        Some(s)
    }

    pub(super) fn positive(
        &mut self,
        path: &str,
        v: Option<String>,
        default: Option<Duration>,
    ) -> Option<Duration> {
        let Some(text) = v else {
            if default.is_none() {
                self.problem(path, None, "required: a duration like 90s, 15m or 4h");
            }
            return default;
        };
        match crate::duration::parse(&text) {
            Ok(d) if d.is_zero() => {
                self.problem(path, Some(format!("{text:?}")), "a duration above zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(path, Some(format!("{text:?}")), e);
                None
            }
        }
    }

    pub(super) fn count(&mut self, path: &str, v: Option<i64>, min: i64, max: i64) -> Option<u32> {
        let n = self.required(path, v, &format!("a whole number from {min} to {max}"))?;
        if !(min..=max).contains(&n) {
            self.problem(
                path,
                Some(n.to_string()),
                format!("a whole number from {min} to {max}"),
            );
            return None;
        }
        Some(n as u32)
    }

    pub(super) fn policy(&mut self, mut raw: RawPolicy, source: &Path) -> Option<Policy> {
        let name = self.policy_name(raw.name);
        let regions = self.regions(raw.regions);
        let (rto, rpo) = self.objectives(raw.objectives);
        let (raw_probes, raw_heartbeats, raw_secondary) = raw
            .detection
            .as_mut()
            .map(|d| {
                (
                    d.probes.take(),
                    d.heartbeats.take(),
                    d.secondary_probes.take(),
                )
            })
            .unwrap_or_default();
        let detection = self.detection(raw.detection);
        let mode = match raw.mode.as_deref() {
            Some("automatic") => Some(Mode::Automatic),
            Some("manual") => Some(Mode::Manual),
            other => {
                self.problem(
                    "mode",
                    other.map(|m| format!("{m:?}")),
                    "automatic or manual",
                );
                None
            }
        };
        let execution = self.execution(raw.execution);
        let routing_control = raw
            .routing_control
            .and_then(|r| self.routing_control_cluster(r));
        let tiers = self.tiers(raw.tiers);
        if let Some(t) = &tiers {
            self.routing_controls_have_a_cluster(t, routing_control.as_ref());
        }
        if let (Some(t), Some(r)) = (&tiers, &regions) {
            self.target_groups_in_dr_region(t, r);
        }
        let manual_timeout = self.manual_timeout(raw.manual_timeout, mode);
        let detection = match (detection, &tiers) {
            (Some(d), Some(t)) => self
                .probes_and_heartbeats(d, raw_probes, raw_heartbeats, t)
                .map(|mut d| {
                    d.secondary_probes = raw_secondary.map(|p| {
                        self.probe_set("detection.secondary_probes", p, d.probe_interval, t)
                    });
                    d
                }),
            _ => None,
        };
        let fencing = match (raw.fencing, &detection) {
            (Some(f), Some(d)) => self.fencing(f, d, tiers.as_ref()),
            _ => None,
        };
        let readiness = self.readiness(raw.readiness);
        let failback = self.failback(raw.failback);
        Some(Policy {
            name: name?,
            description: raw.description,
            source: source.to_path_buf(),
            regions: regions?,
            rto: rto?,
            rpo: rpo?,
            detection: detection?,
            mode: mode?,
            manual_timeout: manual_timeout?,
            execution: execution?,
            routing_control,
            tiers: tiers?,
            fencing,
            readiness: readiness?,
            failback: failback?,
        })
    }

    fn regions(&mut self, raw: Option<RawRegions>) -> Option<Regions> {
        let raw = self.required("regions", raw, "primary, secondary and witness regions")?;
        let primary = self.region("regions.primary", raw.primary);
        let secondary = self.region("regions.secondary", raw.secondary);
        let witness = self.region("regions.witness", raw.witness);
        let (primary, secondary, witness) = (primary?, secondary?, witness?);
        if primary == secondary {
            self.problem(
                "regions.secondary",
                Some(secondary.clone()),
                "a region other than the primary",
            );
        }
        if witness == primary || witness == secondary {
            self.problem(
                "regions.witness",
                Some(witness.clone()),
                "a third region, neither primary nor secondary",
            );
        }
        Some(Regions {
            primary,
            secondary,
            witness,
        })
    }

    fn objectives(&mut self, raw: Option<RawObjectives>) -> (Option<Duration>, Option<Duration>) {
        let Some(raw) = self.required("objectives", raw, "rto and rpo") else {
            return (None, None);
        };
        let rto = self.positive("objectives.rto", raw.rto, None);
        let rpo = self.positive("objectives.rpo", raw.rpo, None);
        if let (Some(rto), Some(rpo)) = (rto, rpo) {
            if rpo > rto {
                self.problem(
                    "objectives.rpo",
                    Some(crate::duration::fmt(rpo)),
                    format!("at most the RTO ({})", crate::duration::fmt(rto)),
                );
            }
        }
        (rto, rpo)
    }

    fn detection(&mut self, raw: Option<RawDetection>) -> Option<Detection> {
        let raw = self.required("detection", raw, "probe_interval and consecutive_failures")?;
        let interval = self.positive("detection.probe_interval", raw.probe_interval, None);
        let timeout = self.positive(
            "detection.probe_timeout",
            raw.probe_timeout,
            Some(Duration::from_secs(5)),
        );
        let failures = self.count(
            "detection.consecutive_failures",
            raw.consecutive_failures,
            1,
            100,
        );
        let hold_down = match raw.hold_down {
            Some(text) => Some(self.positive("detection.hold_down", Some(text), None)?),
            None => None,
        };
        let (interval, timeout) = (interval?, timeout?);
        self.probe_timing(interval, timeout);
        Some(Detection {
            probe_interval: interval,
            probe_timeout: timeout,
            consecutive_failures: failures?,
            hold_down,
            probes: Probes::default(),
            secondary_probes: None,
            heartbeats: Heartbeats::default(),
        })
    }

    fn execution(&mut self, raw: RawExecution) -> Option<ExecutionSettings> {
        let poll = self.positive(
            "execution.poll_interval",
            raw.poll_interval,
            Some(Duration::from_secs(1)),
        );
        let timeout = self.positive(
            "execution.step_timeout",
            raw.step_timeout,
            Some(Duration::from_secs(30 * 60)),
        );
        let call = self.positive(
            "execution.call_timeout",
            raw.call_timeout,
            Some(Duration::from_secs(10)),
        );
        let connect = self.positive(
            "execution.connect_timeout",
            raw.connect_timeout,
            Some(Duration::from_secs(3)),
        );
        let (call, connect) = (call?, connect?);
        if call > Duration::from_secs(120) {
            self.problem(
                "execution.call_timeout",
                Some(crate::duration::fmt(call)),
                "at most 2m: a failover cannot wait longer for one call",
            );
        }
        if connect > call {
            self.problem(
                "execution.connect_timeout",
                Some(crate::duration::fmt(connect)),
                format!("at most call_timeout ({})", crate::duration::fmt(call)),
            );
        }
        let step_budgets = self.step_budgets(raw.step_budgets);
        Some(ExecutionSettings {
            poll_interval: poll?,
            step_timeout: timeout?,
            call_timeout: call,
            connect_timeout: connect,
            step_budgets,
        })
    }

    fn tiers(&mut self, raw: Option<RawTiers>) -> Option<Tiers> {
        let raw = self.required("tiers", raw, "at least one tier")?;
        let empty = raw.database.is_none()
            && raw.node_groups.is_none()
            && raw.cache.is_none()
            && raw.stream.is_none()
            && raw.dns.is_none();
        if empty {
            self.problem(
                "tiers",
                None,
                "at least one of database, node_groups, cache, stream, dns",
            );
            return None;
        }
        let tiers = Tiers {
            database: raw.database.and_then(|d| self.database(d)),
            node_groups: raw.node_groups.and_then(|n| self.node_groups(n)),
            cache: raw.cache.and_then(|c| self.cache(c)),
            stream: raw.stream.and_then(|s| self.stream(s)),
            dns: raw.dns.and_then(|d| self.dns(d)),
        };
        Some(tiers)
    }
}
