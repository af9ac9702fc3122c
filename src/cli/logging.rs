//! Structured logs on stderr.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::LogFormat;

/// Installs the global subscriber.
pub(super) fn init(level: &str, format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("{level:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ));
    match format {
        LogFormat::Text => builder.fmt_fields(text_fields()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| e.to_string())
}

/// The field formatter of text logs: like the default one, but every
/// control character in a value or the message is escaped (`\n`, `\r`,
/// `\t`, `\u{1b}`), so a value quoted from a request (an operator's
/// `reason`) cannot end the line and forge another one, nor send terminal
/// escapes. JSON logs escape them already.
pub(super) fn text_fields(
) -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let shown = escape_controls(&format!("{value:?}"));
        match field.name() {
            "message" => write!(w, "{shown}"),
            name => write!(w, "{}={shown}", name.trim_start_matches("r#")),
        }
    })
    .delimited(" ")
}

/// `s` with its control characters written as escapes.
fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Whether text logs carry ANSI colour: only on a terminal, and not when
/// `NO_COLOR` is set to a non-empty value (<https://no-color.org>). Logs
/// redirected to a file or collected from a container stay plain.
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour;

    /// A writer into a shared buffer, for a subscriber under test.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_newline_in_a_logged_value_cannot_forge_a_text_log_line() {
        let buf = Buffer::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .fmt_fields(super::text_fields())
            .finish();
        let reason = "drill\n2026-12-01T00:00:00Z  INFO drctl: maintenance off\x1b[2J";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(reason = %reason, quoted = reason, "execution x started: {reason}");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("reason=drill\\n2026"), "{text}");
        assert!(text.contains("started: drill\\n2026"), "{text}");
        assert!(text.contains("\\u{1b}[2J"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
