//! Dot-stuffing for DATA (RFC 5321 §4.5.2): a line that starts with `.` gets one more.
//! [`Stuffer`] works on a body given in parts (a line may span two parts).

/// Appends `body` to `out` dot-stuffed, with CRLF line ends, followed by the final
/// `.` line. A body without a trailing line break gets one.
pub fn stuff_into(body: &[u8], out: &mut Vec<u8>) {
    let mut s = Stuffer::default();
    s.push(body, out);
    s.finish(out);
}

/// Dot-stuffs a body part by part into `out`, remembering where the last part ended.
#[derive(Clone, Copy, Debug)]
pub struct Stuffer {
    at_line_start: bool,
    /// The body's last two bytes so far.
    last: [u8; 2],
    empty: bool,
}

impl Default for Stuffer {
    fn default() -> Self {
        Stuffer {
            at_line_start: true,
            last: [0; 2],
            empty: true,
        }
    }
}

impl Stuffer {
    /// Appends `part` stuffed.
    pub fn push(&mut self, part: &[u8], out: &mut Vec<u8>) {
        if part.is_empty() {
            return;
        }
        out.reserve(part.len() + part.len() / 64 + 5);
        // Line by line: one copy per line rather than one push per byte (this is the
        // generator's hottest loop).
        for line in part.split_inclusive(|&b| b == b'\n') {
            if self.at_line_start && line[0] == b'.' {
                out.push(b'.');
            }
            out.extend_from_slice(line);
            self.at_line_start = line.ends_with(b"\n");
        }
        self.note(part);
    }

    /// Records that `part` was written elsewhere unstuffed: it must need no stuffing
    /// wherever it starts (no line of it begins with `.`) and end with CRLF.
    pub fn skip_clean(&mut self, part: &[u8]) {
        debug_assert!(
            part.ends_with(b"\r\n")
                && !part.starts_with(b".")
                && !part.windows(2).any(|w| w == b"\n.")
        );
        if !part.is_empty() {
            self.at_line_start = true;
            self.note(part);
        }
    }

    fn note(&mut self, part: &[u8]) {
        self.empty = false;
        self.last = match part {
            [.., a, b] => [*a, *b],
            [b] => [self.last[1], *b],
            [] => self.last,
        };
    }

    /// Ends the body: a line break if it lacks one (a bare LF becomes CRLF), then `.`.
    /// The body's last byte must be the last byte of `out` when it is a bare LF.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !self.empty && self.last != *b"\r\n" {
            if self.last[1] == b'\n' {
                out.pop();
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffs_leading_dots_and_terminates() {
        let table: [(&[u8], &[u8]); 6] = [
            (b"", b".\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"x\r\n.hidden\r\n", b"x\r\n..hidden\r\n.\r\n"),
            (b"no newline", b"no newline\r\n.\r\n"),
            (b"a.b\r\n..\r\n", b"a.b\r\n...\r\n.\r\n"),
        ];
        for (body, want) in table {
            let mut out = Vec::new();
            stuff_into(body, &mut out);
            assert_eq!(out, want, "{:?}", String::from_utf8_lossy(body));
        }
    }

    /// Any split of a body into parts stuffs as the whole body does.
    #[test]
    fn parts_stuff_as_the_whole() {
        let bodies: [&[u8]; 6] = [
            b"x\r\n.hidden\r\n..\r\n",
            b".a\r\nb.\r\n.",
            b"tail\n",
            b"a\r\n\r\n.\r\n",
            b"\n.\n.",
            b"a\r",
        ];
        for body in bodies {
            let mut whole = Vec::new();
            stuff_into(body, &mut whole);
            for i in 0..=body.len() {
                for j in i..=body.len() {
                    let mut out = Vec::new();
                    let mut s = Stuffer::default();
                    for part in [&body[..i], &body[i..j], &body[j..]] {
                        s.push(part, &mut out);
                    }
                    s.finish(&mut out);
                    assert_eq!(out, whole, "{:?} at {i},{j}", String::from_utf8_lossy(body));
                }
            }
        }
    }

    #[test]
    fn skipped_clean_parts_keep_the_state() {
        let clean = b"Filler line\r\n";
        let mut out = Vec::new();
        let mut s = Stuffer::default();
        s.push(b"head", &mut out);
        s.skip_clean(clean);
        out.extend_from_slice(clean);
        s.push(b".dot\n", &mut out);
        s.finish(&mut out);
        let mut whole = Vec::new();
        stuff_into(b"headFiller line\r\n.dot\n", &mut whole);
        assert_eq!(out, whole);
    }
}
