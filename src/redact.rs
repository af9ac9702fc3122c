//! Secrets out of anything shown: the one place where connection strings
//! are redacted before they reach an error, a log line, an API answer or a
//! `Debug` print.
//!
//! Two forms carry secrets: URL userinfo (`postgresql://drctl:secret@db/x`,
//! `redis://:secret@cache`, `rediss://user:secret@cache`) and libpq
//! key=value settings (`password=secret`, `sslpassword=...`). [`redact`]
//! masks both wherever they occur in a text, so that it also cleans an
//! error message that quotes a connection string. When it cannot tell the
//! user from the password it masks the whole userinfo: showing too little
//! is better than showing a secret.

use std::fmt;

/// What replaces a secret.
pub const MASK: &str = "***";

/// `text` with every URL password and every `password=` value replaced by
/// [`MASK`]. A userinfo of plain user-name characters followed by
/// `:password` keeps the user (`drctl:***@db`); any other userinfo is
/// masked whole (`***@db`), since a lone token before `@` may itself be a
/// credential.
pub fn redact(text: &str) -> String {
    let masked = userinfo(text);
    key_values(&masked)
}

/// Whether `s` holds a password: URL userinfo with a `:password` part, or
/// a `password=` setting. Used to refuse connection strings that would put
/// a secret into a policy file.
pub fn has_password(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.contains("password") || tokens_with_userinfo(s).any(|info| info.contains(':'))
}

/// Shows a connection string redacted, for `Debug` and `Display` of the
/// structs that hold one: `format!("{:?}", Redacted(&url))`.
pub struct Redacted<'a>(pub &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact(self.0), f)
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(self.0))
    }
}

/// Serializes a connection string redacted (`#[serde(serialize_with)]`).
///
/// # Errors
///
/// Those of the serializer.
pub fn serialize<S: serde::Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&redact(s))
}

/// Characters that end a URL inside free text.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>')
}

/// Characters a user name shown beside a masked password may hold.
fn plain_user(user: &str) -> bool {
    !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// For one URL (what follows `://`, up to the end of its token): the byte
/// length of its userinfo, if it has one.
///
/// The userinfo ends at the last `@` of the authority (up to the first
/// `/`, `?` or `#`). An authority without `@` whose `:` is not followed by
/// a port (`user:pa/ss@host`: a password holding a `/`) is unclear, so the
/// userinfo then runs to the last `@` of the token.
fn userinfo_len(rest: &str) -> Option<usize> {
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some(at) = authority.rfind('@') {
        return Some(at);
    }
    let after_colon = authority.rsplit_once(':').map(|(_, p)| p)?;
    let is_port = after_colon.chars().all(|c| c.is_ascii_digit()) || authority.starts_with('[');
    match is_port {
        true => None,
        false => rest.rfind('@'),
    }
}

/// Each URL's userinfo in `s`.
fn tokens_with_userinfo(s: &str) -> impl Iterator<Item = &str> {
    s.match_indices("://").filter_map(move |(i, _)| {
        let rest = &s[i + 3..];
        let rest = &rest[..rest.find(ends_token).unwrap_or(rest.len())];
        userinfo_len(rest).map(|n| &rest[..n])
    })
}

/// Masks the userinfo of every URL in `text`.
fn userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let token_end = tail.find(ends_token).unwrap_or(tail.len());
        match userinfo_len(&tail[..token_end]) {
            Some(n) => {
                let info = &tail[..n];
                match info.split_once(':') {
                    Some((user, _)) if plain_user(user) => {
                        out.push_str(user);
                        out.push(':');
                    }
                    _ => {}
                }
                out.push_str(MASK);
                rest = &tail[n..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Masks the value of every `…password=value` setting in `text` (libpq
/// conninfo, URL query parameters): a quoted value to its closing quote,
/// any other to the next white space.
fn key_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find("password") {
        let key_end = from + found + "password".len();
        let after_key = &text[key_end..];
        let spaces = after_key.len() - after_key.trim_start().len();
        let Some(value) = after_key.trim_start().strip_prefix('=') else {
            out.push_str(&text[from..key_end]);
            from = key_end;
            continue;
        };
        let value_start = key_end + spaces + 1 + (value.len() - value.trim_start().len());
        let value = &text[value_start..];
        let value_len = match value.strip_prefix('\'') {
            Some(quoted) => closing_quote(quoted).map_or(value.len(), |n| n + 2),
            None => value.find(char::is_whitespace).unwrap_or(value.len()),
        };
        out.push_str(&text[from..value_start]);
        out.push_str(MASK);
        from = value_start + value_len;
    }
    out.push_str(&text[from..]);
    out
}

/// The byte offset of the quote closing a libpq quoted value (`\'` and
/// `\\` are escapes).
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '\'') => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_masked_and_plain_users_kept() {
        assert_eq!(
            redact("postgresql://drctl:secret@db.internal:5432/app"),
            "postgresql://drctl:***@db.internal:5432/app"
        );
        assert_eq!(
            redact("redis://:secret@cache:6379/0"),
            "redis://***@cache:6379/0"
        );
        assert_eq!(
            redact("rediss://user:secret@cache"),
            "rediss://user:***@cache"
        );
    }

    #[test]
    fn an_unclear_userinfo_is_masked_whole() {
        // A lone token before @ may be a credential.
        assert_eq!(
            redact("https://ghp_token@github.com/x"),
            "https://***@github.com/x"
        );
        // A password holding @ or / is masked up to the host.
        assert_eq!(redact("redis://u:p@ss@cache"), "redis://u:***@cache");
        assert_eq!(redact("redis://u:pa/ss@cache"), "redis://u:***@cache");
        // A user name that is not plain is masked too.
        assert_eq!(redact("redis://u%3A:x@cache"), "redis://***@cache");
    }

    #[test]
    fn urls_without_userinfo_are_left_alone() {
        for s in [
            "https://api.example.com:8443/health?x=a@b",
            "http://[::1]:7100/v1/status",
            "redis://cache:6379",
            "host=db port=5432 user=drctl",
        ] {
            assert_eq!(redact(s), s);
        }
    }

    #[test]
    fn key_value_passwords_are_masked_quoted_or_not() {
        assert_eq!(
            redact("host=db password=hunter2 user=drctl"),
            "host=db password=*** user=drctl"
        );
        assert_eq!(
            redact("host=db PASSWORD = 'a b\\' c' user=x"),
            "host=db PASSWORD = *** user=x"
        );
        assert_eq!(redact("sslpassword=k1"), "sslpassword=***");
        assert_eq!(
            redact("postgres://db/app?password=s3&sslmode=require"),
            "postgres://db/app?password=***"
        );
        assert_eq!(redact("the password is fine"), "the password is fine");
    }

    #[test]
    fn secrets_inside_error_text_are_masked() {
        let err = "invalid connection string \"postgresql://drctl:hunter2@db/x\": bad port";
        let shown = redact(err);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("drctl:***@db/x"), "{shown}");
    }

    #[test]
    fn has_password_sees_both_forms_but_not_a_user_alone() {
        assert!(has_password("postgresql://drctl:s@db/x"));
        assert!(has_password("rediss://:s@cache"));
        assert!(has_password("host=db Password=s"));
        assert!(!has_password("postgresql://drctl@db/x"));
        assert!(!has_password("redis://cache:6379/1"));
    }

    #[test]
    fn redacted_wraps_debug_and_display() {
        let s = "redis://:hunter2@cache";
        assert_eq!(format!("{:?}", Redacted(s)), "\"redis://***@cache\"");
        assert_eq!(Redacted(s).to_string(), "redis://***@cache");
    }
}
