//! The command line as a user runs it, one binary: the commands, bad input
//! and defaults, and what the drill prints.

#[path = "../cli_support/mod.rs"]
mod cli_support;

mod commands;
mod inputs;
mod output;
