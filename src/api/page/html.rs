//! HTML escaping and the small formatting helpers every section shares.
//!
//! Every string that did not come from this module's own literals goes
//! through [`esc`] before it is written into the page: reasons, outcomes,
//! audit lines and probe details are typed by operators or quoted from
//! the cloud, and may hold markup.

use std::fmt::Write as _;
use std::time::Duration;

/// Escapes a string from outside the page (see [`crate::report::escape`]).
pub use crate::report::escape as esc;

/// A duration in milliseconds as the CLI writes it (`2.5s`, `1m 3s`).
pub fn ms(ms: u64) -> String {
    crate::duration::fmt(Duration::from_millis(ms))
}

/// A badge: `label` (escaped) in a pill coloured by `class`, which must
/// be one of the page's own class names (`ok`, `warn`, `bad`, `info`, `mute`).
pub fn badge(out: &mut String, class: &str, label: &str) {
    debug_assert!(class.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    let _ = write!(out, "<span class=\"badge {class}\">{}</span>", esc(label));
}

/// The opening of a section: `kind` (a literal class name saying which
/// section it is, as tests and styles find it) and its escaped title.
pub fn open_section(out: &mut String, kind: &str, title: &str) {
    debug_assert!(kind.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    let _ = write!(
        out,
        "<section class=\"card {kind}\"><h3>{}</h3>",
        esc(title)
    );
}

/// `<td>` cells, each escaped.
pub fn cells(out: &mut String, values: &[&str]) {
    for v in values {
        let _ = write!(out, "<td>{}</td>", esc(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metacharacter_is_replaced() {
        assert_eq!(
            esc(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert!(matches!(esc("plain text"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn badges_escape_their_label() {
        let mut s = String::new();
        badge(&mut s, "bad", "<b>");
        assert_eq!(s, "<span class=\"badge bad\">&lt;b&gt;</span>");
    }
}
