//! Structured logs on stderr.

use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::LogFormat;

/// Installs the global subscriber.
pub(super) fn init(level: &str, format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("{level:?}: {e}"))?;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ));
    let registry = tracing_subscriber::registry()
        .with(QuietRaftRpc)
        .with(filter);
    match format {
        LogFormat::Text => registry.with(fmt.fmt_fields(text_fields())).try_init(),
        LogFormat::Json => registry.with(fmt.json()).try_init(),
    }
    .map_err(|e| e.to_string())
}

/// Drops openraft's line per failed call to a peer (replication's
/// `RPCError`, an election's `while requesting vote` and `timeout`), logged
/// at ERROR several times a second while a peer is down. The peer log
/// (`consensus/peer_log.rs`) says the same once, at WARN, and again once a
/// minute; openraft's other errors still show.
pub struct QuietRaftRpc;

/// The messages of openraft's per-call error lines.
const RAFT_RPC_NOISE: [&str; 3] = ["RPCError", "while requesting vote", "timeout"];

impl<S: tracing::Subscriber> Layer<S> for QuietRaftRpc {
    fn event_enabled(&self, event: &tracing::Event<'_>, _: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if !meta.target().starts_with("openraft") || *meta.level() != tracing::Level::ERROR {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        !RAFT_RPC_NOISE.contains(&message.0.as_str())
    }
}

/// An event's `message` field.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
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
    use super::*;

    #[test]
    fn openraft_per_call_errors_are_dropped_and_its_other_errors_kept() {
        let captured = crate::test_log::Captured::default();
        let subscriber = tracing_subscriber::registry().with(QuietRaftRpc).with(
            tracing_subscriber::fmt::layer()
                .with_writer(captured.clone())
                .with_ansi(false),
        );
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..10 {
                tracing::error!(target: "openraft::replication", err = "unreachable", "RPCError");
                tracing::error!(target: "openraft::core::raft_core", error = "x", target_node = 2, "while requesting vote");
            }
            tracing::error!(target: "openraft::core::raft_core", error = "disk", "quit RaftCore::main on error");
            tracing::error!(target: "drctl::controller", "RPCError");
        });
        let text = captured.text();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("quit RaftCore::main on error"), "{text}");
    }

    #[test]
    fn a_newline_in_a_logged_value_cannot_forge_a_text_log_line() {
        let buf = crate::test_log::Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buf.clone())
            .with_ansi(false)
            .fmt_fields(super::text_fields())
            .finish();
        let reason = "drill\n2026-12-01T00:00:00Z  INFO drctl: maintenance off\x1b[2J";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(reason = %reason, quoted = reason, "execution x started: {reason}");
        });
        let text = buf.text();
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
