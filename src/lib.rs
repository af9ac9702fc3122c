//! drctl: a disaster-recovery and failover controller for an AWS platform
//! that runs active in one region and passive in another.
//!
//! # Layout
//!
//! - [`model`]: the plain values every layer shares (data tiers, data-loss
//!   exposures, fencing epochs and fences, cloud operation names); it
//!   depends on no other module.
//! - [`policy`]: YAML → raw serde types → a validated [`policy::Policy`],
//!   every problem reported at once.
//! - [`cloud`]: one small trait per capability (database, node groups, DNS,
//!   cache, stream), with the AWS SDK adapters in [`cloud::aws`] and the
//!   simulated cloud in [`cloud::sim`].
//! - [`detect`]: pure: the observations of every site over time → a verdict
//!   (majority of sites, consecutive failures, hold-down, modes).
//! - [`probe`]: I/O: each site's probe rounds (HTTP, TCP, RDS status, Route 53
//!   health checks) and the replication heartbeats that measure data loss.
//! - [`fence`]: fencing the old primary's writers (PostgreSQL roles, Redis
//!   ACL users, ElastiCache users) and measuring what it accepted after the
//!   fork (the divergence report).
//! - [`plan`]: pure: (policy, observed state) → the failover plan, a DAG.
//! - [`execute`]: runs the plan: parallel where independent, each step
//!   check → act → verify, journaled, resumable.
//! - [`consensus`]: openraft glue: the replicated state machine (executions,
//!   fencing, maintenance, audit), its redb store and the node RPC.
//! - [`controller`]: one always-on controller node: raft, the leader-only
//!   executor, and the [`api`] it serves.
//! - [`api`]: the status HTTP API (axum): status, executions, failover,
//!   maintenance, health, metrics; and its typed client ([`api::client`]).
//! - [`readiness`]: read-only checks that a failover would work now, and
//!   its predicted RTO (`drctl check`, the controllers' periodic readiness).
//! - [`notify`]: webhooks (JSON, Slack, PagerDuty Events v2) told of
//!   verdicts, failovers and readiness, by the leader, at least once.
//! - [`report`]: the execution report (text, JSON and self-contained HTML),
//!   critical path, RTO and RPO.
//! - [`history`]: every drill and execution kept (a local file, the
//!   replicated state), p50/p95 per step and drift above the policy's budgets.
//! - [`chaos`]: chaos scenarios: faults in the simulated cloud and the
//!   outcome they must lead to.
//! - [`simulate`]: the seeded, deterministic simulation of three nodes,
//!   the network and the cloud on virtual time, with the invariants it checks.
//! - [`bench`]: the harnesses behind `drctl bench`, one file each (the
//!   RTO of the DAG against the sequential procedure, the cluster,
//!   detection, end to end, probes, readiness, the status page).
//! - [`cli`]: the `drctl` command line: flags parsed, then calls into the
//!   modules above.
//! - [`clock`]: the one wall clock (system time, or virtual time that
//!   follows tokio's paused clock in the simulation).
//! - [`duration`]: durations as people write them (`90s`, `15m`, `4h`).
//! - [`redact`]: secrets out of anything shown (connection strings).
//!
//! The `drctl` binary (`src/bin/drctl.rs`) is a thin command line over these.

// The failover future nests deeply (executor, steps, SDK calls); computing
// its layout in release builds needs more than the default query depth.
#![recursion_limit = "256"]

pub mod api;
pub mod bench;
pub mod chaos;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod consensus;
pub mod controller;
pub mod detect;
pub mod duration;
pub mod execute;
pub mod fence;
pub mod history;
pub mod model;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod readiness;
pub mod redact;
pub mod report;
pub mod simulate;
#[cfg(test)]
pub(crate) mod test_log;
