//! The status HTTP API on a three-node cluster, one binary: `codes.rs`
//! (every status code, tokens, forwarding, health, readiness, metrics),
//! `input.rs` (bad input answered as JSON errors, a flood of wrong tokens),
//! `status_page.rs` (the page in headless Chromium) and `schemathesis.rs`
//! (the API against `docs/openapi.yaml`).

#[path = "../cluster_support/mod.rs"]
mod cluster_support;

mod codes;
mod input;
mod schemathesis;
mod status_page;
