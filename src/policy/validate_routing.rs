//! Stage two for routing controls: the ARC cluster's endpoints and each
//! tier's switch.

use std::collections::BTreeSet;

use super::raw::*;
use super::validate::Validator;
use super::*;
use crate::cloud::ClusterEndpoint;

/// ARC keeps at least three of a cluster's five endpoints up; a policy that
/// names fewer cannot count on reaching one.
pub const CLUSTER_ENDPOINTS_MIN: usize = 3;

impl Validator {
    pub(super) fn routing_control_cluster(
        &mut self,
        raw: RawRoutingControl,
    ) -> Option<RoutingControlCluster> {
        let path = "routing_control.cluster_endpoints";
        let mut endpoints = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, e) in raw.cluster_endpoints.into_iter().enumerate() {
            let at = format!("{path}[{i}]");
            let url = self.name(&format!("{at}.url"), e.url, "the endpoint's URL");
            let region = self.region(&format!("{at}.region"), e.region);
            let Some(url) = url else { continue };
            if !url.starts_with("https://") {
                self.problem(
                    format!("{at}.url"),
                    Some(format!("{url:?}")),
                    "an https:// URL, as DescribeCluster gives it",
                );
                continue;
            }
            if !seen.insert(url.clone()) {
                self.problem(
                    format!("{at}.url"),
                    Some(format!("{url:?}")),
                    "an endpoint not listed twice",
                );
            }
            if let Some(region) = region {
                endpoints.push(ClusterEndpoint { url, region });
            }
        }
        if endpoints.len() < CLUSTER_ENDPOINTS_MIN {
            self.problem(
                path,
                Some(format!("{} usable", endpoints.len())),
                "at least 3 of the cluster's five regional endpoints \
                 (aws route53-recovery-control-config describe-cluster --region us-west-2)",
            );
        }
        Some(RoutingControlCluster { endpoints })
    }

    pub(super) fn switch(
        &mut self,
        tier: &str,
        mode: Option<String>,
        controls: Option<RawRoutingControls>,
    ) -> Option<TrafficSwitch> {
        match mode.as_deref() {
            None | Some("record") => {
                if controls.is_some() {
                    self.problem(
                        format!("{tier}.routing_controls"),
                        None,
                        "only with mode: routing_control",
                    );
                }
                Some(TrafficSwitch::Record)
            }
            Some("routing_control") => {
                let path = format!("{tier}.routing_controls");
                let raw = self.required(
                    &path,
                    controls,
                    "primary and secondary routing control ARNs",
                )?;
                let primary = self.routing_control_arn(&format!("{path}.primary"), raw.primary);
                let secondary =
                    self.routing_control_arn(&format!("{path}.secondary"), raw.secondary);
                let (primary, secondary) = (primary?, secondary?);
                if primary == secondary {
                    self.problem(
                        format!("{path}.secondary"),
                        Some(secondary.clone()),
                        "a routing control other than the primary's (one per region)",
                    );
                    return None;
                }
                Some(TrafficSwitch::RoutingControl(RoutingControlPair {
                    primary,
                    secondary,
                }))
            }
            Some(other) => {
                self.problem(
                    format!("{tier}.mode"),
                    Some(format!("{other:?}")),
                    "record or routing_control",
                );
                None
            }
        }
    }

    fn routing_control_arn(&mut self, path: &str, v: Option<String>) -> Option<String> {
        let arn = self.name(path, v, "a routing control ARN")?;
        if !is_routing_control_arn(&arn) {
            self.problem(
                path,
                Some(arn),
                "a routing control ARN: arn:aws:route53-recovery-control::<account>:\
                 controlpanel/<panel id>/routingcontrol/<control id>",
            );
            return None;
        }
        Some(arn)
    }

    /// A tier in routing-control mode needs the cluster's endpoints.
    pub(super) fn routing_controls_have_a_cluster(
        &mut self,
        tiers: &Tiers,
        cluster: Option<&RoutingControlCluster>,
    ) {
        let uses = |s: &TrafficSwitch| matches!(s, TrafficSwitch::RoutingControl(_));
        let users: Vec<&str> = [
            tiers
                .dns
                .as_ref()
                .filter(|d| uses(&d.switch))
                .map(|_| "tiers.dns"),
            tiers
                .stream
                .as_ref()
                .filter(|s| uses(&s.switch))
                .map(|_| "tiers.stream"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !users.is_empty() && cluster.is_none() {
            self.problem(
                "routing_control.cluster_endpoints",
                None,
                format!(
                    "required: the ARC cluster's endpoints, for {} in mode routing_control",
                    users.join(" and ")
                ),
            );
        }
    }
}

/// Whether `arn` has the shape of an ARC routing control's ARN.
fn is_routing_control_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let path: Vec<&str> = resource.split('/').collect();
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "route53-recovery-control"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && path.len() == 4
        && path[0] == "controlpanel"
        && path[2] == "routingcontrol"
        && !path[1].is_empty()
        && !path[3].is_empty()
}
