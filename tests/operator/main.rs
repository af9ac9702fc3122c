//! What an operator reads and receives, one binary: `readiness.rs` (ready
//! out of the box, each fault turning exactly its check to fail, `drctl
//! check --sim`), `readiness_dr.rs` (the DR side beyond a failover's
//! preflight), `report.rs` (`drctl report` and `drctl history` on drills)
//! and `notify.rs` (receivers that fail, hang and answer slowly).

#[path = "../cli_support/mod.rs"]
mod cli_support;
#[path = "../notify_support/mod.rs"]
mod notify_support;

mod notify;
mod readiness;
mod readiness_dr;
mod report;
