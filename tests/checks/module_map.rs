//! The README's module map ("## Layout") against the tree: every directory
//! directly under `src/` and every top-level module file (`src/*.rs`) is
//! named in it, and every `src/` path it names exists, so a newcomer finds
//! any module from the map in one hop.

use std::collections::BTreeSet;
use std::path::Path;

/// The code block under the README's "## Layout" heading.
fn layout_block(readme: &str) -> &str {
    let after = readme
        .split_once("\n## Layout\n")
        .expect("README.md has a \"## Layout\" section")
        .1;
    let start = after
        .find("```")
        .expect("the Layout section opens a code block")
        + 3;
    let body = &after[start..];
    let body = &body[body.find('\n').map_or(0, |i| i + 1)..];
    &body[..body.find("```").expect("the Layout code block is closed")]
}

/// Every `src/` path the map names: the words starting with `src/`, and
/// the indented `name/` lines under a `src/dir/` line (`  aws/` under
/// `src/cloud/`).
fn named_paths(block: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut parent: Option<String> = None;
    for line in block.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if line.starts_with("src/") {
            parent = Some(first.to_string());
        } else if !line.starts_with(' ') {
            parent = None;
        } else if let (Some(p), Some(rest)) = (&parent, line.strip_prefix("  ")) {
            // `  aws/` names a directory; deeper indents continue a description.
            if !rest.starts_with(' ') && first.ends_with('/') {
                named.insert(format!("{p}{first}"));
            }
        }
        for word in line.split_whitespace() {
            let word = word.trim_matches(|c: char| matches!(c, '(' | ')' | ',' | ';' | '`' | '.'));
            if word.starts_with("src/") {
                named.insert(word.to_string());
            }
        }
    }
    named
}

/// The directories directly under `src/` (`src/api/`) and its top-level
/// module files (`src/lib.rs`).
fn tree(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("src")).expect("src/ is readable") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_dir() {
            out.insert(format!("src/{name}/"));
        } else if name.ends_with(".rs") {
            out.insert(format!("src/{name}"));
        }
    }
    out
}

/// What is wrong with the map `block` for the tree at `root`, one sentence
/// each.
fn problems(block: &str, root: &Path) -> Vec<String> {
    let named = named_paths(block);
    let mut out = Vec::new();
    for path in tree(root) {
        if !named.iter().any(|n| n.starts_with(&path)) {
            out.push(format!("README.md, ## Layout: {path} is not in the map"));
        }
    }
    for path in &named {
        if !root.join(path).exists() {
            out.push(format!(
                "README.md, ## Layout: the map names {path}, which does not exist"
            ));
        }
    }
    out
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md is readable")
}

#[test]
fn the_readme_map_names_every_module_under_src_and_nothing_else() {
    let readme = readme();
    let found = problems(layout_block(&readme), root());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn a_module_left_out_of_the_map_or_a_path_that_does_not_exist_is_reported() {
    let readme = readme();
    let block = layout_block(&readme);
    assert!(block.contains("src/bench/"), "the map names src/bench/");
    let without: String = block
        .lines()
        .filter(|l| !l.starts_with("src/bench/"))
        .map(|l| format!("{l}\n"))
        .collect();
    let found = problems(&without, root());
    assert_eq!(
        found,
        vec!["README.md, ## Layout: src/bench/ is not in the map".to_string()]
    );
    let ghost = format!("{block}src/ghost/       nothing\n  sim/         nothing either\n");
    let found = problems(&ghost, root());
    assert_eq!(
        found,
        vec![
            "README.md, ## Layout: the map names src/ghost/, which does not exist".to_string(),
            "README.md, ## Layout: the map names src/ghost/sim/, which does not exist".to_string(),
        ]
    );
}
