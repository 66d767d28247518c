//! The session's side of the wire: queueing and flushing replies, reading with the idle
//! timeout, executing tarpits (delays, dribbling), and the ways a session ends (close,
//! reset, hold for a black hole).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, sleep_until, Instant};

use super::{End, Out, Session, COMMAND_CHUNK, FAREWELL_TIMEOUT, READ_CHUNK};
use crate::behavior::tarpit;
use crate::command::reply;
use crate::{MessageSink, RemoteReply};

/// A byte stream a session runs on: TCP in production, an in-memory pipe in tests (TLS,
/// after STARTTLS, wraps it: see `conn.rs`).
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Closes the connection with RST instead of FIN.
    fn abort(self);
}

impl Transport for TcpStream {
    fn abort(self) {
        // SO_LINGER 0: close() sends RST and does not block.
        let _ = self.set_zero_linger();
        drop(self);
    }
}

#[cfg(test)]
impl Transport for tokio::io::DuplexStream {
    fn abort(self) {}
}

impl<T: Transport, K: MessageSink> Session<T, K> {
    /// Queues a reply, or under a tarpit, waits and dribbles it.
    pub(super) async fn send(&mut self, what: Out<'_>) -> Result<(), End> {
        let start = self.out.len();
        match what {
            Out::Line(line) => self.out.extend_from_slice(line),
            Out::Ehlo if self.io.is_tls() => self.out.extend_from_slice(&self.shared.ehlo_tls),
            Out::Ehlo => self.out.extend_from_slice(&self.shared.ehlo),
            Out::Helo => self.out.extend_from_slice(&self.shared.helo),
            Out::Reply(r) => render(&mut self.out, r),
        }
        let Some(pacing) = self.plan.pacing() else {
            return Ok(());
        };
        self.report_tarpit().await;
        let fresh = self.out.split_off(start);
        self.flush().await?;
        // A tarpitted session mostly sleeps: keep only the unread input while it does,
        // so thousands of them stay cheap. The next read grows the buffer again.
        self.inbuf.drain(..self.pos);
        self.inbuf.shrink_to_fit();
        self.pos = 0;
        if !pacing.delay.is_zero() {
            self.pause(pacing.delay).await?;
        }
        match pacing.bytes_per_sec {
            Some(bps) => self.dribble(&fresh, bps).await,
            None => {
                self.out = fresh;
                Ok(())
            }
        }
    }

    pub(super) async fn dribble(&mut self, bytes: &[u8], bytes_per_sec: u32) -> Result<(), End> {
        self.flush().await?;
        let start = Instant::now();
        let chunk = tarpit::chunk_len(bytes_per_sec);
        for (n, piece) in bytes.chunks(chunk).enumerate() {
            if n > 0 {
                let due = start + tarpit::due(n * chunk, bytes_per_sec);
                tokio::select! {
                    _ = sleep_until(due) => {}
                    _ = self.shutdown.as_mut() => return Err(End::Shutdown),
                }
            }
            self.out.extend_from_slice(piece);
            self.flush().await?;
        }
        Ok(())
    }

    pub(super) async fn pause(&mut self, delay: Duration) -> Result<(), End> {
        tokio::select! {
            _ = sleep(delay) => Ok(()),
            _ = self.shutdown.as_mut() => Err(End::Shutdown),
        }
    }

    /// Writes the output buffer. A client that does not read for the idle timeout is idle.
    pub(super) async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.waiting_since = Instant::now();
        let idle = self.shared.idle_timeout;
        let mut written = 0;
        // Offsets rather than `write_all`, so a write interrupted to re-arm the idle
        // timer resumes where it was. Then a flush: TLS keeps written bytes in its own
        // buffer until flushed (on TCP it is a no-op).
        let result = loop {
            let (io, out) = (&mut self.io, &self.out);
            let step = async {
                if written < out.len() {
                    match io.write(&out[written..]).await {
                        Ok(0) | Err(_) => Err(()),
                        Ok(n) => Ok(Some(n)),
                    }
                } else {
                    io.flush().await.map(|()| None).map_err(|_| ())
                }
            };
            tokio::select! {
                biased;
                r = step => match r {
                    Err(()) => break Err(End::ClientGone),
                    Ok(Some(n)) => written += n,
                    Ok(None) => break Ok(()),
                },
                _ = self.idle.as_mut() => {
                    let deadline = self.waiting_since + idle;
                    if Instant::now() >= deadline {
                        break Err(End::Idle);
                    }
                    self.idle.as_mut().reset(deadline);
                }
                _ = self.shutdown.as_mut() => break Err(End::Shutdown),
            }
        };
        self.out.clear();
        result
    }

    /// Reads more input; idle timeout and shutdown end the session.
    pub(super) async fn read_more(&mut self) -> Result<(), End> {
        if self.pos == self.inbuf.len() {
            self.inbuf.clear();
        } else {
            self.inbuf.drain(..self.pos);
        }
        self.pos = 0;
        let room = if self.body.is_some() {
            READ_CHUNK
        } else {
            COMMAND_CHUNK
        };
        self.inbuf.reserve(room);
        self.waiting_since = Instant::now();
        let idle = self.shared.idle_timeout;
        loop {
            tokio::select! {
                biased;
                r = self.io.read_buf(&mut self.inbuf) => return match r {
                    Ok(0) | Err(_) => Err(End::ClientGone),
                    Ok(_) => Ok(()),
                },
                _ = self.idle.as_mut() => {
                    let deadline = self.waiting_since + idle;
                    if Instant::now() >= deadline {
                        return Err(End::Idle);
                    }
                    self.idle.as_mut().reset(deadline);
                }
                _ = self.shutdown.as_mut() => return Err(End::Shutdown),
                _ = super::outage::begun(&mut self.outage) => {
                    if let Some(end) = self.outage_end().await {
                        return Err(end);
                    }
                }
            }
        }
    }

    pub(super) async fn finish(mut self, end: End) {
        let farewell = match end {
            End::Close => None,
            End::Idle => Some(reply::IDLE),
            End::Shutdown => Some(reply::SHUTDOWN),
            End::Reset => return self.io.abort(),
            End::ClientGone => return,
            End::Blackhole => {
                let _ = self.flush().await;
                return self.hold().await;
            }
        };
        self.out.extend_from_slice(farewell.unwrap_or_default());
        let out = std::mem::take(&mut self.out);
        let io = &mut self.io;
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, async {
            io.write_all(&out).await?;
            io.shutdown().await
        })
        .await;
    }

    /// Holds the connection without a byte: reads and discards until the client closes
    /// or the server shuts down. Buffers are freed first, so a held connection is cheap.
    pub(super) async fn hold(mut self) {
        self.inbuf = Vec::new();
        self.out = Vec::new();
        self.body = None;
        let mut scratch = [0u8; 256];
        loop {
            tokio::select! {
                r = self.io.read(&mut scratch) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = self.shutdown.as_mut() => return,
            }
        }
    }
}

/// Renders `code text`, one line per line of text (`code-` on all but the last).
pub(super) fn render(out: &mut Vec<u8>, reply: &RemoteReply) {
    let code = reply.code.to_string();
    let mut lines = reply.text.lines().peekable();
    if lines.peek().is_none() {
        out.extend_from_slice(code.as_bytes());
        out.extend_from_slice(b"\r\n");
        return;
    }
    while let Some(line) = lines.next() {
        out.extend_from_slice(code.as_bytes());
        out.push(if lines.peek().is_some() { b'-' } else { b' ' });
        out.extend_from_slice(line.trim_end_matches('\r').as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}
