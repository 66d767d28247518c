//! The byte stream under a session: the plain transport, the same transport inside TLS
//! after STARTTLS, or nothing once a failed handshake consumed it. One enum rather than a
//! second session type, so the protocol code is the same before and after STARTTLS; the
//! TLS stream is boxed so a plain connection (the ten thousand held by a tarpit) stays
//! small.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

use super::Transport;

pub(crate) enum Conn<T> {
    Plain(T),
    Tls(Box<TlsStream<T>>),
    /// The transport went into a handshake that failed; reads see end-of-file.
    Gone,
}

impl<T: Transport> Conn<T> {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }

    /// The plain transport, for the handshake; leaves `Gone` behind.
    pub(crate) fn take_plain(&mut self) -> Option<T> {
        match std::mem::replace(self, Conn::Gone) {
            Conn::Plain(t) => Some(t),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Closes with RST instead of FIN (over TLS too: no close_notify).
    pub(crate) fn abort(self) {
        match self {
            Conn::Plain(t) => t.abort(),
            Conn::Tls(s) => s.into_inner().0.abort(),
            Conn::Gone => {}
        }
    }
}

impl<T: Transport> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl<T: Transport> AsyncWrite for Conn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}
