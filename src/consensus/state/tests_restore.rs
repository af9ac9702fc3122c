//! The access strings fences replaced, kept per policy and region across
//! executions: a later execution's lift of that region reads them here
//! (the cluster's [`crate::execute::Journal::writer_restore`]).

use super::tests::{record, save, start};
use super::*;
use crate::execute::fence_return::FenceOldPrimary;
use crate::execute::WriterRestore;

fn restore(region: &str, user: &str, access: &str) -> WriterRestore {
    [(
        region.to_string(),
        [(user.to_string(), access.to_string())].into(),
    )]
    .into()
}

#[tokio::test(start_paused = true)]
async fn what_a_fence_replaced_outlives_its_execution_and_a_later_fence_replaces_it() {
    let mut s = ClusterState::default();
    // A failover, then its fence of the old primary on return.
    let mut a = record("a").await;
    s.apply(start(&a), 1, 5);
    a.status = ExecutionStatus::Completed;
    a.fence_old_primary = Some(FenceOldPrimary::pending("us-east-1"));
    assert_eq!(s.apply(save(&a), 1, 6), Reply::Ok);
    let mut done = FenceOldPrimary::pending("us-east-1");
    done.status = StepStatus::Done;
    done.writer_restore = restore("us-east-1", "emr-app", "on ~* +@all");
    let cmd = Command::FenceOldPrimary {
        execution_id: "a".into(),
        state: done,
        at: "t".into(),
    };
    assert!(matches!(s.apply(cmd, 1, 7), Reply::Epoch { .. }));
    let kept = |s: &ClusterState| s.policies["emr-platform"].writer_restore.clone();
    assert_eq!(kept(&s), restore("us-east-1", "emr-app", "on ~* +@all"));

    // A later execution's quiesce of the other region adds to it; one that
    // fenced us-east-1 again saw the string as it is now.
    let mut b = record("b").await;
    assert_eq!(s.apply(start(&b), 1, 8), Reply::Ok);
    b.writer_restore = restore("us-west-2", "emr-app", "on ~app:* +@all");
    b.writer_restore
        .extend(restore("us-east-1", "emr-app", "on ~app:* +@read"));
    assert_eq!(s.apply(save(&b), 1, 9), Reply::Ok);
    let mut expected = restore("us-east-1", "emr-app", "on ~app:* +@read");
    expected.extend(restore("us-west-2", "emr-app", "on ~app:* +@all"));
    assert_eq!(kept(&s), expected);

    // The records themselves may be evicted; the policy keeps the strings.
    s.executions.clear();
    assert_eq!(kept(&s), expected);
}
