//! The traffic switch: ARC's routing-control data plane answers and holds
//! the states the active region says, and DNS answers every switched
//! record with the active region's target within a TTL that fits the RTO.

use std::time::Duration;

use futures::future::join_all;

use super::{Check, Status};
use crate::cloud::{Cloud, RecordTarget, ENDPOINT_TIMEOUT};
use crate::execute::DNS_MARGIN;
use crate::model::Op;
use crate::plan::{Observed, Seen};
use crate::policy::{Policy, RoutingControlPair, TrafficSwitch};

/// At least three of the routing-control cluster's endpoints answer, with
/// the states the active region says.
pub const ROUTING_CONTROL: &str = "routing-control";
/// DNS answers match the active region and the TTL fits the RTO.
pub const DNS: &str = "dns";

/// How many of the cluster's endpoints must answer: ARC keeps at least
/// three of its five up, so fewer means the data plane itself is at risk.
pub const ENDPOINTS_NEEDED: usize = 3;

/// The routing-control check and the DNS check.
///
/// Both judge against `active`, the region serving traffic now: the
/// policy's primary until a failover moved it to the secondary.
pub(super) async fn checks<C: Cloud>(
    cloud: &C,
    policy: &Policy,
    observed: &Observed,
    active: &str,
) -> Vec<Check> {
    vec![
        routing(cloud, policy, active).await,
        dns(cloud, policy, observed, active).await,
    ]
}

/// Whether `active` is the policy's secondary (traffic failed over).
fn on_secondary(policy: &Policy, active: &str) -> bool {
    active == policy.regions.secondary
}

/// The routing-control pairs of the policy's switched records.
fn pairs(policy: &Policy) -> Vec<(&str, &RoutingControlPair)> {
    let t = &policy.tiers;
    let mut out = Vec::new();
    if let Some(d) = &t.dns {
        if let TrafficSwitch::RoutingControl(p) = &d.switch {
            out.push((d.record.as_str(), p));
        }
    }
    if let Some(s) = &t.stream {
        if let TrafficSwitch::RoutingControl(p) = &s.switch {
            out.push((s.client_record.name.as_str(), p));
        }
    }
    out
}

fn record_mode(policy: &Policy) -> Vec<&str> {
    let t = &policy.tiers;
    let mut out = Vec::new();
    if let Some(d) = t.dns.as_ref().filter(|d| d.switch == TrafficSwitch::Record) {
        out.push(d.record.as_str());
    }
    if let Some(s) = t
        .stream
        .as_ref()
        .filter(|s| s.switch == TrafficSwitch::Record)
    {
        out.push(s.client_record.name.as_str());
    }
    out
}

