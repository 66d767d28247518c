//! One SMTP client connection: connect, banner, EHLO, STARTTLS and AUTH when asked,
//! then transactions (`transaction.rs`, pipelined when the server offers PIPELINING),
//! then QUIT. Every wait has a timeout; every outcome — a reply, a refused connect, a
//! timeout, a close — comes back as data, and each phase's duration and reply goes to
//! an [`Observer`].

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use super::auth::{self, Credentials, Mechanism};
use super::observe::Observer;
use super::reply::{Parsed, ReceivedReply, ReplyParser};
use super::tls::{self, Stream, TlsClient, TlsMode};

/// The stages of a session, for timings, reply tallies and failures. Each is timed from
/// its command being written (or, for replies that were pipelined, from the previous
/// reply, whichever is later) to its reply: the phases of one transaction add up to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// TCP connect().
    Connect,
    /// Connected → the 220 greeting.
    Banner,
    /// EHLO (or the HELO fallback), and the EHLO again after STARTTLS.
    Ehlo,
    /// STARTTLS → its 220 → the TLS handshake done.
    Starttls,
    /// The whole AUTH exchange.
    Auth,
    Mail,
    Rcpt,
    /// The DATA command → 354.
    Data,
    /// The body written → the reply to the final dot.
    Dot,
    Quit,
}

impl Phase {
    pub const ALL: [Phase; 10] = [
        Phase::Connect,
        Phase::Banner,
        Phase::Ehlo,
        Phase::Starttls,
        Phase::Auth,
        Phase::Mail,
        Phase::Rcpt,
        Phase::Data,
        Phase::Dot,
        Phase::Quit,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Banner => "banner",
            Phase::Ehlo => "ehlo",
            Phase::Starttls => "starttls",
            Phase::Auth => "auth",
            Phase::Mail => "mail",
            Phase::Rcpt => "rcpt",
            Phase::Data => "data",
            Phase::Dot => "dot",
            Phase::Quit => "quit",
        }
    }

    /// Position in [`Phase::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Wait for the banner and each command reply (and the TLS handshake).
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

/// How to open sessions: the EHLO name, timeouts, STARTTLS and AUTH.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub helo: String,
    pub timeouts: Timeouts,
    pub tls: TlsClient,
    pub auth: Option<Credentials>,
}

impl ClientOptions {
    /// Plain sessions without AUTH.
    pub fn plain(helo: &str, timeouts: Timeouts) -> Self {
        ClientOptions {
            helo: helo.to_owned(),
            timeouts,
            tls: TlsClient::default(),
            auth: None,
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
    /// The TLS handshake failed (bad certificate, protocol error…).
    Tls(String),
    /// The client needs an extension the server does not offer (`STARTTLS`, `AUTH`).
    NotOffered(&'static str),
    /// A negative reply where the session could not go on (banner, EHLO, STARTTLS, AUTH).
    Reply(ReceivedReply),
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
            FailureKind::Tls(e) => write!(f, "{phase}: TLS handshake failed ({e})"),
            FailureKind::NotOffered(ext) => write!(f, "{phase}: the server does not offer {ext}"),
            FailureKind::Reply(r) => write!(f, "{phase}: {r}"),
        }
    }
}

fn fail(phase: Phase, kind: FailureKind) -> Failure {
    Failure { phase, kind }
}

/// An open SMTP session after a successful EHLO (or HELO), STARTTLS and AUTH as asked.
pub struct Connection {
    pub(super) stream: Stream,
    rbuf: Vec<u8>,
    rpos: usize,
    parser: ReplyParser,
    pub(super) wbuf: Vec<u8>,
    /// Runs of filler lines to write inside `wbuf`: (offset in `wbuf`, lines), in order
    /// (see `body.rs`: large bodies are not copied into `wbuf`).
    pub(super) fills: Vec<(usize, usize)>,
    pub(super) timeouts: Timeouts,
    pub peer: SocketAddr,
    pub banner: ReceivedReply,
    pub pipelining: bool,
    /// STARTTLS succeeded: the session is encrypted.
    pub tls: bool,
    /// A message whose body and dot are queued in `wbuf` (or written) but whose dot
    /// reply is not read yet (see [`Connection::chain`]).
    pub(super) pending: Option<super::transaction::PendingDot>,
    /// False once the session is in an unknown state (a failure, a 421): do not reuse.
    pub usable: bool,
}

impl Connection {
    /// Connects, reads the banner, says EHLO (falls back to HELO). No TLS, no AUTH.
    pub async fn open(
        addr: SocketAddr,
        helo: &str,
        timeouts: Timeouts,
    ) -> Result<Connection, Failure> {
        let options = ClientOptions::plain(helo, timeouts);
        Connection::open_observed(addr, "", &options, &mut ()).await
    }

