//! The AWS adapters through the real SDK against moto, one binary:
//! `contract.rs` (RDS, EKS and Route 53), `contract_reprotect.rs` (the
//! reprotect's cross-region read replica) and `e2e.rs` (the built binary
//! against moto). The moto server is started by `support`.

#[path = "../support/mod.rs"]
mod support;

mod contract;
mod contract_reprotect;
mod e2e;
