//! One SMTP command line → [`Command`], with smtp-proto's parser; and the fixed reply
//! lines of the session. Never panics, whatever the bytes: a line it cannot read is an
//! `Invalid` command carrying the error reply (protocol outcomes are data, not `Err`).

use smtp_proto::{Error, Request};

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, CRLF included.
pub(crate) const MAX_LINE: usize = 512;

/// A parsed command, owning only the strings the session keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Ehlo(String),
    Helo(String),
    /// `size`: the SIZE= parameter, 0 when absent.
    Mail {
        from: String,
        size: usize,
    },
    Rcpt(String),
    Data,
    Rset,
    Noop,
    Quit,
    Help,
    StartTls,
    /// `mechanism`: smtp-proto's `AUTH_*` bit; `initial`: the initial response, or empty.
    Auth {
        mechanism: u64,
        initial: String,
    },
    /// A known command this server does not offer (BDAT, VRFY, …).
    NotImplemented,
    /// The line was longer than [`MAX_LINE`].
    TooLong,
    /// Not a command.
    Unknown,
    /// A known command with bad syntax: the complete reply line to send.
    Invalid(&'static [u8]),
}

/// Parses one complete line (through its `\n`).
pub(crate) fn parse(line: &[u8]) -> Command {
    if line.len() > MAX_LINE {
        return Command::TooLong;
    }
    match Request::parse(&mut line.iter()) {
        Ok(request) => match request {
            Request::Ehlo { host } => Command::Ehlo(host.into_owned()),
            Request::Helo { host } => Command::Helo(host.into_owned()),
            Request::Mail { from } => Command::Mail {
                from: from.address.into_owned(),
                size: from.size,
            },
            Request::Rcpt { to } => Command::Rcpt(to.address.into_owned()),
            Request::Data => Command::Data,
            Request::Rset => Command::Rset,
            Request::Noop { .. } => Command::Noop,
            Request::Quit => Command::Quit,
            Request::Help { .. } => Command::Help,
            Request::StartTls => Command::StartTls,
            Request::Auth {
                mechanism,
                initial_response,
            } => Command::Auth {
                mechanism,
                initial: initial_response.into_owned(),
            },
            Request::Lhlo { .. }
            | Request::Bdat { .. }
            | Request::Vrfy { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => Command::NotImplemented,
        },
        Err(Error::UnknownCommand) => Command::Unknown,
        Err(Error::InvalidSenderAddress) => Command::Invalid(reply::BAD_SENDER),
        Err(Error::InvalidRecipientAddress) => Command::Invalid(reply::BAD_RCPT),
        Err(Error::InvalidParameter { .. }) | Err(Error::UnsupportedParameter { .. }) => {
            Command::Invalid(reply::BAD_PARAMETER)
        }
        Err(Error::SyntaxError { syntax }) => Command::Invalid(syntax_reply(syntax)),
        // Unreachable with a complete line; answered as a syntax error all the same.
        Err(_) => Command::Invalid(reply::SYNTAX),
    }
}

/// A syntax reply naming the expected form, for the commands this server offers.
fn syntax_reply(syntax: &str) -> &'static [u8] {
    match syntax.split(' ').next() {
        Some("MAIL") => b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
        Some("RCPT") => b"501 5.5.4 Syntax: RCPT TO:<address>\r\n",
        Some("EHLO") => b"501 5.5.4 Syntax: EHLO hostname\r\n",
        Some("HELO") => b"501 5.5.4 Syntax: HELO hostname\r\n",
        _ => reply::SYNTAX,
    }
}

/// Fixed reply lines, ready for the wire.
pub(crate) mod reply {
    pub const OK: &[u8] = b"250 2.0.0 Ok\r\n";
    pub const MAIL_OK: &[u8] = b"250 2.1.0 Ok\r\n";
    pub const RCPT_OK: &[u8] = b"250 2.1.5 Ok\r\n";
    /// A recipient in a domain this server is not an MX for (Postfix's wording).
    pub const RELAY_DENIED: &[u8] = b"550 5.7.1 relay access denied\r\n";
    pub const GO_AHEAD: &[u8] = b"354 End data with <CR><LF>.<CR><LF>\r\n";
    pub const BYE: &[u8] = b"221 2.0.0 Bye\r\n";
    pub const HELP: &[u8] = b"214 2.0.0 See RFC 5321\r\n";
    pub const NOT_IMPLEMENTED: &[u8] = b"502 5.5.1 Error: command not implemented\r\n";
    pub const UNKNOWN: &[u8] = b"500 5.5.2 Error: command not recognized\r\n";
    pub const TOO_LONG: &[u8] = b"500 5.5.2 Line too long\r\n";
    pub const SYNTAX: &[u8] = b"501 5.5.2 Syntax error\r\n";
    pub const BAD_SENDER: &[u8] = b"501 5.1.7 Bad sender address syntax\r\n";
    pub const BAD_RCPT: &[u8] = b"501 5.1.3 Bad recipient address syntax\r\n";
    pub const BAD_PARAMETER: &[u8] = b"555 5.5.4 Unsupported option\r\n";
    pub const NEED_HELO: &[u8] = b"503 5.5.1 Error: send HELO/EHLO first\r\n";
    pub const NESTED_MAIL: &[u8] = b"503 5.5.1 Error: nested MAIL command\r\n";
    pub const NEED_MAIL: &[u8] = b"503 5.5.1 Error: need MAIL command\r\n";
    pub const NO_RCPTS: &[u8] = b"554 5.5.1 Error: no valid recipients\r\n";
    pub const ONLY_QUIT: &[u8] = b"503 5.5.1 Error: only QUIT is accepted now\r\n";
    pub const TOO_MANY_RCPTS: &[u8] = b"452 4.5.3 Error: too many recipients\r\n";
    pub const TOO_BIG: &[u8] = b"552 5.3.4 Error: message too large\r\n";
    pub const READY_TLS: &[u8] = b"220 2.0.0 Ready to start TLS\r\n";
    pub const TLS_ACTIVE: &[u8] = b"503 5.5.1 Error: TLS already active\r\n";
    pub const IN_TRANSACTION: &[u8] = b"503 5.5.1 Error: MAIL transaction in progress\r\n";
    pub const NEED_AUTH: &[u8] = b"530 5.7.0 Authentication required\r\n";
    pub const ALREADY_AUTHENTICATED: &[u8] = b"503 5.5.1 Error: already authenticated\r\n";
    pub const UNKNOWN_MECHANISM: &[u8] = b"504 5.5.4 Unrecognized authentication type\r\n";
    pub const AUTH_OK: &[u8] = b"235 2.7.0 Authentication successful\r\n";
    pub const AUTH_FAILED: &[u8] = b"535 5.7.8 Error: authentication failed\r\n";
    pub const AUTH_CANCELLED: &[u8] = b"501 5.7.0 Authentication aborted\r\n";
    pub const AUTH_UNDECODABLE: &[u8] = b"501 5.5.2 Error: invalid authentication data\r\n";
    pub const IDLE: &[u8] = b"421 4.4.2 idle timeout\r\n";
    pub const SHUTDOWN: &[u8] = b"421 4.3.2 service shutting down\r\n";
}

