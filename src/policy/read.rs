//! Reading an input file (a policy, a node's configuration, a chaos
//! scenario) with a bound on its size, so that a wrong path such as
//! `/dev/zero` or a multi-gigabyte file fails at once instead of filling
//! memory.

use std::io::{self, Read};
use std::path::Path;

/// The largest input file drctl reads: 1 MiB, far above any real policy,
/// node file or scenario.
pub const INPUT_MAX: u64 = 1024 * 1024;

/// Reads the UTF-8 text of `path`, never more than [`INPUT_MAX`] bytes.
///
/// # Errors
///
/// The file cannot be opened or read, is not UTF-8, or is larger than
/// [`INPUT_MAX`] (the message states the limit; the caller names the file).
pub fn read_bounded(path: &Path) -> io::Result<String> {
    read_at_most(path, INPUT_MAX)
}

fn read_at_most(path: &Path, limit: u64) -> io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    // One byte more than the limit tells a file of exactly the limit from
    // a larger one.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "larger than {} (the limit for an input file)",
                shown_size(limit)
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text: {e}")))
}

fn shown_size(bytes: u64) -> String {
    if bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_refused_after_the_limit() {
        let e = read_bounded(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
    }

    #[test]
    fn a_file_of_exactly_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, "a".repeat(10)).unwrap();
        assert_eq!(read_at_most(&path, 10).unwrap().len(), 10);
        std::fs::write(&path, "a".repeat(11)).unwrap();
        assert!(read_at_most(&path, 10).is_err());
    }
}
