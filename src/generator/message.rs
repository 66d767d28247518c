//! The message factory: envelopes and bodies carrying the tracking id (DESIGN §3).
//!
//! Message `seq` of run `R` has header `X-Mailquake-Id: R.seq`, recipients
//! `mq.<seq>.<n>@<domain>` (so a remote can attribute even attempts it rejects before
//! DATA) and the VERP sender `mq.<seq>@bounces.test` (so a bounce finds its message).

use std::fmt::Write;

use crate::scenario::{SizeSpec, BOUNCE_DOMAIN};
use crate::smtp::body::{Body, FILLER_LINE};

// Kept here for callers that still name them by the generator (they live in the leaf).
pub use crate::tracking::{
    canary_address, is_canary, parse_rcpt, parse_tracking, parse_verp, CANARY_PREFIX,
};

/// Envelope and body of one generated message. Sessions keep one and rebuild it in
/// place for each message, so the hot path does not allocate. The body is the
/// per-message head (headers with the tracking id), whole lines of the shared filler
/// and a short tail: its size costs no memory (`smtp::body`), so sessions × size does
/// not grow the process.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub from: String,
    pub rcpts: Vec<String>,
    pub head: Vec<u8>,
    pub filler_lines: usize,
    pub tail: Vec<u8>,
}

impl Message {
    /// The body as a transaction sends it.
    pub fn body(&self) -> Body<'_> {
        Body {
            head: &self.head,
            filler_lines: self.filler_lines,
            tail: &self.tail,
        }
    }
}

/// Builds message `seq` to `rcpts` recipients at `domain`, about `size` bytes long.
pub fn build(run_id: &str, seq: u64, domain: &str, rcpts: u8, size: usize) -> Message {
    let mut m = Message::default();
    build_into(&mut m, run_id, seq, domain, rcpts, size);
    m
}

/// [`build`] into an existing message, reusing its buffers.
pub fn build_into(m: &mut Message, run_id: &str, seq: u64, domain: &str, rcpts: u8, size: usize) {
    m.from.clear();
    let _ = write!(m.from, "mq.{seq}@{BOUNCE_DOMAIN}");
    let n = rcpts.max(1) as usize;
    m.rcpts.resize_with(n, String::new);
    for (i, rcpt) in m.rcpts.iter_mut().enumerate() {
        rcpt.clear();
        let _ = write!(rcpt, "mq.{seq}.{i}@{domain}");
    }
    m.head.clear();
    let _ = std::io::Write::write_fmt(
        &mut m.head,
        format_args!(
            "From: mailquake <{}>\r\nTo: {}\r\nSubject: mailquake {run_id}.{seq}\r\n\
             Message-ID: <{run_id}.{seq}@mailquake.test>\r\nX-Mailquake-Id: {run_id}.{seq}\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
            m.from, m.rcpts[0]
        ),
    );
    fill(m, size);
}

/// Pads with 79-byte filler lines up to `size` bytes (at least one short line): whole
/// lines counted, the last one cut to fit in the tail.
fn fill(m: &mut Message, size: usize) {
    let line = FILLER_LINE.len();
    m.filler_lines = size.saturating_sub(m.head.len()) / line;
    m.tail.clear();
    let room = size.saturating_sub(m.head.len() + m.filler_lines * line);
    if room >= 8 {
        m.tail.extend_from_slice(&FILLER_LINE[..room - 2]);
        m.tail.extend_from_slice(b"\r\n");
    }
    let bare_head = m.filler_lines == 0 && m.tail.is_empty();
    if !bare_head && m.body().len() < size.max(1) {
        m.tail.extend_from_slice(b"\r\n");
    }
}

/// Draws message sizes from a [`SizeSpec`] with the scenario seed.
pub struct Sizes {
    spec: SizeSpec,
    /// Cumulative weights for [`SizeSpec::Weighted`].
    cumulative: Vec<u64>,
    rng: fastrand::Rng,
}

impl Sizes {
    pub fn new(spec: &SizeSpec, seed: u64) -> Self {
        let mut acc = 0u64;
        let cumulative = match spec {
            SizeSpec::Weighted(list) => list
                .iter()
                .map(|(_, w)| {
                    acc += u64::from(*w);
                    acc
                })
                .collect(),
            _ => Vec::new(),
        };
        Sizes {
            spec: spec.clone(),
            cumulative,
            rng: fastrand::Rng::with_seed(seed ^ 0x5A5A_0000_0000_0001),
        }
    }

