//! The replicated controller in one process, one binary: three nodes on
//! loopback over one simulated cloud. `nodes.rs` (election, execution by the
//! leader, a leader killed or cut off mid-failover, restarts from disk,
//! partitions), `detection.rs` (outages confirmed in time; cut-off sites,
//! flapping, maintenance, hold-down and the RPO gate never acting),
//! `handoff.rs`, `leader_restart.rs`, `lease_guard.rs`, `node_auth.rs`,
//! `cycle.rs` (failover then reprotect) and `notify.rs` (notifications
//! across a leader change). The nodes' ports and clocks are shared, so the
//! tests take turns (see `cluster_support`).

#[path = "../cluster_support/mod.rs"]
mod cluster_support;
#[path = "../notify_support/mod.rs"]
mod notify_support;

mod cycle;
mod detection;
mod handoff;
mod leader_restart;
mod lease_guard;
mod node_auth;
mod nodes;
mod notify;
