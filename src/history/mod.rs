//! The history of every drill and execution, and what it says about step
//! durations.
//!
//! Each finished drill or execution leaves a [`RunSummary`]: its RTO, each
//! step's duration and attempts, and the phases from the fault to traffic
//! on the DR side. The command line keeps whole records in a local file
//! per policy ([`HistoryStore`], JSON lines, the newest [`HISTORY_KEPT`]);
//! the controller cluster keeps summaries in its replicated state, bounded
//! the same way. [`step_percentiles`] turns summaries into p50/p95 per step,
//! the figures `drctl history` shows and a predicted RTO can use.

mod drift;
mod percentiles;
mod phases;
mod report;
pub(crate) mod store;
mod summary;

pub use drift::{budget_for, drifted, Drift};
pub use percentiles::{percentile, rto_percentiles, step_percentiles, StepStats};
pub use phases::{fault_first_seen, traffic_on_dr_ms, PhaseTimes, Phases};
pub use report::{HistoryReport, HistoryRun, Percentiles, StepLine};
pub use store::{HistoryEntry, HistoryError, HistoryStore, DEFAULT_HISTORY_DIR};
pub use summary::{RunSummary, StepTiming};

/// Runs kept per policy, in the local history file and in the replicated
/// state; older ones are dropped.
pub const HISTORY_KEPT: usize = 200;