    /// The next message's size in bytes.
    pub fn pick(&mut self) -> usize {
        match &self.spec {
            SizeSpec::Fixed(s) => *s,
            SizeSpec::Uniform { min, max } => self.rng.usize(*min..=*max),
            SizeSpec::Weighted(list) => {
                let total = self.cumulative.last().copied().unwrap_or(1).max(1);
                let x = self.rng.u64(0..total);
                let i = self.cumulative.partition_point(|c| *c <= x);
                list.get(i).or(list.last()).map_or(0, |(s, _)| *s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_tracked_messages_of_the_asked_size() {
        for size in [0usize, 100, 4096, 100_000] {
            let m = build("r1", 42, "ok.test", 2, size);
            assert_eq!(m.from, "mq.42@bounces.test");
            assert_eq!(m.rcpts, ["mq.42.0@ok.test", "mq.42.1@ok.test"]);
            let text = String::from_utf8(m.body().to_vec()).unwrap();
            assert!(text.contains("\r\nX-Mailquake-Id: r1.42\r\n"));
            assert!(!text.contains("\n."), "no line starts with a dot");
            if size > 1000 {
                let len = m.body().len();
                assert!(len.abs_diff(size) < 80, "{len} vs {size}");
            }
        }
    }

    /// A message's own memory does not grow with its size: the filler is shared
    /// (`smtp::body`), only the head and a short tail are the message's (issue 18 §5).
    #[test]
    fn a_large_message_holds_no_copy_of_its_body() {
        let mut m = build("r1", 7, "ok.test", 1, 100);
        for size in [20 << 20, 1 << 20, 20 << 20] {
            build_into(&mut m, "r1", 7, "ok.test", 1, size);
            let len = m.body().len();
            assert!(len.abs_diff(size) < 80, "{len} vs {size}");
            let own = m.head.capacity() + m.tail.capacity();
            assert!(own < 4096, "{own} bytes held for a {size}-byte message");
        }
    }

    /// The body is byte for byte the one the generator always sent: headers, then
    /// 79-byte lines to the size, the last one cut, at least one short line.
    #[test]
    fn body_bytes_are_unchanged() {
        fn reference(head: &[u8], size: usize) -> Vec<u8> {
            let mut body = head.to_vec();
            while size.saturating_sub(body.len()) >= FILLER_LINE.len() {
                body.extend_from_slice(FILLER_LINE);
            }
            let room = size.saturating_sub(body.len());
            if room >= 8 {
                body.extend_from_slice(&FILLER_LINE[..room - 2]);
                body.extend_from_slice(b"\r\n");
            }
            if !body.ends_with(b"\r\n\r\n") && body.len() < size.max(1) {
                body.extend_from_slice(b"\r\n");
            }
            body
        }
        let head_len = build("r1", 3, "a.test", 1, 0).head.len();
        let mut sizes = vec![0, 1, 100, 4096, 100_000];
        sizes.extend((head_len - 2..head_len + 2 * 79 + 12).step_by(1));
        for size in sizes {
            let m = build("r1", 3, "a.test", 1, size);
            assert_eq!(m.body().to_vec(), reference(&m.head, size), "size {size}");
        }
    }

    #[test]
    fn reuses_buffers_and_draws_sizes() {
        let mut m = build("r1", 1, "a.test", 3, 5000);
        build_into(&mut m, "r1", 2, "b.test", 1, 100);
        assert_eq!(m.rcpts, ["mq.2.0@b.test"]);
        assert_eq!(m, build("r1", 2, "b.test", 1, 100));

        let mut fixed = Sizes::new(&SizeSpec::Fixed(10), 1);
        assert!((0..10).all(|_| fixed.pick() == 10));
        let mut uniform = Sizes::new(&SizeSpec::Uniform { min: 100, max: 200 }, 1);
        let drawn: Vec<usize> = (0..1000).map(|_| uniform.pick()).collect();
        assert!(drawn.iter().all(|s| (100..=200).contains(s)));
        assert!(drawn.iter().any(|s| *s < 120) && drawn.iter().any(|s| *s > 180));
        let mut weighted = Sizes::new(&SizeSpec::Weighted(vec![(1, 9), (1000, 1)]), 1);
        let big = (0..10_000).filter(|_| weighted.pick() == 1000).count();
        assert!((800..1200).contains(&big), "{big}");
    }
}
