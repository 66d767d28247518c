//! A message body as a transaction sends it: a head, whole lines of the one filler text,
//! a tail. The filler is never copied into a per-message buffer: it is written from one
//! static block ([`filler_block`]), so a 20 MiB message costs a session no 20 MiB of
//! memory, whatever the number of sessions. Plain bytes are a body with head only.

use std::sync::OnceLock;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::client::Connection;
use super::dot::Stuffer;

/// The filler text, one line: it starts with a letter, so it never needs dot-stuffing.
pub const FILLER_LINE: &[u8] =
    b"The quick brown fox jumps over the lazy dog. 0123456789 mailquake filler.....\r\n";

/// Filler lines in the block the filler is written from (just under 64 KiB).
pub const BLOCK_LINES: usize = 829;

/// The bytes of a message, as they should arrive (dot-stuffing is the transaction's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Body<'a> {
    pub head: &'a [u8],
    /// Copies of [`FILLER_LINE`] after the head.
    pub filler_lines: usize,
    pub tail: &'a [u8],
}

impl<'a> Body<'a> {
    /// A body that is just these bytes.
    pub fn bytes(bytes: &'a [u8]) -> Self {
        Body {
            head: bytes,
            filler_lines: 0,
            tail: &[],
        }
    }

    pub fn len(&self) -> usize {
        self.head.len() + self.filler_lines * FILLER_LINE.len() + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole body in one buffer (for tests and small bodies).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(self.head);
        for _ in 0..self.filler_lines {
            out.extend_from_slice(FILLER_LINE);
        }
        out.extend_from_slice(self.tail);
        out
    }
}

impl<'a> From<&'a [u8]> for Body<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Body::bytes(bytes)
    }
}

/// [`FILLER_LINE`] × [`BLOCK_LINES`], built once per process and shared by every session.
pub fn filler_block() -> &'static [u8] {
    static BLOCK: OnceLock<Vec<u8>> = OnceLock::new();
    BLOCK.get_or_init(|| FILLER_LINE.repeat(BLOCK_LINES))
}

/// Writes `lines` filler lines from the shared block, a block at a time.
pub(super) async fn write_filler<W: AsyncWrite + Unpin>(
    w: &mut W,
    mut lines: usize,
) -> std::io::Result<()> {
    let block = filler_block();
    while lines > 0 {
        let n = lines.min(BLOCK_LINES);
        w.write_all(&block[..n * FILLER_LINE.len()]).await?;
        lines -= n;
    }
    Ok(())
}

impl Connection {
    /// Queues `body` dot-stuffed and its final dot. Filler beyond one block is only
    /// noted (written from the shared block at the flush), so `wbuf` stays small.
    pub(super) fn queue_body(&mut self, body: Body<'_>) {
        let mut s = Stuffer::default();
        s.push(body.head, &mut self.wbuf);
        if body.filler_lines > 0 {
            // The filler starts with a letter on every line: nothing to stuff.
            s.skip_clean(FILLER_LINE);
            if body.filler_lines <= BLOCK_LINES {
                self.wbuf
                    .extend_from_slice(&filler_block()[..body.filler_lines * FILLER_LINE.len()]);
            } else {
                self.fills.push((self.wbuf.len(), body.filler_lines));
            }
        }
        s.push(body.tail, &mut self.wbuf);
        s.finish(&mut self.wbuf);
    }
}

#[cfg(test)]
mod tests {
    use super::super::transaction::TxOutcome;
    use super::*;

    #[test]
    fn filler_needs_no_stuffing_and_block_is_whole_lines() {
        assert!(FILLER_LINE[0].is_ascii_alphabetic());
        assert!(FILLER_LINE.ends_with(b"\r\n"));
        assert_eq!(FILLER_LINE.iter().filter(|b| **b == b'\n').count(), 1);
        let block = filler_block();
        assert_eq!(block.len(), BLOCK_LINES * FILLER_LINE.len());
        assert!(block.len() <= 64 * 1024);
        assert!(std::ptr::eq(block, filler_block()), "one block per process");
    }

    #[test]
    fn length_and_bytes_agree() {
        let b = Body {
            head: b"H: 1\r\n\r\n",
            filler_lines: 3,
            tail: b"end\r\n",
        };
        assert_eq!(b.to_vec().len(), b.len());
        assert_eq!(b.len(), 8 + 3 * FILLER_LINE.len() + 5);
        assert_eq!(Body::bytes(b"abc").to_vec(), b"abc");
        assert!(Body::default().is_empty());
    }

    /// Reads pipelined commands and bodies; returns each body as received (stuffed,
    /// with its dot).
    async fn server(listener: tokio::net::TcpListener) -> Vec<Vec<u8>> {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let (stream, _) = listener.accept().await.unwrap();
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 t ESMTP\r\n").await.unwrap();
        let (mut bodies, mut body, mut line) = (Vec::new(), None::<Vec<u8>>, Vec::new());
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line).await.unwrap() == 0 {
                return bodies;
            }
            if let Some(b) = body.as_mut() {
                b.extend_from_slice(&line);
                if line == b".\r\n" {
                    bodies.push(body.take().unwrap());
                    w.write_all(b"250 ok\r\n").await.unwrap();
                }
                continue;
            }
            let reply: &[u8] = match &line[..4] {
                b"EHLO" => b"250-t\r\n250 PIPELINING\r\n",
                b"DATA" => {
                    body = Some(Vec::new());
                    b"354 go\r\n"
                }
                b"QUIT" => b"221 bye\r\n",
                _ => b"250 ok\r\n",
            };
            w.write_all(reply).await.unwrap();
        }
    }

    /// Two chained 20 MiB messages arrive whole and stuffed, while the connection's
    /// own buffer stays within one filler block (issue 18 §5: memory does not grow with
    /// the message size).
    #[tokio::test]
    async fn large_bodies_arrive_whole_from_a_small_buffer() {
        use std::time::Duration;

        use super::super::client::Timeouts;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(server(listener));
        let t = Duration::from_secs(20);
        let mut conn = Connection::open(addr, "c", Timeouts::uniform(t, t))
            .await
            .unwrap();
        assert!(conn.pipelining);
        let rcpts = ["a@b.test".to_string()];
        let lines = (20 << 20) / FILLER_LINE.len();
        let bodies = [
            Body {
                head: b".head\r\n\r\n",
                filler_lines: lines,
                tail: b".tail",
            },
            Body {
                head: b"h\r\n\r\n",
                filler_lines: lines + 1,
                tail: b"",
            },
        ];
        let mut outcomes = Vec::new();
        for body in bodies {
            let (previous, _) = conn.chain("f@b.test", &rcpts, body, &mut ()).await;
            outcomes.extend(previous);
            assert!(
                conn.wbuf.capacity() <= 2 * filler_block().len(),
                "{}",
                conn.wbuf.capacity()
            );
        }
        outcomes.extend(conn.finish(&mut ()).await);
        assert!(outcomes.iter().all(TxOutcome::accepted), "{outcomes:?}");
        assert!(
            conn.wbuf.capacity() <= 2 * filler_block().len(),
            "{}",
            conn.wbuf.capacity()
        );
        conn.quit().await;
        let got = tokio::time::timeout(t, served).await.unwrap().unwrap();
        assert_eq!(got.len(), 2);
        for (body, got) in bodies.iter().zip(got) {
            let mut want = Vec::new();
            super::super::dot::stuff_into(&body.to_vec(), &mut want);
            assert!(got == want, "body of {} bytes differs", body.len());
        }
    }
}
