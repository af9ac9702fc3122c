//! Checks of what the project ships beside the code, one binary: the
//! Kubernetes manifests, the README's module map, the runbooks, the crate's
//! shape and the JSON Schemas.

#[path = "../cli_support/mod.rs"]
mod cli_support;

mod deploy;
mod module_map;
mod runbooks;
mod schemas;
mod shape;
