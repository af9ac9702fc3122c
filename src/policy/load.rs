//! Reading a policy file: YAML → raw types (collecting unknown fields) → validated.

use std::path::Path;

use super::raw::RawPolicy;
use super::validate::Validator;
use super::{Policy, PolicyError, Problem};

/// Reads and validates the policy at `path`, reporting every problem at once.
///
/// # Errors
///
/// A [`PolicyError`] naming the file and, for each problem, the field path,
/// the value found and what was expected: an unreadable file, malformed YAML,
/// unknown fields, and every semantic problem stage two finds.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let text = super::read::read_bounded(path).map_err(|e| PolicyError {
        file: path.to_path_buf(),
        problems: vec![Problem {
            path: "(file)".into(),
            value: None,
            expected: format!("a readable policy file ({e})"),
        }],
    })?;
    parse(path, &text)
}

/// Validates policy text; `path` is only used to name the file in errors and
/// is recorded as the policy's source.
///
/// # Errors
///
/// As [`load`], without the file-reading error.
pub fn parse(path: &Path, text: &str) -> Result<Policy, PolicyError> {
    let fail = |problems| PolicyError {
        file: path.to_path_buf(),
        problems,
    };
    let mut unknown = Vec::new();
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let raw: Result<RawPolicy, _> = serde_ignored::deserialize(de, |p| {
        // serde_ignored writes `?` for the `Some` around optional fields.
        let path = p.to_string().replace(".?", "").replace("?.", "");
        unknown.push(Problem {
            expected: unknown_field_hint(&path),
            path,
            value: None,
        })
    });
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_else(|| "(document)".into());
            unknown.push(Problem {
                path: at,
                value: None,
                expected: format!("valid policy YAML: {e}"),
            });
            return Err(fail(unknown));
        }
    };
    let mut v = Validator::new(unknown);
    let policy = v.policy(raw, path);
    match (policy, v.into_problems()) {
        (Some(policy), problems) if problems.is_empty() => Ok(policy),
        (_, problems) => Err(fail(problems)),
    }
}

fn unknown_field_hint(path: &str) -> String {
    if path.starts_with("tiers.") && path.matches('.').count() == 1 {
        "a known tier: database, node_groups, cache, stream or dns (unknown tier)".into()
    } else {
        "no such field (unknown field)".into()
    }
}
