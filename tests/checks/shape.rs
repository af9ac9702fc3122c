//! The crate's shape: `src/model` sits at the bottom and depends on no other
//! drctl module, so every layer can import it without a cycle.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The lines of `text` (shown as `name`) that reach outside `model`:
/// `crate::` followed by anything but `model`, or `use super::super`
/// (a path that climbs out of the module tree). Each as `name:line: text`.
fn outside_model(name: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let climbs = line.contains("use super::super");
        let reaches = line
            .match_indices("crate::")
            .any(|(at, m)| first_ident(&line[at + m.len()..]) != "model");
        if climbs || reaches {
            found.push(format!("{name}:{}: {}", i + 1, line.trim()));
        }
    }
    found
}

/// The identifier `text` starts with.
fn first_ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

#[test]
fn the_model_module_uses_nothing_else_of_the_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = rust_files(&root.join("src/model"));
    assert!(files.len() >= 2, "src/model has no files: {files:?}");
    let mut found = Vec::new();
    for path in &files {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        found.extend(outside_model(&name, &text));
    }
    assert!(
        found.is_empty(),
        "src/model must use only std, serde, thiserror and time, never another drctl module:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_names_the_file_and_line_of_each_reach_outside_model() {
    let text = "use crate::model::Epoch;\n\
                use crate::cloud::CloudError;\n\
                use super::super::plan;\n\
                fn f(_: crate::model::Fence) {}\n\
                fn g(_: crate::duration::Text) {}\n";
    assert_eq!(
        outside_model("src/model/x.rs", text),
        vec![
            "src/model/x.rs:2: use crate::cloud::CloudError;",
            "src/model/x.rs:3: use super::super::plan;",
            "src/model/x.rs:5: fn g(_: crate::duration::Text) {}",
        ]
    );
    assert!(outside_model("ok.rs", "use super::Epoch;\nuse crate::model::Op;\n").is_empty());
    assert_eq!(outside_model("m.rs", "use crate::models::X;").len(), 1);
}