    /// Opens a session to `addr` (`host` is the name its certificate is checked
    /// against), reporting each phase to `obs`.
    pub async fn open_observed(
        addr: SocketAddr,
        host: &str,
        options: &ClientOptions,
        obs: &mut dyn Observer,
    ) -> Result<Connection, Failure> {
        let result = Connection::handshake(addr, host, options, obs).await;
        if let Err(f) = &result {
            if !matches!(f.kind, FailureKind::Reply(_)) {
                obs.failed(f.phase, &f.kind);
            }
        }
        result
    }

    async fn handshake(
        addr: SocketAddr,
        host: &str,
        options: &ClientOptions,
        obs: &mut dyn Observer,
    ) -> Result<Connection, Failure> {
        let timeouts = options.timeouts;
        let start = Instant::now();
        let stream = match timeout(timeouts.connect, TcpStream::connect(addr)).await {
            Err(_) => return Err(fail(Phase::Connect, FailureKind::Timeout)),
            Ok(Err(e)) => return Err(fail(Phase::Connect, io_kind(&e))),
            Ok(Ok(s)) => s,
        };
        let connected = Instant::now();
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            stream: Stream::Plain(stream),
            rbuf: Vec::with_capacity(4096),
            rpos: 0,
            parser: ReplyParser::default(),
            wbuf: Vec::with_capacity(8192),
            fills: Vec::new(),
            timeouts,
            peer: addr,
            banner: ReceivedReply {
                code: 0,
                text: String::new(),
                esc: [0; 3],
            },
            pipelining: false,
            tls: false,
            pending: None,
            usable: true,
        };
        let banner = match conn.read_reply(timeouts.reply).await {
            Ok(b) => b,
            Err(kind) => {
                // No host name to file it under: the caller's current node gets it.
                obs.timed(Phase::Connect, start, connected);
                return Err(fail(Phase::Banner, kind));
            }
        };
        let got_banner = Instant::now();
        obs.server(banner.first_word());
        obs.timed(Phase::Connect, start, connected);
        obs.timed(Phase::Banner, connected, got_banner);
        obs.replied(Phase::Banner, banner.code);
        if banner.code != 220 {
            return Err(fail(Phase::Banner, FailureKind::Reply(banner)));
        }
        conn.banner = banner;
        let mut ehlo = conn.ehlo(&options.helo, obs).await?;
        if options.tls.mode != TlsMode::None {
            if let Some(again) = conn.starttls(host, options, &ehlo, obs).await? {
                ehlo = again;
            }
        }
        if let Some(credentials) = &options.auth {
            conn.authenticate(credentials, &ehlo, obs).await?;
        }
        Ok(conn)
    }

