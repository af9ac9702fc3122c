//! The recent audit lines, newest first.

use std::fmt::Write as _;

use super::html::{esc, open_section};
use super::PageModel;

/// Writes the audit table.
pub(super) fn render(m: &PageModel, out: &mut String) {
    open_section(out, "audit", "Recent audit");
    if m.audit.is_empty() {
        out.push_str("<p class=\"mute\">Nothing recorded yet.</p></section>");
        return;
    }
    out.push_str(
        "<table class=\"audit\"><thead><tr><th>at</th><th>who</th><th>what</th></tr></thead><tbody>",
    );
    for a in &m.audit {
        let _ = write!(
            out,
            "<tr><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.at),
            esc(&a.who),
            esc(&a.what)
        );
    }
    out.push_str("</tbody></table></section>");
}
