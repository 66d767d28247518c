//! Reading SMTP replies (single- and multi-line) from a buffered stream with
//! smtp-proto's `ResponseReceiver`.

use std::fmt;

use smtp_proto::response::parser::ResponseReceiver;

/// One complete reply, as our client read it from a server (the fake remotes' own
/// reply, the one they send, is `fake_remotes::RemoteReply`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedReply {
    pub code: u16,
    /// Text of all lines (joined with `\n`), without codes; enhanced status code kept apart.
    pub text: String,
    /// Enhanced status code, e.g. [4, 7, 1]; zeros if none.
    pub esc: [u8; 3],
}

impl ReceivedReply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }
    /// The first word of the first line (a server's host name in a banner).
    pub fn first_word(&self) -> &str {
        self.text.split_whitespace().next().unwrap_or("")
    }
    /// Each line of a multi-line reply (EHLO keywords).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines()
    }
}

impl fmt::Display for ReceivedReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if self.esc != [0, 0, 0] {
            write!(f, " {}.{}.{}", self.esc[0], self.esc[1], self.esc[2])?;
        }
        let first = self.text.lines().next().unwrap_or("");
        if !first.is_empty() {
            write!(f, " {first}")?;
        }
        Ok(())
    }
}

/// Parses replies out of bytes as they arrive.
#[derive(Default)]
pub struct ReplyParser {
    receiver: ResponseReceiver,
}

/// What one parse step gave.
pub enum Parsed {
    /// A reply, and how many bytes of the input it used.
    Reply(ReceivedReply, usize),
    /// All input used; more is needed.
    NeedMore,
    /// The peer does not speak SMTP.
    Garbage(String),
}

impl ReplyParser {
    /// Feeds `input`; the parser keeps partial state between calls.
    pub fn parse(&mut self, input: &[u8]) -> Parsed {
        let mut iter = input.iter();
        let result = self.receiver.parse(&mut iter);
        let used = input.len() - iter.as_slice().len();
        match result {
            Ok(r) => {
                self.receiver.reset();
                Parsed::Reply(
                    ReceivedReply {
                        code: r.code,
                        text: r.message,
                        esc: r.esc,
                    },
                    used,
                )
            }
            Err(smtp_proto::Error::NeedsMoreData { .. }) => Parsed::NeedMore,
            Err(e) => {
                self.receiver.reset();
                Parsed::Garbage(format!("{e:?}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<ReceivedReply> {
        let mut p = ReplyParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            let mut rest = *chunk;
            loop {
                match p.parse(rest) {
                    Parsed::Reply(r, used) => {
                        out.push(r);
                        rest = &rest[used..];
                        if rest.is_empty() {
                            break;
                        }
                    }
                    Parsed::NeedMore => break,
                    Parsed::Garbage(e) => panic!("{e}"),
                }
            }
        }
        out
    }

    #[test]
    fn single_multi_and_split_replies() {
        let r = parse_all(&[b"220 n1 ESMTP hi\r\n"]);
        assert_eq!((r[0].code, r[0].first_word()), (220, "n1"));

        let r = parse_all(&[b"250-n1\r\n250-PIPELINING\r\n250 SIZE 10\r\n"]);
        assert_eq!(r.len(), 1);
        assert!(r[0].lines().any(|l| l == "PIPELINING"));

        let r = parse_all(&[b"45", b"1 4.7.1 try ", b"later\r\n250 ok\r\n"]);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].code, r[0].esc), (451, [4, 7, 1]));
        assert_eq!(r[0].to_string(), "451 4.7.1 try later");
        assert_eq!(r[1].code, 250);
    }
}
