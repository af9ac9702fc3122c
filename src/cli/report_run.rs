//! Running an execution from the command line and reporting it: progress
//! on stderr, the report on stdout, the history of drills, the exit code.

use super::*;

/// Runs an execution with progress on stderr, prints its report on stdout
/// and returns the exit code for how it ended. Shared by `drill` and
/// `failover --confirm`, so both report the same way.
pub(super) async fn execute_and_report<C: crate::cloud::Cloud + 'static>(
    cloud: std::sync::Arc<C>,
    policy: std::sync::Arc<Policy>,
    journal: &mut impl crate::execute::Journal,
    mut options: crate::execute::RunOptions,
    (target, history): (&str, &crate::history::HistoryStore),
    output: Output,
    calls: impl FnOnce() -> Vec<crate::cloud::CallCount>,
) -> Exit {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let shown = progress::spawn(rx);
    options.events = Some(tx);
    let cloud_for_fence = cloud.clone();
    let record = crate::execute::execute(cloud, policy.clone(), journal, options).await;
    // The sender went with the options: the display ends once it has shown everything.
    let _ = shown.await;
    let record = match record {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Io;
        }
    };
    // The failover's calls, before anything is sent to the region left.
    let calls = calls();
    let record = fence_on_return(cloud_for_fence, &policy, journal, record).await;
    record_history(history, &record, &policy, target);
    let report = crate::report::Report::new(&record, &policy, target).with_calls(calls);
    match output {
        Output::Text => print!("{}", report.render_text()),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
    }
    exit_for(record.status)
}

/// Records a finished run for `drctl report` and `drctl history`; a
/// history that cannot be written is a warning, never a failed failover.
pub(super) fn record_history(
    store: &crate::history::HistoryStore,
    record: &crate::execute::ExecutionRecord,
    policy: &Policy,
    target: &str,
) {
    let entry = crate::history::HistoryEntry {
        recorded_at: crate::execute::now_rfc3339(),
        target: target.to_string(),
        rto_objective_ms: policy.rto.as_millis() as u64,
        record: record.clone(),
    };
    match store.append(&entry) {
        Ok(()) => eprintln!(
            "recorded execution {id} in {}: `drctl report {id} --format html --out report.html` draws it",
            store.dir().display(),
            id = record.id
        ),
        Err(e) => eprintln!("warning: execution {} not recorded: {e}", record.id),
    }
}

/// Tries once to fence the old primary of `record` (after a failover that
/// promoted), saving what happened; when its region does not answer, the
/// fence stays pending for the next run or the controller.
pub(super) async fn fence_on_return<C: crate::cloud::Cloud>(
    cloud: std::sync::Arc<C>,
    policy: &Policy,
    journal: &mut impl crate::execute::Journal,
    mut record: crate::execute::ExecutionRecord,
) -> crate::execute::ExecutionRecord {
    let Some(mut state) = record.fence_old_primary.clone().filter(|f| f.is_open()) else {
        return record;
    };
    eprintln!(
        "{}: trying {} (the failover is done; this only fences the old primary)",
        crate::execute::fence_return::STEP,
        policy.regions.primary
    );
    let fence = crate::model::Fence {
        execution_id: record.id.clone(),
        epoch: crate::model::Epoch::default(),
    };
    // On the simulated cloud's modeled clock, the try is stamped with the
    // modeled time the failover ended, so that a seed gives one report.
    let now = match record.time_basis {
        crate::execute::TimeBasis::Modeled => format!(
            "modeled +{}",
            crate::duration::fmt(std::time::Duration::from_millis(record.last_ms()))
        ),
        crate::execute::TimeBasis::Wall => crate::execute::now_rfc3339(),
    };
    crate::execute::fence_return::try_fence(&*cloud, policy, &fence, &mut state, now).await;
    eprintln!("{}", state.line());
    record.fence_old_primary = Some(state);
    if let Err(e) = journal.save(&record).await {
        eprintln!("error: cannot record the fence of the old primary: {e}");
    }
    record
}

/// The exit code for how an execution ended.
pub(super) fn exit_for(status: crate::execute::ExecutionStatus) -> Exit {
    use crate::execute::ExecutionStatus as S;
    match status {
        S::Completed | S::AlreadyComplete => Exit::Ok,
        S::Refused => Exit::Refused,
        S::PreflightFailed => Exit::Preflight,
        S::Failed | S::Running => Exit::Failed,
    }
}
