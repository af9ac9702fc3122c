//! What a name may be. A policy name becomes a file name (the journal of
//! `drctl failover --confirm`), a metric label and a key of the replicated
//! state; a site is an AWS region. Both are checked once, when the policy
//! or node file is read, so that no name can leave a directory, hide a NUL
//! byte or blow up a label.

/// The longest policy name: 63 characters, a DNS label's limit.
pub const NAME_LEN_MAX: usize = 63;

/// The longest region name; AWS's longest today (`ap-southeast-4`,
/// `us-gov-west-1`) are 14.
pub const REGION_LEN_MAX: usize = 32;

/// The rule for names, as errors state it.
pub const NAME_RULE: &str = "use 1–63 characters a-z, 0-9 and '-', starting with a letter or digit";

/// The rule for regions, as errors state it.
pub const REGION_RULE: &str = "an AWS region such as us-east-1 (lowercase words and digits joined by '-', ending in a number)";

/// Whether `s` is a valid policy name: `^[a-z0-9][a-z0-9-]{0,62}$`.
pub fn is_valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && s.len() <= NAME_LEN_MAX
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `s` has AWS region syntax: at least three parts joined by `-`,
/// a two-letter first part, lowercase letters and digits, a number last
/// (`us-east-1`, `us-gov-west-1`), at most [`REGION_LEN_MAX`] characters.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= REGION_LEN_MAX
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Whether `s` is one plain file name, at most [`NAME_LEN_MAX`]
/// characters: no separator, no `.` or `..`, no NUL byte, not empty. What
/// a file named after a policy checks again, whatever validation did.
pub fn is_plain_file_name(s: &str) -> bool {
    let mut parts = std::path::Path::new(s).components();
    matches!(parts.next(), Some(std::path::Component::Normal(_)))
        && parts.next().is_none()
        && !s.contains(['/', '\\', '\0'])
        && s.chars().count() <= NAME_LEN_MAX
}

/// A refused name as an error shows it: quoted and escaped (a NUL byte
/// shows as `\0`), and cut after 40 characters.
pub fn shown(s: &str) -> String {
    const SHOWN_MAX: usize = 40;
    match s.char_indices().nth(SHOWN_MAX) {
        Some((cut, _)) => format!("{:?}… ({} characters)", &s[..cut], s.chars().count()),
        None => format!("{s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words_up_to_63_characters() {
        for ok in ["emr-platform", "a", "0", "p-1-2", &"x".repeat(63)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "../escaped",
            "/etc/passwd",
            "a/b",
            "nul\0byte",
            "-leading",
            "Upper",
            "with space",
            "dots.json",
            &"x".repeat(64),
            &"x".repeat(5000),
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_plain_file_name_cannot_leave_its_directory() {
        assert!(is_plain_file_name("emr-platform"));
        let long = "x".repeat(64);
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/x",
            "a/b",
            "a\\b",
            "a\0",
            long.as_str(),
        ] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn regions_have_aws_syntax_and_a_bounded_length() {
        for ok in ["us-east-1", "us-gov-west-1", "ap-southeast-4"] {
            assert!(is_region(ok), "{ok}");
        }
        let long = format!("us-{}-1", "a".repeat(40));
        for bad in ["us-east", "local-1", "../us-east-1", "US-EAST-1", &long] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn a_long_or_odd_name_is_shown_cut_and_escaped() {
        assert_eq!(shown("a\0b"), "\"a\\0b\"");
        let long = shown(&"x".repeat(5000));
        assert!(long.ends_with("… (5000 characters)"), "{long}");
        assert!(long.len() < 70, "{long}");
    }
}
