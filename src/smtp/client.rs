//! One SMTP client connection: connect, banner, EHLO, then transactions (pipelined when
//! the server offers PIPELINING), then QUIT. Every wait has a timeout; every outcome —
//! a reply, a refused connect, a timeout, a close — comes back as data.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::dot;
use super::reply::{Parsed, Reply, ReplyParser};

/// The stages of a session, for attributing failures (and, later, timings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Connect,
    Banner,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Dot,
    Quit,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Banner => "banner",
            Phase::Ehlo => "ehlo",
            Phase::Mail => "mail",
            Phase::Rcpt => "rcpt",
            Phase::Data => "data",
            Phase::Dot => "dot",
            Phase::Quit => "quit",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Wait for the banner and each command reply.
    pub reply: Duration,
    /// Wait for the reply to the final dot.
    pub dot: Duration,
}

impl Timeouts {
    pub fn uniform(connect: Duration, reply: Duration) -> Self {
        Timeouts {
            connect,
            reply,
            dot: reply,
        }
    }
}

/// Why a session or transaction ended without a usable reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// connect(): nothing listens.
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// The peer closed (or reset) the connection.
    Closed,
    /// The peer answered something that is not SMTP.
    Garbage(String),
    /// Another I/O error.
    Io(String),
    /// A negative reply where the session could not go on (banner, EHLO).
    Reply(Reply),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub phase: Phase,
    pub kind: FailureKind,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = self.phase.as_str();
        match &self.kind {
            FailureKind::Refused => write!(f, "{phase}: connection refused"),
            FailureKind::Timeout => write!(f, "{phase}: timed out"),
            FailureKind::Closed => write!(f, "{phase}: connection closed"),
            FailureKind::Garbage(e) => write!(f, "{phase}: not SMTP ({e})"),
            FailureKind::Io(e) => write!(f, "{phase}: {e}"),
            FailureKind::Reply(r) => write!(f, "{phase}: {r}"),
        }
    }
}

/// How one transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// The reply to each RCPT, in order (fewer if the transaction ended earlier).
    pub rcpt_replies: Vec<Reply>,
    /// The reply that decided the transaction: the dot's reply when it got that far,
    /// else the negative MAIL/RCPT/DATA reply; or a failure without reply.
    pub result: Result<(Phase, Reply), Failure>,
}

impl TxOutcome {
    /// The message was taken (2xx to the final dot).
    pub fn accepted(&self) -> bool {
        matches!(&self.result, Ok((Phase::Dot, r)) if r.is_positive())
    }
}

/// An open SMTP session after a successful EHLO (or HELO).
pub struct Connection {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rpos: usize,
    parser: ReplyParser,
    wbuf: Vec<u8>,
    timeouts: Timeouts,
    pub peer: SocketAddr,
    pub banner: Reply,
    pub pipelining: bool,
    /// False once the session is in an unknown state (a failure, a 421): do not reuse.
    pub usable: bool,
}