/// The code of a fixed reply line (its first three digits).
pub(crate) fn code_of(line: &[u8]) -> u16 {
    line.iter()
        .take(3)
        .fold(0, |n, b| n * 10 + u16::from(b.wrapping_sub(b'0') % 10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_commands_a_client_sends() {
        let mail = |from: &str, size| Command::Mail {
            from: from.into(),
            size,
        };
        let table: Vec<(&[u8], Command)> = vec![
            (b"EHLO client.test\r\n", Command::Ehlo("client.test".into())),
            (b"ehlo client.test\r\n", Command::Ehlo("client.test".into())),
            (b"HELO h\r\n", Command::Helo("h".into())),
            (
                b"MAIL FROM:<mq.1@bounces.test>\r\n",
                mail("mq.1@bounces.test", 0),
            ),
            (b"MAIL FROM:<> SIZE=4096 BODY=8BITMIME\r\n", mail("", 4096)),
            (b"mail from: <a@b.test>\r\n", mail("a@b.test", 0)),
            (
                b"RCPT TO:<mq.1.0@ok.test>\r\n",
                Command::Rcpt("mq.1.0@ok.test".into()),
            ),
            (b"DATA\r\n", Command::Data),
            (b"RSET\r\n", Command::Rset),
            (b"NOOP\r\n", Command::Noop),
            (b"NOOP hello\r\n", Command::Noop),
            (b"QUIT\r\n", Command::Quit),
            (b"HELP\r\n", Command::Help),
            (b"STARTTLS\r\n", Command::StartTls),
            (
                b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
                Command::Auth {
                    mechanism: smtp_proto::AUTH_PLAIN,
                    initial: "AGFsaWNlAHNlY3JldA==".into(),
                },
            ),
            (
                b"auth login\r\n",
                Command::Auth {
                    mechanism: smtp_proto::AUTH_LOGIN,
                    initial: String::new(),
                },
            ),
            (b"BDAT 10 LAST\r\n", Command::NotImplemented),
            (b"VRFY postmaster\r\n", Command::NotImplemented),
            (b"FOO bar\r\n", Command::Unknown),
            (b"\r\n", Command::Unknown),
            (
                b"MAIL TO:<a@b>\r\n",
                Command::Invalid(b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
            ),
            (b"RCPT TO:<a@@b>\r\n", Command::Invalid(reply::BAD_RCPT)),
            (
                b"MAIL FROM:<a@b> FROB=1\r\n",
                Command::Invalid(reply::BAD_PARAMETER),
            ),
            (
                b"EHLO\r\n",
                Command::Invalid(b"501 5.5.4 Syntax: EHLO hostname\r\n"),
            ),
        ];
        for (line, want) in table {
            assert_eq!(parse(line), want, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn a_line_over_512_bytes_is_too_long() {
        let mut line = b"NOOP ".to_vec();
        line.resize(510, b'x');
        line.extend_from_slice(b"\r\n");
        assert_eq!(parse(&line), Command::Noop);
        line.insert(5, b'x');
        assert_eq!(parse(&line), Command::TooLong);
    }

    #[test]
    fn code_of_fixed_lines() {
        assert_eq!(code_of(reply::TOO_BIG), 552);
        assert_eq!(code_of(reply::GO_AHEAD), 354);
    }

    proptest! {
        #[test]
        fn any_line_never_panics(mut line in proptest::collection::vec(any::<u8>(), 0..600)) {
            line.push(b'\n');
            let _ = parse(&line);
        }

        #[test]
        fn command_like_lines_never_panic(
            verb in "(MAIL FROM:|RCPT TO:|EHLO |HELO |DATA|BDAT |AUTH |NOOP |ATRN |BURL )",
            rest in "[<>@.a-zA-Z0-9=:,\"\\\\ \r+-]{0,80}",
        ) {
            let _ = parse(format!("{verb}{rest}\r\n").as_bytes());
        }
    }
}
