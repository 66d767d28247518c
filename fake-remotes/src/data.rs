//! The DATA body receiver: finds the end of the body (`CRLF.CRLF`) in a stream of chunks
//! and dot-unstuffs it (RFC 5321 §4.5.2).
//!
//! Hand-written rather than smtp-proto's `DataReceiver`, which in 0.2.5 misses a body that
//! is only the final dot and does not unstuff a leading `..` on the first line. The body
//! starts at the beginning of a line (right after `DATA\r\n`), so the first line is
//! unstuffed like any other and `DATA\r\n.\r\n` is an empty body. Only CRLF ends a line:
//! a bare LF is body data and `LF.LF` does not end the body (no SMTP smuggling).
//! Runs of bytes between line ends are copied in bulk (memchr), never byte by byte.

use memchr::memchr;

/// Where in a line the receiver is, between chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart,
    /// Read a `.` at the start of a line.
    Dot,
    /// Read `.\r` at the start of a line.
    DotCr,
    /// Inside a line; the last byte was not `\r`.
    Mid,
    /// Inside a line; the last byte was `\r`.
    MidCr,
}

/// Receives one message body. Keeps at most `limit` bytes; counts the rest, so an
/// oversize message is still read to its end (then answered 552) without growing memory.
#[derive(Debug)]
pub(crate) struct DataReceiver {
    state: State,
    body: Vec<u8>,
    size: usize,
    limit: usize,
}

impl DataReceiver {
    /// `expected`: the size the client announced (MAIL FROM SIZE=), to allocate once.
    pub(crate) fn new(limit: usize, expected: usize) -> DataReceiver {
        DataReceiver {
            state: State::LineStart,
            body: Vec::with_capacity(expected.clamp(1024, limit.max(1024))),
            size: 0,
            limit,
        }
    }

    /// Feeds the next bytes from the client. Returns how many bytes the body used,
    /// through the final `.\r\n`, once the end is seen; `None` while more is needed (all
    /// of `input` was used).
    pub(crate) fn feed(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::LineStart => {
                    if input[i] == b'.' {
                        self.state = State::Dot;
                        i += 1;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Dot => {
                    if input[i] == b'\r' {
                        self.state = State::DotCr;
                        i += 1;
                    } else {
                        // A stuffed dot: dropped; the byte after it is ordinary data.
                        self.state = State::Mid;
                    }
                }
                State::DotCr => {
                    if input[i] == b'\n' {
                        self.state = State::LineStart;
                        return Some(i + 1);
                    }
                    // `.\r` then something else: the dot was stuffing, the CR is data.
                    self.push(b"\r");
                    self.state = State::MidCr;
                }
                State::Mid | State::MidCr => {
                    let rest = &input[i..];
                    match memchr(b'\n', rest) {
                        Some(at) => {
                            let crlf = if at > 0 {
                                rest[at - 1] == b'\r'
                            } else {
                                self.state == State::MidCr
                            };
                            self.push(&rest[..=at]);
                            self.state = if crlf { State::LineStart } else { State::Mid };
                            i += at + 1;
                        }
                        None => {
                            self.push(rest);
                            self.state = if rest.last() == Some(&b'\r') {
                                State::MidCr
                            } else {
                                State::Mid
                            };
                            i = input.len();
                        }
                    }
                }
            }
        }
        None
    }

    fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len();
        let room = self.limit.saturating_sub(self.body.len());
        self.body.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Body size after unstuffing, counting bytes beyond the limit.
    #[cfg(test)]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn oversize(&self) -> bool {
        self.size > self.limit
    }

    /// The body (for an oversize message, its first `limit` bytes: enough for headers).
    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` in chunks of `chunk` bytes; returns (body, bytes used) at the end.
    fn receive(input: &[u8], chunk: usize, limit: usize) -> Option<(Vec<u8>, usize, usize)> {
        let mut rx = DataReceiver::new(limit, 0);
        let mut offset = 0;
        for piece in input.chunks(chunk.max(1)) {
            if let Some(used) = rx.feed(piece) {
                let size = rx.size();
                return Some((rx.into_body(), offset + used, size));
            }
            offset += piece.len();
        }
        None
    }

    #[test]
    fn finds_the_end_and_unstuffs_in_any_chunking() {
        // input → (body, bytes used through the final dot), or None: no end yet
        type Case = (&'static [u8], Option<(&'static [u8], usize)>);
        let table: [Case; 10] = [
            // an empty body: only the final dot (smtp-proto 0.2.5 misses this)
            (b".\r\n", Some((b"", 3))),
            (b".\r\nMAIL FROM:<a@b>\r\n", Some((b"", 3))),
            // a leading `..` on the first line (smtp-proto 0.2.5 keeps both dots)
            (b"..hidden\r\n.\r\n", Some((b".hidden\r\n", 13))),
            (
                b"a\r\n..b\r\n...\r\n.\r\n",
                Some((b"a\r\n.b\r\n..\r\n", 16)),
            ),
            (
                b"Subject: x\r\n\r\nbody\r\n.\r\n",
                Some((b"Subject: x\r\n\r\nbody\r\n", 23)),
            ),
            // bare LF is data, `LF.LF` is not the end
            (b"a\n.\nb\r\n.\r\n", Some((b"a\n.\nb\r\n", 10))),
            // `.\r` followed by other data: the CR stays
            (b".\rx\r\n.\r\n", Some((b"\rx\r\n", 8))),
            (b"x.\r\n.\r\n", Some((b"x.\r\n", 7))),
            (b"no end\r\n", None),
            (b"a\r\n.", None),
        ];
        for (input, want) in table {
            for chunk in [1, 2, 3, 7, 4096] {
                let got = receive(input, chunk, 1 << 20).map(|(b, used, _)| (b, used));
                let want = want.map(|(b, used)| (b.to_vec(), used));
                assert_eq!(
                    got,
                    want,
                    "{:?} in chunks of {chunk}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[test]
    fn long_lines_are_fine_and_oversize_is_counted_not_kept() {
        let line = vec![b'x'; 5000];
        let mut input = line.clone();
        input.extend_from_slice(b"\r\n.\r\n");
        let (body, used, size) = receive(&input, 1000, 1 << 20).unwrap();
        assert_eq!((body.len(), used, size), (5002, 5005, 5002));

        let mut rx = DataReceiver::new(100, 0);
        assert_eq!(rx.feed(&input), Some(5005));
        assert!(rx.oversize());
        assert_eq!(rx.size(), 5002);
        assert_eq!(rx.into_body().len(), 100);
    }

    proptest! {
        #[test]
        fn any_bytes_any_chunking_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600), chunk in 1usize..64) {
            let _ = receive(&input, chunk, 256);
        }

        #[test]
        fn stuffing_round_trips(lines in proptest::collection::vec("[.a-z\r]{0,12}", 0..8)) {
            // What a client does: dot-stuff every line, end with CRLF.CRLF.
            let body: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\r\n").into_bytes()).collect();
            let mut wire = Vec::new();
            for l in &lines {
                if l.starts_with('.') { wire.push(b'.'); }
                wire.extend_from_slice(l.as_bytes());
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b".\r\n");
            let (got, used, _) = receive(&wire, 5, 1 << 20).expect("end found");
            prop_assert_eq!(got, body);
            prop_assert_eq!(used, wire.len());
        }
    }
}
