//! Durations written for people, as exposures and every message show them.

use std::time::Duration;

/// Formats a duration for people: `4h`, `15m`, `3m 12s`, `850ms`. It lives
/// here so that [`super::Exposure`] can display itself; the `duration` module's `fmt`
/// is the same function for everything else.
pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    if d < Duration::from_secs(60) && d.subsec_millis() >= 100 {
        return format!("{}.{}s", d.as_secs(), d.subsec_millis() / 100);
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = Vec::new();
    if h > 0 {
        out.push(format!("{h}h"));
    }
    if m > 0 {
        out.push(format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push(format!("{s}s"));
    }
    out.join(" ")
}
