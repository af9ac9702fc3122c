//! `drctl local-cluster` and the CLI against it as processes, one binary:
//! `cluster.rs` (status, failover through the controller, the leader's
//! process killed mid-failover, a stopped primary failed over on its own, a
//! us-east-1 outage failed over from us-west-2) and `cycle.rs` (the way home
//! by hand). Each cluster runs on free ports, so the tests run side by side.

#[path = "../cluster_support/mod.rs"]
mod cluster_support;
#[path = "../local_support/mod.rs"]
mod local_support;

mod cluster;
mod cycle;
