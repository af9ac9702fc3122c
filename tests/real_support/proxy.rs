//! A TCP proxy on 127.0.0.1 that can stall one direction of its traffic.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// Forwards connections to a target. [`Proxy::stall`] stops forwarding the
/// target's bytes to the clients (the replication stream, when the target is
/// a primary) without closing anything; [`Proxy::resume`] delivers them.
/// Client-to-target bytes always flow. It runs on its own thread and
/// runtime, so it works from sync and async tests alike.
pub struct Proxy {
    port: u16,
    stalled: watch::Sender<bool>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1 in front of `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stalled, stall_rx) = watch::channel(false);
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                // Dropping the runtime at the end drops every connection.
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).unwrap();
                    tokio::select! {
                        _ = shutdown_rx => {}
                        _ = accept(listener, target, stall_rx) => {}
                    }
                });
            })
            .unwrap();
        Proxy {
            port,
            stalled,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops delivering target-to-client bytes; connections stay open.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Delivers target-to-client bytes again, the held-back ones first.
    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, stalled: watch::Receiver<bool>) {
    loop {
        if let Ok((client, _)) = listener.accept().await {
            tokio::spawn(forward(client, target, stalled.clone()));
        }
    }
}

/// Pipes one connection both ways until either side ends.
async fn forward(client: TcpStream, target: SocketAddr, mut stalled: watch::Receiver<bool>) {
    let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target));
    let Ok(Ok(server)) = connect.await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let upstream = tokio::io::copy(&mut client_rx, &mut server_tx);
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = server_rx.read(&mut buf).await?;
            if n == 0 {
                return client_tx.shutdown().await;
            }
            // While stalled, hold these bytes and read no more.
            if stalled.wait_for(|s| !*s).await.is_err() {
                return Ok(());
            }
            client_tx.write_all(&buf[..n]).await?;
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}
