//! The executor on the simulated cloud, one binary: `failover.rs` (a full
//! failover, a re-run that changes nothing, resuming after an interruption
//! without acting twice), `chaos.rs` (every scenario in `chaos/` meets its
//! expectation), `cycle.rs` (a failover, then a reprotect whose every call
//! goes to the right region, resumable from its journal) and `failback.rs`
//! (the whole way home as `drctl drill --cycle` runs it, and the failbacks
//! that must not promote).

mod chaos;
mod cycle;
mod failback;
mod failover;
