//! `tiers.dns.dr_target_groups`: the DR load balancer's target groups that
//! readiness reads the health of, and `tiers.dns.primary_target_groups`,
//! the primary's, read instead once the policy is read reversed. Each is a
//! target group ARN in its list's region, named once.

use super::validate::Validator;
use super::{Regions, Tiers};

/// The DR list's path, as problems name it.
pub(super) const DR_FIELD: &str = "tiers.dns.dr_target_groups";

/// The primary list's path, as problems name it.
pub(super) const PRIMARY_FIELD: &str = "tiers.dns.primary_target_groups";

impl Validator {
    /// Checks the ARNs' shape and that none repeats, naming `field`. The
    /// list is kept whole (in its order, so that later problems name the
    /// right index); any problem found makes the policy invalid.
    pub(super) fn target_groups(&mut self, field: &str, raw: Option<Vec<String>>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, arn) in raw.unwrap_or_default().into_iter().enumerate() {
            let at = format!("{field}[{i}]");
            if target_group_region(&arn).is_none() {
                self.problem(
                    at,
                    Some(arn.clone()),
                    "a target group ARN: arn:aws:elasticloadbalancing:<region>:<account>:\
                     targetgroup/<name>/<id>",
                );
            } else if out.contains(&arn) {
                self.problem(at, Some(arn.clone()), "a target group not listed before");
            }
            out.push(arn);
        }
        out
    }

    /// Every DR target group is in the DR region and every primary one in
    /// the primary region, where readiness reads them.
    pub(super) fn target_groups_in_dr_region(&mut self, tiers: &Tiers, regions: &Regions) {
        let Some(dns) = &tiers.dns else { return };
        let lists = [
            (
                DR_FIELD,
                &dns.dr_target_groups[..],
                &regions.secondary,
                "DR",
                "secondary",
            ),
            (
                PRIMARY_FIELD,
                dns.primary_target_groups.as_deref().unwrap_or_default(),
                &regions.primary,
                "primary",
                "primary",
            ),
        ];
        for (field, groups, want, side, key) in lists {
            for (i, arn) in groups.iter().enumerate() {
                let Some(region) = target_group_region(arn) else {
                    continue; // already reported as not an ARN
                };
                if region != want {
                    self.problem(
                        format!("{field}[{i}]"),
                        Some(arn.clone()),
                        format!(
                            "a target group in the {side} region {want} (regions.{key}), not in \
                             {region}"
                        ),
                    );
                }
            }
        }
    }
}

/// The region of a target group ARN, `None` when `arn` is not one.
pub(crate) fn target_group_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    let path: Vec<&str> = resource.split('/').collect();
    let name_ok = |n: &str| {
        (1..=32).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let shaped = scheme == "arn"
        && partition.starts_with("aws")
        && service == "elasticloadbalancing"
        && super::is_region(region)
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && path.len() == 3
        && path[0] == "targetgroup"
        && name_ok(path[1])
        && !path[2].is_empty()
        && path[2].chars().all(|c| c.is_ascii_hexdigit());
    shaped.then_some(region)
}

#[cfg(test)]
mod tests {
    use super::target_group_region;

    #[test]
    fn only_target_group_arns_have_a_region() {
        let tg = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/app-dr/0123456789abcdef";
        assert_eq!(target_group_region(tg), Some("us-west-2"));
        for bad in [
            "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/x/0123",
            "arn:aws:elasticloadbalancing:us-west-2:1234:targetgroup/app-dr/0123456789abcdef",
            "arn:aws:elasticloadbalancing::123456789012:targetgroup/app-dr/0123456789abcdef",
            "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/app_dr/0123",
            "app-dr",
        ] {
            assert_eq!(target_group_region(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod policy_tests {
    use crate::policy::tests_routing::{parsed, problems};

    const FULL: &str = include_str!("../../policies/emr-platform.yaml");
    const SHIPPED_TG: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/emr-platform-dr/0123456789abcdef";

    #[test]
    fn the_shipped_policy_names_its_dr_target_group() {
        let p = parsed(FULL).unwrap();
        let dns = p.tiers.dns.unwrap();
        assert_eq!(dns.dr_target_groups, vec![SHIPPED_TG.to_string()]);
    }

    #[test]
    fn dr_target_groups_must_be_arns_in_the_dr_region_named_once() {
        let east = SHIPPED_TG.replace("us-west-2", "us-east-1");
        let text = FULL.replace(
            &format!("      - {SHIPPED_TG}\n"),
            &format!(
                "      - {SHIPPED_TG}\n      - {SHIPPED_TG}\n      - {east}\n      - app-dr\n"
            ),
        );
        let p = problems(&text);
        let has = |field: &str, says: &str| {
            assert!(
                p.iter().any(|s| s.contains(field) && s.contains(says)),
                "no problem naming {field} with {says:?}: {p:?}"
            );
        };
        has("tiers.dns.dr_target_groups[1]", "not listed before");
        has("tiers.dns.dr_target_groups[2]", "DR region us-west-2");
        has("tiers.dns.dr_target_groups[3]", "a target group ARN");
    }

    #[test]
    fn primary_target_groups_must_be_arns_in_the_primary_region_named_once() {
        let home = SHIPPED_TG
            .replace("us-west-2", "us-east-1")
            .replace("emr-platform-dr", "emr-platform");
        let p = parsed(FULL).unwrap();
        let dns = p.tiers.dns.unwrap();
        assert_eq!(dns.primary_target_groups, Some(vec![home.clone()]));
        let text = FULL.replace(
            &format!("      - {home}\n"),
            &format!("      - {home}\n      - {home}\n      - {SHIPPED_TG}\n      - app\n"),
        );
        let p = problems(&text);
        let has = |field: &str, says: &str| {
            assert!(
                p.iter().any(|s| s.contains(field) && s.contains(says)),
                "no problem naming {field} with {says:?}: {p:?}"
            );
        };
        has("tiers.dns.primary_target_groups[1]", "not listed before");
        has(
            "tiers.dns.primary_target_groups[2]",
            "primary region us-east-1",
        );
        has("tiers.dns.primary_target_groups[3]", "a target group ARN");
    }
}
