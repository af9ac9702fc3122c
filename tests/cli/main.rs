//! The command line as a user runs it, one binary: the commands, bad input
//! and defaults, what the drill prints, `drctl divergence` against a file
//! journal, and `drctl reprotect` and `drctl failback` with the local
//! journal's roles.

#[path = "../cli_support/mod.rs"]
mod cli_support;
#[path = "../cluster_support/mod.rs"]
mod cluster_support;

mod commands;
mod divergence;
mod inputs;
mod output;
mod roles_local;
