//! Against real servers, one binary: PostgreSQL 15 and Redis 7 primary and
//! replica pairs started by the tests on 127.0.0.1 (`real_support`).
//! `heartbeat.rs` (heartbeats against replay lag), `failover.rs` (primaries
//! killed under load, the replicas really promoted, lost rows and keys
//! against the reported exposure; lag above the RPO refused, then
//! accepted), `fencing.rs` (the old primary's writers fenced),
//! `divergence.rs` (what the old primary accepted after the fork) and
//! `failback.rs` (the way home under load, the write pause bounded).

#[path = "../cluster_support/mod.rs"]
mod cluster_support;
#[path = "../real_support/mod.rs"]
mod real_support;

mod divergence;
mod failback;
mod failover;
mod fencing;
mod heartbeat;
