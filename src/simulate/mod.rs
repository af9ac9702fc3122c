//! Seeded, deterministic simulation of the whole controller.
//!
//! One seed runs three real controller nodes (raft, probes, detector,
//! runner, executor, API) and the simulated cloud in one thread, on tokio's
//! paused clock in a current-thread runtime: time jumps to the next timer
//! whenever every task waits, so minutes of outage take a fraction of a
//! second. The nodes talk over [`MemNet`], which hands each call to the
//! target's router after a delay and loses or duplicates some, all drawn
//! from the seed; the wall clock is virtual ([`crate::clock`]). The seed
//! also draws the [`Schedule`]: when the primary region goes dark,
//! partitions, crashes and restarts from the stores, replication lag,
//! maintenance and cloud faults of the chaos format. Every 500 ms of
//! virtual time the [`invariants`] are checked; at the end the links heal,
//! crashed nodes restart, and the nodes' journals must agree.
//!
//! Why tokio's paused clock and not turmoil or madsim: the controller
//! already runs on tokio and reaches its peers through one seam
//! ([`crate::consensus::transport`]); madsim would replace tokio crate-wide
//! and turmoil simulates sockets, which the in-memory network does not need.
//! What stays nondeterministic: openraft draws election timeouts from its
//! own generator, so each node's range is one millisecond wide (a fixed
//! draw per node from the seed); node keys are random (only signatures
//! change); tasks woken at the same virtual instant run in tokio's order.
//! [`Outcome::digest`] sums a run's mutations and final state, and the
//! replay test checks that a seed replays to the same digest.

pub mod invariants;
pub mod schedule;
pub mod world;

mod operator;
mod run;

pub use run::{run_seed, Outcome};
pub use schedule::{Event, Schedule};

/// The command that replays `seed` exactly.
pub fn replay_command(seed: u64) -> String {
    format!("cargo run -- simulate --seed {seed} --verbose")
}