async fn routing<C: Cloud>(cloud: &C, policy: &Policy, active: &str) -> Check {
    let pairs = pairs(policy);
    let records = record_mode(policy);
    let from = active;
    let failed_over = on_secondary(policy, active);
    let record_warning = (!records.is_empty()).then(|| {
        format!(
            "{} switch by a record UPSERT through Route 53's control plane, served from \
             {}: the flip depends on that region; use mode: routing_control, or keep \
             {} at hand",
            records.join(" and "),
            crate::cloud::ROUTE53_CONTROL_REGION,
            crate::plan::RECORD_MODE_RUNBOOK
        )
    });
    if pairs.is_empty() {
        let sentence = record_warning.unwrap_or_else(|| "the policy switches no traffic".into());
        let status = if records.is_empty() {
            Status::Pass
        } else {
            Status::Warn
        };
        return Check::new(ROUTING_CONTROL, status, sentence);
    }
    let endpoints = policy
        .routing_control
        .as_ref()
        .map(|r| r.endpoints.clone())
        .unwrap_or_default();
    let arns: Vec<&str> = pairs
        .iter()
        .flat_map(|(_, p)| [p.primary.as_str(), p.secondary.as_str()])
        .collect();
    let reads = endpoints.iter().map(|ep| {
        let arns = &arns;
        async move {
            let states = arns.iter().map(|arn| async move {
                let read = cloud.get_routing_control_state(ep, arn);
                match tokio::time::timeout(ENDPOINT_TIMEOUT, read).await {
                    Ok(Ok(on)) => Ok(on),
                    Ok(Err(e)) => Err(e.message),
                    Err(_) => Err(format!(
                        "no answer within {}",
                        crate::duration::fmt(ENDPOINT_TIMEOUT)
                    )),
                }
            });
            let states: Result<Vec<bool>, String> = join_all(states).await.into_iter().collect();
            (ep, states)
        }
    });
    let answers = join_all(reads).await;
    let answering: Vec<_> = answers
        .iter()
        .filter_map(|(ep, s)| s.as_ref().ok().map(|s| (*ep, s)))
        .collect();
    let silent: Vec<String> = answers
        .iter()
        .filter_map(|(ep, s)| s.as_ref().err().map(|e| format!("{} ({e})", ep.region)))
        .collect();
    if answering.len() < ENDPOINTS_NEEDED {
        let sentence = format!(
            "only {} of {} routing-control endpoints answer (silent: {}); at least \
             {ENDPOINTS_NEEDED} must: check the network path to them and ARC's health, and \
             that routing_control.cluster_endpoints matches DescribeCluster",
            answering.len(),
            endpoints.len(),
            silent.join(", ")
        );
        return Check::new(ROUTING_CONTROL, Status::Fail, sentence);
    }
    let (ep, states) = answering[0];
    let mut wrong = Vec::new();
    for (i, (record, _)) in pairs.iter().enumerate() {
        let (p_on, s_on) = (states[2 * i], states[2 * i + 1]);
        if p_on == failed_over || s_on != failed_over {
            wrong.push(format!(
                "{record}: {from}'s control is {} and {}'s is {} (through {})",
                on_off(p_on),
                policy.regions.secondary,
                on_off(s_on),
                ep.region
            ));
        }
    }
    if !wrong.is_empty() {
        let sentence = format!(
            "the routing controls do not match the active region {from}: {}; set them back \
             or record the failover that moved traffic",
            wrong.join("; ")
        );
        return Check::new(ROUTING_CONTROL, Status::Fail, sentence);
    }
    let mut sentence = format!(
        "{} of {} endpoints answer and the controls route to {from}",
        answering.len(),
        endpoints.len()
    );
    if let Some(w) = record_warning {
        sentence = format!("{sentence}; but {w}");
        return Check::new(ROUTING_CONTROL, Status::Warn, sentence);
    }
    if !silent.is_empty() {
        sentence = format!("{sentence} (silent: {})", silent.join(", "));
    }
    Check::new(ROUTING_CONTROL, Status::Pass, sentence)
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

async fn dns<C: Cloud>(cloud: &C, policy: &Policy, observed: &Observed, active: &str) -> Check {
    let from = active;
    let failed_over = on_secondary(policy, active);
    let mut fails = Vec::new();
    let mut fine = Vec::new();
    let rto = policy.rto;
    let mut ttl_fits = |record: &str, ttl: u32| {
        let needs = Duration::from_secs(u64::from(ttl)) + DNS_MARGIN;
        if needs > rto {
            fails.push(format!(
                "{record}'s TTL of {ttl}s plus {} for health checkers exceeds the RTO of {}: \
                 lower the TTL",
                crate::duration::fmt(DNS_MARGIN),
                crate::duration::fmt(rto)
            ));
        }
    };
    if let Some(d) = &policy.tiers.dns {
        ttl_fits(&d.record, d.ttl);
    }
    if let Some(s) = &policy.tiers.stream {
        ttl_fits(&s.client_record.name, s.client_record.ttl);
    }
    if let Some(d) = &policy.tiers.dns {
        // The active region's target, named `primary` as the side traffic is on.
        let primary = if failed_over {
            &d.secondary.dns_name
        } else {
            &d.primary.dns_name
        };
        let ok = match &d.switch {
            TrafficSwitch::RoutingControl(_) => {
                let (have, want) = tokio::join!(
                    super::bounded(policy, Op::Resolve, cloud.resolve(&d.record)),
                    super::bounded(policy, Op::Resolve, cloud.resolve(primary))
                );
                match (have, want) {
                    (Ok(h), Ok(w)) if h.points_at(primary, &w) => Ok(()),
                    (Ok(h), Ok(_)) => Err(format!("answers {}", h.names.join(", "))),
                    (Err(e), _) | (_, Err(e)) => Err(format!("no answer: {}", e.message)),
                }
            }
            TrafficSwitch::Record => match &observed.dns_record {
                Some(Seen::Present(r)) => match &r.target {
                    RecordTarget::Alias { dns_name, .. } if same_name(dns_name, primary) => Ok(()),
                    RecordTarget::Alias { dns_name, .. } => Err(format!("points at {dns_name}")),
                    RecordTarget::Cname { value, .. } => Err(format!("is a CNAME to {value}")),
                },
                Some(Seen::Absent) | None => Err("does not exist".into()),
                Some(Seen::Unreadable(e)) => Err(format!("could not be read: {e}")),
            },
        };
        match ok {
            Ok(()) => fine.push(format!("{} → {primary}", d.record)),
            Err(why) => fails.push(format!(
                "{} {why}, not the active region {from}'s target {primary}",
                d.record
            )),
        }
    }
    if let Some(s) = &policy.tiers.stream {
        let name = &s.client_record.name;
        let on_dr = match &s.switch {
            TrafficSwitch::RoutingControl(_) => match &observed.stream_routing {
                Some(Seen::Present(v)) if v.answers_secondary != failed_over => {
                    Err(v.answer.clone())
                }
                Some(Seen::Present(v)) if v.answer.starts_with("no answer") => {
                    Err(v.answer.clone())
                }
                Some(Seen::Present(v)) => Ok(v.answer.clone()),
                Some(Seen::Unreadable(e)) => Err(format!("unreadable: {e}")),
                _ => Err("not read".into()),
            },
            TrafficSwitch::Record => Ok("its record (record mode)".into()),
        };
        match on_dr {
            Ok(answer) => fine.push(format!("{name} → {answer}")),
            Err(answer) => fails.push(format!(
                "{name} answers {answer}, not the active region {from}'s brokers"
            )),
        }
    }
    if !fails.is_empty() {
        return Check::new(DNS, Status::Fail, fails.join("; "));
    }
    if fine.is_empty() {
        return Check::new(DNS, Status::Pass, "the policy switches no record");
    }
    Check::new(
        DNS,
        Status::Pass,
        format!(
            "answers match the active region {from} and TTLs fit the RTO: {}",
            fine.join(", ")
        ),
    )
}
