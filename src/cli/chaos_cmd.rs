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
    let mut scenarios = Vec::new();
    for f in &files {
        match Scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::BadInput;
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
                return Exit::BadInput;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        Exit::Ok
    } else {
        Exit::Failed
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
