//! The benchmark harnesses behind `drctl bench`, one file each. Each takes
//! its options as plain values, returns what it measured (serializable, so
//! `--output json` prints it as is) and renders it with its own `table`;
//! the command line (`cli/bench_cmd.rs`) only parses the flags, calls in and
//! picks the exit code.
//!
//! - [`rto`]: the modeled RTO of the DAG against the sequential procedure,
//!   on the simulated cloud (`drctl bench`).
//! - [`cluster`]: idle memory and CPU of a real three-process cluster, and
//!   the takeover after the leader is killed mid-failover.
//! - [`detect`]: fault → confirmed → failover started on real processes,
//!   false failovers, and the policy's settings on the paused clock
//!   ([`detect_virtual`]).
//! - [`e2e`]: the primary stopped → traffic on the DR region, per phase
//!   (table in [`e2e_table`]), beside the modeled RTO.
//! - [`probes`]: CPU per HTTP and TCP probe.
//! - [`readiness`]: the cost of one readiness evaluation.
//! - [`reprotect`]: the modeled time of a reprotect after a failover, on
//!   the simulated cloud. (The failback's write pause on real PostgreSQL
//!   is measured by `cargo bench --bench failback_pause`.)
//! - [`page`]: the status page's latency at a fixed rate, open-loop.
//!
//! The harnesses on real processes read the controllers' API through the
//! typed client ([`crate::api::client`]) and start clusters with the local
//! supervisor (`drctl local-cluster`'s).

pub mod cluster;
pub mod detect;
pub mod detect_virtual;
pub mod e2e;
pub mod e2e_table;
pub mod page;
pub mod probes;
pub mod readiness;
pub mod reprotect;
pub mod rto;

pub use rto::{run_seed, BenchRun, OutageRun};

/// A runtime whose clock is paused: the simulated cloud's minutes pass
/// instantly, and time only moves when every task waits on a timer.
pub fn modeled_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime always builds")
}
