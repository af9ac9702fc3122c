//! What only readiness reads on the DR side: the health of the DR load
//! balancer's targets (`tiers.dns.dr_target_groups`; with the policy read
//! reversed, the primary's `tiers.dns.primary_target_groups`) and the state
//! of the MSK Replicator feeding the DR cluster (`tiers.stream.replicator`).

use crate::cloud::{DrHealth, TargetHealth};
use crate::model::Op;
use crate::policy::Policy;

/// The replicator state in which the DR cluster receives new records.
const RUNNING: &str = "RUNNING";

/// The failures and the warnings, as sentences naming the resource. The
/// replicator is not read after a failover (`failed_over`): the DR
/// cluster is then the one clients write to.
pub(super) async fn problems<C: DrHealth>(
    cloud: &C,
    policy: &Policy,
    failed_over: bool,
) -> (Vec<String>, Vec<String>) {
    let dr = &policy.regions.secondary;
    let groups = policy
        .tiers
        .dns
        .as_ref()
        .map(|d| d.dr_target_groups.as_slice())
        .unwrap_or_default();
    // Read reversed without `primary_target_groups`, the list still names
    // the active region's groups: the standby's are not known.
    let (groups, active): (Vec<&String>, Vec<&String>) = groups
        .iter()
        .partition(|arn| crate::policy::target_group_region(arn).is_none_or(|r| r == dr));
    let unchecked = (!active.is_empty()).then(|| {
        let names: Vec<&str> = active.iter().map(|a| group_name(a)).collect();
        format!(
            "the target groups of the standby region {dr} are not checked: the policy is read \
             reversed and tiers.dns.dr_target_groups names those of the active region ({}); set \
             tiers.dns.primary_target_groups to the target groups of the load balancer in {dr}",
            names.join(", ")
        )
    });
    let reads = groups.into_iter().map(|arn| async move {
        let read = cloud.get_target_health(dr, arn);
        let r = super::bounded(policy, Op::DescribeTargetHealth, read).await;
        judge_targets(arn, dr, r)
    });
    let replicator = policy
        .tiers
        .stream
        .as_ref()
        .and_then(|s| s.replicator.as_deref())
        .filter(|_| !failed_over);
    let replicator = async move {
        let name = replicator?;
        let read = cloud.get_replicator_state(dr, name);
        let r = super::bounded(policy, Op::DescribeReplicator, read).await;
        judge_replicator(name, dr, r)
    };
    let (targets, replicator) = tokio::join!(futures::future::join_all(reads), replicator);
    let mut fails: Vec<String> = unchecked.into_iter().collect();
    let mut warns = Vec::new();
    for (fail, warn) in targets {
        fails.extend(fail);
        warns.extend(warn);
    }
    fails.extend(replicator);
    (fails, warns)
}

/// The short name of a target group ARN (`targetgroup/<name>/<id>`).
fn group_name(arn: &str) -> &str {
    arn.rsplit_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(arn)
}

/// A failure or a warning about one target group.
fn judge_targets(
    arn: &str,
    dr: &str,
    read: crate::cloud::CloudResult<Option<TargetHealth>>,
) -> (Option<String>, Option<String>) {
    let name = group_name(arn);
    match read {
        Err(e) => (
            Some(format!(
                "target group {name} in {dr} could not be read: {}",
                e.message
            )),
            None,
        ),
        Ok(None) => (
            Some(format!(
                "target group {name} ({arn}) does not exist in {dr}"
            )),
            None,
        ),
        Ok(Some(h)) if h.healthy == 0 => (
            Some(format!(
                "target group {name} in {dr} has 0 of {} targets healthy: the DR load balancer \
                 would answer with errors",
                h.total()
            )),
            None,
        ),
        Ok(Some(h)) if h.healthy < h.total() => (
            None,
            Some(format!(
                "target group {name} in {dr} has {} of {} targets healthy ({} unhealthy, {} \
                 draining, {} not yet in service)",
                h.healthy,
                h.total(),
                h.unhealthy,
                h.draining,
                h.other
            )),
        ),
        Ok(Some(_)) => (None, None),
    }
}

