//! Which region `drctl check` judges as active when it reads AWS: the one
//! `--active-region` names, else the DR region once a failover of this
//! policy recorded in the history completed, else the policy's primary.
//! A controller knows it from the replicated state; a CLI run on its own
//! has only what it recorded.

use crate::execute::ExecutionStatus;
use crate::history::HistoryEntry;
use crate::policy::Policy;

/// The region judged active, and why when it is not the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Active {
    /// The region (`None`: the policy's primary).
    pub region: Option<String>,
    /// A sentence for the report's reader when the region was inferred.
    pub because: Option<String>,
}

/// The active region of `policy`: `flag` when given (it must be one of
/// the policy's two regions), else inferred from `runs` (oldest first).
///
/// # Errors
///
/// `flag` names a region the policy does not fail between.
pub(super) fn active(
    flag: Option<&str>,
    policy: &Policy,
    runs: &[HistoryEntry],
) -> Result<Active, String> {
    let r = &policy.regions;
    if let Some(region) = flag {
        if region != r.primary && region != r.secondary {
            return Err(format!(
                "--active-region: {region:?} is neither the policy's primary ({}) nor its secondary ({})",
                r.primary, r.secondary
            ));
        }
        return Ok(Active {
            region: Some(region.to_string()),
            because: None,
        });
    }
    let failed_over = runs.iter().rev().find(|e| {
        e.target == "aws"
            && matches!(
                e.record.status,
                ExecutionStatus::Completed | ExecutionStatus::AlreadyComplete
            )
    });
    Ok(match failed_over {
        Some(e) => Active {
            region: Some(r.secondary.clone()),
            because: Some(format!(
                "judged with {} active: failover {} of this policy completed on AWS ({}); \
                 name the region with --active-region if the platform has moved since",
                r.secondary, e.record.id, e.recorded_at
            )),
        },
        None => Active {
            region: None,
            because: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryEntry;

    fn policy() -> Policy {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::policy::DEFAULT_POLICY);
        crate::policy::load(&path).unwrap()
    }

    async fn run(target: &str, status: ExecutionStatus) -> HistoryEntry {
        use crate::cloud::sim::{SimCloud, SimOptions};
        let p = policy();
        let cloud = SimCloud::new(&p, SimOptions::default()).unwrap();
        let observed = crate::execute::observe(&cloud, &cloud, &p, &crate::execute::no_notes).await;
        let plan = crate::plan::build(&p, &observed, crate::plan::Acceptance::default());
        let options = crate::execute::RunOptions {
            execution_id: Some("x-1".into()),
            ..crate::execute::RunOptions::default()
        };
        let mut record = crate::execute::new_record(&plan, &options);
        record.status = status;
        HistoryEntry {
            recorded_at: "2026-12-01T00:00:00Z".into(),
            target: target.into(),
            rto_objective_ms: 0,
            record,
        }
    }

    #[tokio::test]
    async fn a_completed_failover_on_aws_makes_the_dr_region_active() {
        let a = active(
            None,
            &policy(),
            &[run("aws", ExecutionStatus::Completed).await],
        )
        .unwrap();
        assert_eq!(a.region.as_deref(), Some("us-west-2"));
        assert!(a.because.unwrap().contains("failover x-1"));
    }

    #[tokio::test]
    async fn drills_and_refused_failovers_leave_the_primary_active() {
        let runs = [
            run("the simulated cloud (seed 1)", ExecutionStatus::Completed).await,
            run("aws", ExecutionStatus::Refused).await,
        ];
        assert_eq!(active(None, &policy(), &runs).unwrap().region, None);
    }

    #[tokio::test]
    async fn the_flag_wins_and_must_name_one_of_the_policy_s_regions() {
        let runs = [run("aws", ExecutionStatus::Completed).await];
        let a = active(Some("us-east-1"), &policy(), &runs).unwrap();
        assert_eq!(a.region.as_deref(), Some("us-east-1"));
        let e = active(Some("eu-west-1"), &policy(), &runs).unwrap_err();
        assert!(
            e.starts_with("--active-region:") && e.contains("us-west-2"),
            "{e}"
        );
    }
}
