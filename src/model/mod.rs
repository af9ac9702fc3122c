//! The domain's plain values, shared by every layer: data tiers, data-loss
//! exposures, fencing epochs and fences, the names of cloud operations, and
//! which way the policy is read (orientation and protection).
//!
//! `model` sits at the bottom of the crate: it uses only `std`, `serde`,
//! `thiserror` and `time`, never another drctl module, so any layer may
//! import it without creating a cycle (`tests/checks/shape.rs` checks this).

mod duration;
mod epoch;
mod exposure;
mod fence;
mod op;
mod roles;
mod tier;

pub use duration::human_duration;
pub use epoch::Epoch;
pub use exposure::Exposure;
pub use fence::Fence;
pub use op::{Op, UnknownOp};
pub use roles::{ExecutionKind, Orientation, Protection, RecordedNames, SwitchedRoles};
pub use tier::DataTier;
