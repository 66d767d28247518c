//! The control API's connections: hyper's HTTP/1.1 server under [`Limits`] that keep a
//! hostile or broken client from taking the API down (the remotes run on their own
//! listeners and do not notice). `axum::serve` sets none of these: it has no header
//! timeout (hyper needs a timer for one) and no connection cap, hence this loop.
//!
//! - a client that sends its request head slowly (slow-loris) is disconnected after
//!   [`Limits::header_timeout`];
//! - beyond [`Limits::max_connections`] open connections, a new one gets `503` at once
//!   and is closed;
//! - a request body above [`Limits::max_body`] gets `413` without being read (axum's
//!   `DefaultBodyLimit`), and a request that takes longer than
//!   [`Limits::request_timeout`] to be answered (a slow body) gets `408`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What one client may take of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at once (a followed event stream holds one).
    pub max_connections: usize,
    /// To receive a request's head (line and headers), from when the server waits for it.
    pub header_timeout: Duration,
    /// To answer a request, body included (not a followed stream once it has started).
    pub request_timeout: Duration,
    /// Largest request body: a fault, or a list of them, is a few hundred bytes.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_body: 64 << 10,
        }
    }
}

/// Serves `app` on `listener` until `shutdown`; then stops accepting, lets each
/// connection finish its request (streams end on `shutdown` too) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: the listener is fine; wait
                    // for connections to end rather than spin.
                    tracing::warn!("control API: accept failed: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                        _ = shutdown.cancelled() => break,
                    }
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            connections.spawn(refuse(stream));
            continue;
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Answers a connection over the cap with `503` and closes it. What the client sent is
/// read (briefly, boundedly) first: closing with unread data would reset the connection
/// and the client might lose the answer.
async fn refuse(mut stream: TcpStream) {
    let body = "{\"error\":\"too many connections: try again shortly\"}\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut read = 0;
        while read < 64 << 10 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => read += n,
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
}
