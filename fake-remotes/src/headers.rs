//! Reads the few header fields mailquake needs from a message, without parsing MIME: the
//! tracking id (`X-Mailquake-Id`) and the relaying hosts (`by` of each `Received:`).
//!
//! Only the header section is scanned (it ends at the first empty line), field names are
//! case-insensitive, and folded fields (continuation lines starting with space or tab)
//! are read as one. Nothing of the body is copied.

use memchr::memchr;

/// What the headers tell about a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderFacts {
    /// The first `X-Mailquake-Id` value, unfolded and trimmed.
    pub tracking: Option<String>,
    /// The host after `by` in each `Received:` field, in header order (newest first).
    pub received_by: Vec<String>,
}

/// Scans the header section of `message`.
pub fn scan(message: &[u8]) -> HeaderFacts {
    let mut facts = HeaderFacts::default();
    for (name, value) in Fields::new(message) {
        if name.eq_ignore_ascii_case(b"x-mailquake-id") {
            if facts.tracking.is_none() {
                facts.tracking = Some(unfold(value)).filter(|v| !v.is_empty());
            }
        } else if name.eq_ignore_ascii_case(b"received") {
            if let Some(host) = received_by(value) {
                facts.received_by.push(host);
            }
        }
    }
    facts
}

/// The header fields as (name, raw value): the value runs from after the colon to the end
/// of the field's last continuation line, line breaks included.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(message: &'a [u8]) -> Self {
        Fields { rest: message }
    }

    /// The next line without its line break, and the input after it.
    fn split_line(input: &[u8]) -> (&[u8], &[u8]) {
        let (line, rest) = match memchr(b'\n', input) {
            Some(at) => (&input[..at], &input[at + 1..]),
            None => (input, &input[input.len()..]),
        };
        (line.strip_suffix(b"\r").unwrap_or(line), rest)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.rest;
        let (line, mut rest) = Self::split_line(start);
        // An empty line ends the headers; a line without a colon is not a header (a
        // message without headers): stop either way.
        let colon = memchr(b':', line)?;
        if line.is_empty() || line[0] == b' ' || line[0] == b'\t' {
            return None;
        }
        let mut end = line.len();
        // Absorb continuation lines.
        loop {
            if !matches!(rest.first(), Some(b' ' | b'\t')) {
                break;
            }
            let (cont, after) = Self::split_line(rest);
            end = (start.len() - rest.len()) + cont.len();
            rest = after;
        }
        self.rest = rest;
        let name = trim(&line[..colon]);
        Some((name, &start[colon + 1..end]))
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// A folded value as one line: runs of whitespace (line breaks included) become one space.
fn unfold(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    text.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The host after the `by` keyword of a `Received:` value, skipping comments in
/// parentheses (they may contain the word "by") and stopping at the `;` before the date.
fn received_by(value: &[u8]) -> Option<String> {
    let mut words = Words { rest: value };
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case(b"by") {
            let host = words.next()?;
            return Some(String::from_utf8_lossy(host).into_owned());
        }
    }
    None
}

/// Words of a structured header value outside comments, up to the first `;`.
struct Words<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let mut depth = 0usize;
        let mut i = 0;
        // Skip whitespace and comments.
        while i < self.rest.len() {
            match self.rest[i] {
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                b'\\' if depth > 0 => i += 1,
                b';' if depth == 0 => {
                    self.rest = &[];
                    return None;
                }
                b if depth == 0 && !b.is_ascii_whitespace() => break,
                _ => {}
            }
            i += 1;
        }
        let start = i.min(self.rest.len());
        let len = self.rest[start..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b'(' || b == b';')
            .unwrap_or(self.rest.len() - start);
        let word = &self.rest[start..start + len];
        self.rest = &self.rest[start + len..];
        (!word.is_empty()).then_some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(tracking: Option<&str>, by: &[&str]) -> HeaderFacts {
        HeaderFacts {
            tracking: tracking.map(str::to_string),
            received_by: by.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn scans_tracking_and_received_hosts() {
        let table: [(&str, HeaderFacts); 8] = [
            (
                "Received: from a (a [127.0.0.1]) by n2.test (Postfix) with ESMTP id A; Mon\r\n\
                 Received: from g by n1.test with ESMTP; Mon\r\n\
                 X-Mailquake-Id: r1.42\r\n\r\nbody\r\n",
                facts(Some("r1.42"), &["n2.test", "n1.test"]),
            ),
            // folded over several lines, tab and space continuations
            (
                "Received: from client.example (client.example\r\n\t[127.0.0.1])\r\n\
                 \tby node3.cluster.test (Postfix) with ESMTP id X\r\n\
                 \x20for <mq.1.0@ok.test>; Tue, 1 Jan 2030 00:00:00 +0000\r\n\
                 x-mailquake-id:\r\n r9.7\r\n\r\n",
                facts(Some("r9.7"), &["node3.cluster.test"]),
            ),
            // case-insensitive names and keyword; `by` inside a comment is not the keyword
            (
                "RECEIVED: from x (sent by nobody) BY real.test; date\r\nX-MAILQUAKE-ID: t\r\n\r\n",
                facts(Some("t"), &["real.test"]),
            ),
            // only headers are scanned: a header-like line in the body is ignored
            (
                "Subject: hi\r\n\r\nX-Mailquake-Id: fake\r\nReceived: by body.test\r\n",
                facts(None, &[]),
            ),
            // no `by` part; the first tracking id wins
            (
                "Received: from a; date\r\nX-Mailquake-Id: one\r\nX-Mailquake-Id: two\r\n\r\n",
                facts(Some("one"), &[]),
            ),
            // bare LF line ends, no body
            (
                "X-Mailquake-Id: lf\nReceived: from a by b.test\n",
                facts(Some("lf"), &["b.test"]),
            ),
            // a message without headers
            ("hello world\r\nX-Mailquake-Id: no\r\n", facts(None, &[])),
            ("", facts(None, &[])),
        ];
        for (message, want) in table {
            assert_eq!(scan(message.as_bytes()), want, "{message:?}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = scan(&input);
        }

        #[test]
        fn header_like_bytes_never_panic(input in "[A-Za-z:;() \\\\\r\n\t.]{0,200}") {
            let _ = scan(input.as_bytes());
        }
    }
}
