//! A child process that ends with its supervisor. `drctl local-cluster`
//! starts the simulated cloud and the controllers with a pipe on their
//! standard input that it never writes and never closes; when the
//! supervisor dies, however it dies (even SIGKILL), the kernel closes the
//! pipe, the child reads end-of-file and shuts down as on SIGTERM. (The
//! crate forbids `unsafe`, which `prctl(PR_SET_PDEATHSIG)` in a `pre_exec`
//! would need; the pipe also works beyond Linux.)

/// Set to `1` in a child's environment: end when standard input closes.
pub const EXIT_WITH_STDIN_ENV: &str = "DRCTL_EXIT_WITH_STDIN";

/// Resolves when this process was started with [`EXIT_WITH_STDIN_ENV`] and
/// its standard input has closed; never otherwise.
pub(super) async fn parent_gone() {
    if std::env::var(EXIT_WITH_STDIN_ENV).as_deref() != Ok("1") {
        return std::future::pending().await;
    }
    if closed(std::io::stdin()).await.is_ok() {
        tracing::warn!("the supervising process is gone (standard input closed): stopping");
    } else {
        std::future::pending::<()>().await;
    }
}

/// Resolves when `input` reaches end-of-file or fails. A plain thread
/// reads it (detached: a blocked read never holds up the runtime's
/// shutdown).
fn closed(mut input: impl std::io::Read + Send + 'static) -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = tx.send(());
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ends_when_the_writer_closes() {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut watch = closed(reader);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(watch.try_recv().is_err(), "ended while the writer is open");
        drop(writer);
        tokio::time::timeout(std::time::Duration::from_secs(5), watch)
            .await
            .unwrap()
            .unwrap();
    }
}