impl Connection {
    /// Connects, reads the banner, says EHLO (falls back to HELO).
    pub async fn open(
        addr: SocketAddr,
        helo: &str,
        timeouts: Timeouts,
    ) -> Result<Connection, Failure> {
        let fail = |phase, kind| Failure { phase, kind };
        let stream = match timeout(timeouts.connect, TcpStream::connect(addr)).await {
            Err(_) => return Err(fail(Phase::Connect, FailureKind::Timeout)),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(fail(Phase::Connect, FailureKind::Refused))
            }
            Ok(Err(e)) => return Err(fail(Phase::Connect, io_kind(&e))),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            stream,
            rbuf: Vec::with_capacity(4096),
            rpos: 0,
            parser: ReplyParser::default(),
            wbuf: Vec::with_capacity(8192),
            timeouts,
            peer: addr,
            banner: Reply {
                code: 0,
                text: String::new(),
                esc: [0; 3],
            },
            pipelining: false,
            usable: true,
        };
        let banner = conn
            .read_reply(timeouts.reply)
            .await
            .map_err(|k| fail(Phase::Banner, k))?;
        if banner.code != 220 {
            return Err(fail(Phase::Banner, FailureKind::Reply(banner)));
        }
        conn.banner = banner;
        conn.queue_command(format_args!("EHLO {helo}"));
        let ehlo = conn.exchange(Phase::Ehlo).await?;
        if ehlo.code == 250 {
            conn.pipelining = ehlo.lines().any(|l| l.eq_ignore_ascii_case("PIPELINING"));
        } else {
            conn.queue_command(format_args!("HELO {helo}"));
            let helo_reply = conn.exchange(Phase::Ehlo).await?;
            if helo_reply.code != 250 {
                return Err(fail(Phase::Ehlo, FailureKind::Reply(helo_reply)));
            }
        }
        Ok(conn)
    }

    /// The server's host name as it introduced itself in the banner.
    pub fn server_name(&self) -> &str {
        self.banner.first_word()
    }

    /// Sends one message. `body` is the message as it should arrive (it is dot-stuffed here).
    pub async fn send(&mut self, from: &str, rcpts: &[String], body: &[u8]) -> TxOutcome {
        let outcome = if self.pipelining {
            self.send_pipelined(from, rcpts, body).await
        } else {
            self.send_lockstep(from, rcpts, body).await
        };
        match &outcome.result {
            Err(_) => self.usable = false,
            Ok((_, r)) if r.code == 421 => self.usable = false,
            Ok((Phase::Dot, _)) => {}
            // The transaction ended early: reset it so the session can be reused.
            Ok(_) => {
                self.queue_command(format_args!("RSET"));
                if self.exchange(Phase::Mail).await.is_err() {
                    self.usable = false;
                }
            }
        }
        outcome
    }

    async fn send_lockstep(&mut self, from: &str, rcpts: &[String], body: &[u8]) -> TxOutcome {
        let mut rcpt_replies = Vec::with_capacity(rcpts.len());
        let result = async {
            self.queue_command(format_args!("MAIL FROM:<{from}>"));
            let mail = self.exchange(Phase::Mail).await?;
            if !mail.is_positive() {
                return Ok((Phase::Mail, mail));
            }
            let mut last = None;
            for rcpt in rcpts {
                self.queue_command(format_args!("RCPT TO:<{rcpt}>"));
                let r = self.exchange(Phase::Rcpt).await?;
                last = Some(r.clone());
                rcpt_replies.push(r);
            }
            if !rcpt_replies.iter().any(Reply::is_positive) {
                return Ok((Phase::Rcpt, last.unwrap_or_else(no_rcpt_reply)));
            }
            self.queue_command(format_args!("DATA"));
            let data = self.exchange(Phase::Data).await?;
            if data.code != 354 {
                return Ok((Phase::Data, data));
            }
            self.send_body(body).await
        }
        .await;
        TxOutcome {
            rcpt_replies,
            result,
        }
    }

    async fn send_pipelined(&mut self, from: &str, rcpts: &[String], body: &[u8]) -> TxOutcome {
        let mut rcpt_replies = Vec::with_capacity(rcpts.len());
        let result = async {
            self.queue_command(format_args!("MAIL FROM:<{from}>"));
            for rcpt in rcpts {
                self.queue_command(format_args!("RCPT TO:<{rcpt}>"));
            }
            self.queue_command(format_args!("DATA"));
            self.flush(Phase::Mail).await?;
            let mail = self.read(Phase::Mail).await?;
            for _ in rcpts {
                rcpt_replies.push(self.read(Phase::Rcpt).await?);
            }
            let data = self.read(Phase::Data).await?;
            let any_rcpt = rcpt_replies.iter().any(Reply::is_positive);
            if data.code == 354 && (!mail.is_positive() || !any_rcpt) {
                // A server that said 354 with nobody to deliver to: end the empty message.
                self.wbuf.extend_from_slice(b".\r\n");
                self.flush(Phase::Dot).await?;
                self.read(Phase::Dot).await?;
            }
            if !mail.is_positive() {
                return Ok((Phase::Mail, mail));
            }
            if !any_rcpt {
                return Ok((
                    Phase::Rcpt,
                    rcpt_replies.last().cloned().unwrap_or_else(no_rcpt_reply),
                ));
            }
            if data.code != 354 {
                return Ok((Phase::Data, data));
            }
            self.send_body(body).await
        }
        .await;
        TxOutcome {
            rcpt_replies,
            result,
        }
    }

    async fn send_body(&mut self, body: &[u8]) -> Result<(Phase, Reply), Failure> {
        dot::stuff_into(body, &mut self.wbuf);
        self.flush(Phase::Dot).await?;
        let reply = self
            .read_reply(self.timeouts.dot)
            .await
            .map_err(|kind| Failure {
                phase: Phase::Dot,
                kind,
            })?;
        Ok((Phase::Dot, reply))
    }

    /// Says QUIT and closes, waiting at most the reply timeout; errors are irrelevant here.
    pub async fn quit(mut self) {
        if self.usable {
            self.queue_command(format_args!("QUIT"));
            let _ = self.exchange(Phase::Quit).await;
        }
    }

    fn queue_command(&mut self, cmd: std::fmt::Arguments<'_>) {
        use std::io::Write;
        let _ = self.wbuf.write_fmt(cmd);
        self.wbuf.extend_from_slice(b"\r\n");
    }

    async fn exchange(&mut self, phase: Phase) -> Result<Reply, Failure> {
        self.flush(phase).await?;
        self.read(phase).await
    }

    async fn flush(&mut self, phase: Phase) -> Result<(), Failure> {
        let res = timeout(self.timeouts.reply, self.stream.write_all(&self.wbuf)).await;
        self.wbuf.clear();
        match res {
            Err(_) => Err(Failure {
                phase,
                kind: FailureKind::Timeout,
            }),
            Ok(Err(e)) => Err(Failure {
                phase,
                kind: io_kind(&e),
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn read(&mut self, phase: Phase) -> Result<Reply, Failure> {
        let reply = self
            .read_reply(self.timeouts.reply)
            .await
            .map_err(|kind| Failure { phase, kind })?;
        if reply.code == 421 {
            self.usable = false;
        }
        Ok(reply)
    }

    /// Reads one complete reply, waiting at most `limit` in all.
    async fn read_reply(&mut self, limit: Duration) -> Result<Reply, FailureKind> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.rpos < self.rbuf.len() {
                match self.parser.parse(&self.rbuf[self.rpos..]) {
                    Parsed::Reply(reply, used) => {
                        self.rpos += used;
                        return Ok(reply);
                    }
                    Parsed::NeedMore => {
                        self.rbuf.clear();
                        self.rpos = 0;
                    }
                    Parsed::Garbage(e) => {
                        self.usable = false;
                        return Err(FailureKind::Garbage(e));
                    }
                }
            } else {
                self.rbuf.clear();
                self.rpos = 0;
            }
            if self.rbuf.capacity() < 4096 {
                self.rbuf.reserve(4096);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await {
                Err(_) => {
                    self.usable = false;
                    return Err(FailureKind::Timeout);
                }
                Ok(Ok(0)) => {
                    self.usable = false;
                    return Err(FailureKind::Closed);
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    self.usable = false;
                    return Err(io_kind(&e));
                }
            }
        }
    }
}

fn no_rcpt_reply() -> Reply {
    Reply {
        code: 554,
        text: "no recipients".into(),
        esc: [5, 5, 1],
    }
}

fn io_kind(e: &io::Error) -> FailureKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => FailureKind::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => FailureKind::Closed,
        io::ErrorKind::TimedOut => FailureKind::Timeout,
        _ => FailureKind::Io(e.to_string()),
    }
}