/// A failure about the replicator, if any.
fn judge_replicator(
    name: &str,
    dr: &str,
    read: crate::cloud::CloudResult<Option<String>>,
) -> Option<String> {
    match read {
        Err(e) => Some(format!(
            "MSK Replicator {name} in {dr} could not be read: {}",
            e.message
        )),
        Ok(None) => Some(format!("MSK Replicator {name} does not exist in {dr}")),
        Ok(Some(state)) if state != RUNNING => Some(format!(
            "MSK Replicator {name} in {dr} is {state}, not RUNNING: the DR cluster receives no \
             new records"
        )),
        Ok(Some(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/app-dr/0123456789abcdef";

    #[test]
    fn no_healthy_target_fails_some_unhealthy_warn_all_healthy_pass() {
        let h = |healthy, unhealthy, draining| {
            Ok(Some(TargetHealth {
                healthy,
                unhealthy,
                draining,
                other: 0,
            }))
        };
        let (fail, warn) = judge_targets(TG, "us-west-2", h(0, 2, 1));
        let fail = fail.unwrap();
        assert!(
            fail.contains("target group app-dr in us-west-2 has 0 of 3"),
            "{fail}"
        );
        assert_eq!(warn, None);
        let (fail, warn) = judge_targets(TG, "us-west-2", h(2, 1, 0));
        assert_eq!(fail, None);
        assert!(warn
            .unwrap()
            .contains("has 2 of 3 targets healthy (1 unhealthy"));
        assert_eq!(judge_targets(TG, "us-west-2", h(3, 0, 0)), (None, None));
        let (fail, _) = judge_targets(TG, "us-west-2", Ok(None));
        assert!(fail.unwrap().contains("does not exist in us-west-2"));
    }

    #[test]
    fn a_replicator_not_running_is_named_with_its_state() {
        let r = |s: &str| Ok(Some(s.to_string()));
        assert_eq!(judge_replicator("rep", "us-west-2", r("RUNNING")), None);
        let fail = judge_replicator("rep", "us-west-2", r("FAILED")).unwrap();
        assert!(fail.contains("MSK Replicator rep in us-west-2 is FAILED, not RUNNING"));
    }

    use crate::cloud::sim::{SimCloud, SimOptions};
    use crate::model::Orientation;

    const HOME_TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/emr-platform/0123456789abcdef";

    fn shipped() -> Policy {
        crate::policy::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/emr-platform.yaml"),
        )
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn read_reversed_the_standby_is_the_primary_load_balancer() {
        let written = shipped();
        let sim = SimCloud::new(&written, SimOptions::default()).unwrap();
        sim.set_target_health(HOME_TG, TargetHealth::default());
        let reversed = written.oriented(Orientation::Reversed);
        let (fails, _) = problems(&sim, &reversed, false).await;
        assert!(
            fails
                .iter()
                .any(|f| f.contains("target group emr-platform in us-east-1 has 0 of 0")),
            "{fails:?}"
        );
        // As written, the DR load balancer's are read, all healthy.
        let (fails, _) = problems(&sim, &written, false).await;
        assert!(fails.is_empty(), "{fails:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn read_reversed_without_the_primary_target_groups_says_what_is_not_checked() {
        let mut written = shipped();
        written.tiers.dns.as_mut().unwrap().primary_target_groups = None;
        let sim = SimCloud::new(&written, SimOptions::default()).unwrap();
        let reversed = written.oriented(Orientation::Reversed);
        let (fails, _) = problems(&sim, &reversed, false).await;
        assert!(
            fails
                .iter()
                .any(|f| f.contains("standby region us-east-1 are not checked")
                    && f.contains("set tiers.dns.primary_target_groups")),
            "{fails:?}"
        );
    }
}