    /// EHLO, or HELO if EHLO is refused. Returns the EHLO reply (empty text after HELO).
    async fn ehlo(&mut self, helo: &str, obs: &mut dyn Observer) -> Result<ReceivedReply, Failure> {
        self.queue_command(format_args!("EHLO {helo}"));
        let ehlo = self.exchange(Phase::Ehlo, obs).await?;
        if ehlo.code == 250 {
            self.pipelining = ehlo.lines().any(|l| l.eq_ignore_ascii_case("PIPELINING"));
            return Ok(ehlo);
        }
        self.pipelining = false;
        self.queue_command(format_args!("HELO {helo}"));
        let helo_reply = self.exchange(Phase::Ehlo, obs).await?;
        if helo_reply.code != 250 {
            return Err(fail(Phase::Ehlo, FailureKind::Reply(helo_reply)));
        }
        Ok(ReceivedReply {
            text: String::new(),
            ..helo_reply
        })
    }

    /// STARTTLS as the mode asks; `Some(new EHLO reply)` once the session is encrypted.
    async fn starttls(
        &mut self,
        host: &str,
        options: &ClientOptions,
        ehlo: &ReceivedReply,
        obs: &mut dyn Observer,
    ) -> Result<Option<ReceivedReply>, Failure> {
        let required = options.tls.mode == TlsMode::Required;
        let offered = ehlo.lines().any(|l| l.eq_ignore_ascii_case("STARTTLS"));
        let Some(connector) = options.tls.connector.as_ref().filter(|_| offered) else {
            return if required {
                Err(fail(Phase::Starttls, FailureKind::NotOffered("STARTTLS")))
            } else {
                Ok(None)
            };
        };
        let start = Instant::now();
        self.queue_command(format_args!("STARTTLS"));
        // Timed once, with the handshake, below.
        let reply = self.exchange_untimed(Phase::Starttls, obs).await?;
        if reply.code != 220 {
            return if required {
                Err(fail(Phase::Starttls, FailureKind::Reply(reply)))
            } else {
                Ok(None)
            };
        }
        let name = tls::server_name(if host.is_empty() { &options.helo } else { host })
            .or_else(|| tls::server_name(&self.peer.ip().to_string()))
            .ok_or_else(|| fail(Phase::Starttls, FailureKind::Tls("no server name".into())))?;
        // Bytes the server sent after its 220 would be in plain text: not allowed.
        self.rbuf.clear();
        self.rpos = 0;
        let upgrade = timeout(self.timeouts.reply, self.stream.upgrade(connector, name)).await;
        match upgrade {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.usable = false;
                let kind = match e.kind() {
                    io::ErrorKind::InvalidData | io::ErrorKind::Other => {
                        FailureKind::Tls(e.to_string())
                    }
                    _ => io_kind(&e),
                };
                return Err(fail(Phase::Starttls, kind));
            }
            Err(_) => {
                self.usable = false;
                return Err(fail(Phase::Starttls, FailureKind::Timeout));
            }
        }
        obs.timed(Phase::Starttls, start, Instant::now());
        self.tls = true;
        Ok(Some(self.ehlo(&options.helo, obs).await?))
    }

    /// AUTH PLAIN (or LOGIN); anything but 235 ends the session.
    async fn authenticate(
        &mut self,
        credentials: &Credentials,
        ehlo: &ReceivedReply,
        obs: &mut dyn Observer,
    ) -> Result<(), Failure> {
        let Some(mechanism) = auth::choose(ehlo.lines()) else {
            return Err(fail(
                Phase::Auth,
                FailureKind::NotOffered("AUTH PLAIN or LOGIN"),
            ));
        };
        let start = Instant::now();
        let reply = match mechanism {
            Mechanism::Plain => {
                let response = auth::plain_response(credentials);
                self.queue_command(format_args!("AUTH PLAIN {response}"));
                self.exchange_untimed(Phase::Auth, obs).await?
            }
            Mechanism::Login => {
                self.queue_command(format_args!("AUTH LOGIN"));
                let mut reply = self.exchange_untimed(Phase::Auth, obs).await?;
                for answer in [&credentials.user, &credentials.password] {
                    if reply.code != 334 {
                        break;
                    }
                    let line = auth::login_response(answer);
                    self.queue_command(format_args!("{line}"));
                    reply = self.exchange_untimed(Phase::Auth, obs).await?;
                }
                reply
            }
        };
        obs.timed(Phase::Auth, start, Instant::now());
        if reply.code != 235 {
            return Err(fail(Phase::Auth, FailureKind::Reply(reply)));
        }
        Ok(())
    }

    /// The server's host name as it introduced itself in the banner.
    pub fn server_name(&self) -> &str {
        self.banner.first_word()
    }

    /// Says QUIT and closes, waiting at most the reply timeout; errors are irrelevant here.
    pub async fn quit(self) {
        self.quit_observed(&mut ()).await
    }

    /// [`Connection::quit`], reporting the QUIT phase to `obs`.
    pub async fn quit_observed(mut self, obs: &mut dyn Observer) {
        // A chained message's dot reply comes before QUIT's (its outcome is the caller's
        // to collect with `finish` first; here it would only be tallied).
        self.finish(obs).await;
        if self.usable {
            self.queue_command(format_args!("QUIT"));
            if let Err(f) = self.exchange(Phase::Quit, obs).await {
                obs.failed(f.phase, &f.kind);
            }
        }
    }

    pub(super) fn queue_command(&mut self, cmd: std::fmt::Arguments<'_>) {
        use std::io::Write;
        let _ = self.wbuf.write_fmt(cmd);
        self.wbuf.extend_from_slice(b"\r\n");
    }

    /// Writes what is queued and reads one reply, timing the round trip as `phase`.
    pub(super) async fn exchange(
        &mut self,
        phase: Phase,
        obs: &mut dyn Observer,
    ) -> Result<ReceivedReply, Failure> {
        let start = Instant::now();
        let reply = self.exchange_untimed(phase, obs).await?;
        obs.timed(phase, start, Instant::now());
        Ok(reply)
    }

    async fn exchange_untimed(
        &mut self,
        phase: Phase,
        obs: &mut dyn Observer,
    ) -> Result<ReceivedReply, Failure> {
        self.flush(phase).await?;
        self.read(phase, obs).await
    }

    pub(super) async fn flush(&mut self, phase: Phase) -> Result<(), Failure> {
        let (stream, wbuf, fills) = (&mut self.stream, &self.wbuf, &self.fills);
        let write = async {
            let mut at = 0;
            for &(offset, lines) in fills {
                stream.write_all(&wbuf[at..offset]).await?;
                super::body::write_filler(stream, lines).await?;
                at = offset;
            }
            stream.write_all(&wbuf[at..]).await
        };
        let res = timeout(self.timeouts.reply, write).await;
        self.wbuf.clear();
        self.fills.clear();
        match res {
            Err(_) => Err(fail(phase, FailureKind::Timeout)),
            Ok(Err(e)) => Err(fail(phase, io_kind(&e))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one reply to `phase` (the reply timeout), tallying its code.
    pub(super) async fn read(
        &mut self,
        phase: Phase,
        obs: &mut dyn Observer,
    ) -> Result<ReceivedReply, Failure> {
        let limit = if phase == Phase::Dot {
            self.timeouts.dot
        } else {
            self.timeouts.reply
        };
        let reply = self
            .read_reply(limit)
            .await
            .map_err(|kind| fail(phase, kind))?;
        obs.replied(phase, reply.code);
        if reply.code == 421 {
            self.usable = false;
        }
        Ok(reply)
    }

    /// Reads one complete reply, waiting at most `limit` in all.
    async fn read_reply(&mut self, limit: Duration) -> Result<ReceivedReply, FailureKind> {
        let deadline = Instant::now() + limit;
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

pub(super) fn io_kind(e: &io::Error) -> FailureKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => FailureKind::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => FailureKind::Closed,
        io::ErrorKind::TimedOut => FailureKind::Timeout,
        _ => FailureKind::Io(e.to_string()),
    }
}
