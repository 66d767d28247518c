//! The message factory: envelopes and bodies carrying the tracking id (DESIGN §3).
//!
//! Message `seq` of run `R` has header `X-Mailquake-Id: R.seq`, recipients
//! `mq.<seq>.<n>@<domain>` (so a remote can attribute even attempts it rejects before
//! DATA) and the VERP sender `mq.<seq>@bounces.test` (so a bounce finds its message).

use std::fmt::Write;

use crate::scenario::BOUNCE_DOMAIN;

/// Envelope and body of one generated message.
pub struct Message {
    pub from: String,
    pub rcpts: Vec<String>,
    pub body: Vec<u8>,
}

/// Builds message `seq` to `rcpts` recipients at `domain`, about `size` bytes long.
pub fn build(run_id: &str, seq: u64, domain: &str, rcpts: u8, size: usize) -> Message {
    let from = format!("mq.{seq}@{BOUNCE_DOMAIN}");
    let rcpts: Vec<String> = (0..rcpts.max(1))
        .map(|n| format!("mq.{seq}.{n}@{domain}"))
        .collect();
    let mut head = String::with_capacity(512);
    let _ = write!(
        head,
        "From: mailquake <{from}>\r\nTo: {}\r\nSubject: mailquake {run_id}.{seq}\r\n\
         Message-ID: <{run_id}.{seq}@mailquake.test>\r\nX-Mailquake-Id: {run_id}.{seq}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
        rcpts[0]
    );
    let mut body = Vec::with_capacity(size.max(head.len()) + 80);
    body.extend_from_slice(head.as_bytes());
    fill(&mut body, size);
    Message { from, rcpts, body }
}

/// Pads with 76-character lines up to `size` bytes (at least one short line).
fn fill(body: &mut Vec<u8>, size: usize) {
    const LINE: &[u8] =
        b"The quick brown fox jumps over the lazy dog. 0123456789 mailquake filler.....\r\n";
    loop {
        let room = size.saturating_sub(body.len());
        if room < 8 {
            break;
        }
        let take = room.min(LINE.len());
        body.extend_from_slice(&LINE[..take - 2]);
        body.extend_from_slice(b"\r\n");
    }
    if !body.ends_with(b"\r\n\r\n") && body.len() < size.max(1) {
        body.extend_from_slice(b"\r\n");
    }
}

/// Parses a tracking recipient `mq.<seq>.<n>@…` into (seq, n).
pub fn parse_rcpt(rcpt: &str) -> Option<(u64, u8)> {
    let local = rcpt.split('@').next()?;
    let mut parts = local.strip_prefix("mq.")?.split('.');
    let seq = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((seq, n))
}

/// Parses a VERP sender `mq.<seq>@…` into seq.
pub fn parse_verp(addr: &str) -> Option<u64> {
    let local = addr.split('@').next()?;
    local.strip_prefix("mq.")?.parse().ok()
}

/// Parses a tracking id `<run>.<seq>` into (run, seq).
pub fn parse_tracking(id: &str) -> Option<(&str, u64)> {
    let (run, seq) = id.trim().rsplit_once('.')?;
    Some((run, seq.parse().ok()?))
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
            let text = String::from_utf8(m.body.clone()).unwrap();
            assert!(text.contains("\r\nX-Mailquake-Id: r1.42\r\n"));
            assert!(!text.contains("\n."), "no line starts with a dot");
            if size > 1000 {
                assert!(
                    m.body.len().abs_diff(size) < 80,
                    "{} vs {size}",
                    m.body.len()
                );
            }
        }
    }

    #[test]
    fn parses_tracking_addresses() {
        let table = [
            ("mq.7.0@ok.test", Some((7, 0))),
            ("mq.123.63@x", Some((123, 63))),
            ("mq.7@ok.test", None),
            ("someone@ok.test", None),
            ("mq.x.1@ok.test", None),
        ];
        for (rcpt, want) in table {
            assert_eq!(parse_rcpt(rcpt), want, "{rcpt}");
        }
        assert_eq!(parse_verp("mq.9@bounces.test"), Some(9));
        assert_eq!(parse_verp("MAILER-DAEMON@x"), None);
        assert_eq!(parse_tracking("ab12.77"), Some(("ab12", 77)));
        assert_eq!(parse_tracking("junk"), None);
    }
}
