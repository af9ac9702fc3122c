//! The AWS adapters through the real SDK against one moto server, one
//! binary: `contract.rs` (the RDS, EKS and Route 53 adapters),
//! `contract_reprotect.rs` (the reprotect's cross-region read replica) and
//! `e2e.rs` (the built binary failing the core platform over, as an operator
//! runs it). Every test works in a moto account of its own (the binary with
//! a role assumed there), so they run side by side and nothing resets moto.

#[path = "../support/mod.rs"]
mod support;

mod contract;
mod contract_reprotect;
mod e2e;
