//! openraft glue: the type configuration, the replicated state machine, its
//! on-disk store and the node-to-node network.
//!
//! Three voters, one per site (the primary region, the DR region and a
//! witness region), agree on one [`ClusterState`]: the active region per
//! policy, every execution with its journal, the maintenance flag and the
//! audit log. Only the leader executes; every step it starts is recorded
//! through the log first, under a fencing [`Epoch`](crate::model::Epoch).

pub mod auth;
pub mod mem_transport;
pub mod network;
pub mod peer_log;
pub mod state;
pub mod store;
pub mod transport;

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

pub use state::{
    AuditEntry, ClusterState, Command, Execution, Maintenance, PolicyState, Reply, DETECTOR,
};

/// A node's id in the cluster (1, 2, 3 for the three sites).
pub type NodeId = u64;

/// What the cluster knows about a member: where it is and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The site (an AWS region name) the node runs in.
    pub site: String,
    /// Its base URL, serving both the API and the raft RPC.
    pub addr: String,
    /// A witness votes and probes but never executes steps.
    #[serde(default)]
    pub witness: bool,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.site, self.addr)
    }
}

openraft::declare_raft_types!(
    /// The raft type configuration of drctl's controller cluster.
    pub TypeConfig:
        D = Command,
        R = Reply,
        NodeId = NodeId,
        Node = Member,
);

/// The raft handle of a controller node.
pub type Raft = openraft::Raft<TypeConfig>;
