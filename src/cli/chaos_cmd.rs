//! `drctl chaos run`.

use std::path::PathBuf;

use super::{modeled_runtime, Exit};
use crate::chaos::{self, Scenario};

/// The scenarios run when no file is named.
pub const DEFAULT_DIR: &str = "chaos";

pub(super) fn run(files: Vec<PathBuf>) -> Exit {
    let files = if files.is_empty() {
        match scenario_files(DEFAULT_DIR) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {DEFAULT_DIR}: {e}");
                return Exit::BadInput;
            }
        }
    } else {
        files
    };
    // An invalid file does not stop the others: every valid scenario runs,
    // every invalid one is reported with its error.
    let mut scenarios = Vec::new();
    let mut invalid = 0;
    for f in &files {
        match Scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                invalid += 1;
            }
        }
    }
    let rt = modeled_runtime();
    let (mut passed, mut failed) = (0, 0);
    for s in &scenarios {
        match rt.block_on(chaos::run(s)) {
            Ok(o) => {
                println!("{}", o.line());
                if o.passed() {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                invalid += 1;
            }
        }
    }
    let invalid_note = if invalid > 0 {
        format!(", {invalid} invalid")
    } else {
        String::new()
    };
    println!("{passed} passed, {failed} failed{invalid_note}");
    outcome(failed, invalid)
}

/// The exit code: a scenario that failed its expectation outranks an
/// invalid file (1 before 64, as the README's table orders them).
fn outcome(failed: usize, invalid: usize) -> Exit {
    if failed > 0 {
        Exit::Failed
    } else if invalid > 0 {
        Exit::BadInput
    } else {
        Exit::Ok
    }
}

/// Every `.yaml` file in `dir`, sorted.
pub fn scenario_files(dir: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
