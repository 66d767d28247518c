//! One SMTP session: reads commands, answers them, receives bodies, hands messages to the
//! sink, and executes what the behaviour [`SessionPlan`] decides (delays, replies, closes).
//!
//! Built for throughput like Postfix's `smtp-sink`: input is read in chunks (4 KiB for
//! bodies) into one buffer, every complete command in it is answered into one output
//! buffer, and the output is written only when no complete command is left, so a
//! pipelined batch (RFC 2920) gets all its replies in one write. The idle and shutdown
//! futures are created once per session, not per read. Faults are re-read from the
//! watch channel only when it changed (an atomic compare), so a healthy session pays
//! nothing for them. The wire side (writing, reading, tarpits, closing) is in `io.rs`;
//! the stream under it (plain or TLS) in `conn.rs`; asking the plan and reporting what
//! fired in `faults.rs`; STARTTLS in `starttls.rs`, AUTH in `auth.rs`, and the stateful
//! faults (rate limits, greylisting) in `limits.rs`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use memchr::memchr;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::behavior::{AcceptAction, Fired, SessionPlan};
use crate::clients::{Clients, ConnectionSlot};
use crate::command::{self, code_of, reply, Command, MAX_LINE};
use crate::data::DataReceiver;
use crate::tls::ServerTls;
use crate::{
    headers, Envelope, Fault, MessageSink, RemoteEvent, RemoteEventKind, RemoteReply, ServerConfig,
    Stage,
};

mod auth;
mod conn;
mod faults;
mod io;
mod limits;
mod outage;
mod starttls;
use auth::Sasl;
use conn::Conn;
use io::render;
pub(crate) use io::Transport;

/// Bytes asked of the socket per read of a body, as `smtp-sink`'s stream buffer.
const READ_CHUNK: usize = 4096;
/// Room for commands: a pipelined batch fits, and ten thousand sessions parked between
/// commands (tarpits) do not each hold a body-sized buffer.
const COMMAND_CHUNK: usize = 1024;
/// Recipients per transaction before 452 (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RCPTS: usize = 1000;
/// How long the farewell (421) may take to write to a client that does not read.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);

/// What every session of one server shares, rendered once.
#[derive(Debug)]
pub(crate) struct Shared {
    pub name: String,
    pub banner: Vec<u8>,
    /// The EHLO reply in plain text (offers STARTTLS when `tls` is set).
    pub ehlo: Vec<u8>,
    /// The EHLO reply once TLS is on.
    pub ehlo_tls: Vec<u8>,
    pub helo: Vec<u8>,
    pub max_message_size: usize,
    pub idle_timeout: Duration,
    /// STARTTLS is offered when set.
    pub tls: Option<ServerTls>,
    /// Credentials AUTH checks; `None` accepts any.
    pub auth: Option<(String, String)>,
    /// The server's memory of its clients (connections, rates, greylist).
    pub clients: Clients,
    /// The only domains RCPT accepts (lower-case); `None`: any.
    pub serves: Option<Vec<String>>,
}

impl Shared {
    /// Renders the fixed replies and starts the server's `clients` task (so it must be
    /// called inside a Tokio runtime).
    pub(crate) fn new(config: &ServerConfig, tls: Option<ServerTls>) -> Shared {
        let hostname = &config.hostname;
        let ehlo = |starttls: bool| {
            let starttls = if starttls { "250-STARTTLS\r\n" } else { "" };
            format!(
                "250-{hostname}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n\
                 {starttls}250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n",
                config.max_message_size
            )
            .into_bytes()
        };
        Shared {
            name: config.name.clone(),
            banner: format!("220 {hostname} ESMTP fake-remotes\r\n").into_bytes(),
            ehlo: ehlo(tls.is_some()),
            ehlo_tls: ehlo(false),
            helo: format!("250 {hostname}\r\n").into_bytes(),
            max_message_size: config.max_message_size,
            idle_timeout: config.idle_timeout,
            tls,
            auth: config.auth.clone(),
            clients: Clients::spawn(),
            serves: config.serves.clone(),
        }
    }
}

/// How a session ends.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Send what is pending, then close (FIN): QUIT, 421, `disconnect`.
    Close,
    /// Close with RST.
    Reset,
    /// Send what is pending, then hold the connection silently.
    Blackhole,
    /// The client went away (EOF or an I/O error): nothing to send.
    ClientGone,
    /// Nothing from the client for the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
}

/// A reply to render into the output buffer.
enum Out<'a> {
    Line(&'static [u8]),
    Ehlo,
    Helo,
    Reply(&'a RemoteReply),
}

pub(crate) struct Session<T, K> {
    io: Conn<T>,
    /// Counts this connection in the server's memory until the session is dropped.
    /// Dropped before `events`, so a session seen to end has been counted out.
    _slot: ConnectionSlot,
    shared: Arc<Shared>,
    sink: K,
    events: mpsc::Sender<RemoteEvent>,
    faults: watch::Receiver<Vec<Fault>>,
    plan: SessionPlan,
    peer: SocketAddr,
    inbuf: Vec<u8>,
    /// Start of the unprocessed input in `inbuf`.
    pos: usize,
    out: Vec<u8>,
    /// A command line over 512 bytes is being skipped up to its end.
    skipping_long_line: bool,
    /// Receiving a message body.
    body: Option<DataReceiver>,
    helo: Option<String>,
    mail_from: Option<String>,
    size_hint: usize,
    rcpts: Vec<String>,
    /// After a 4xx/5xx banner only QUIT is accepted.
    quit_only: bool,
    /// AUTH succeeded (reset by STARTTLS).
    authenticated: bool,
    /// An AUTH exchange is waiting for the client's next line.
    sasl: Option<Sasl>,
    /// The stage of the command being answered (for tarpit reports).
    stage: Stage,
    tarpit_reported: bool,
    /// When the session started waiting for the client; the idle sleep fires at most
    /// once per idle period and re-arms from here, so reads never touch the timer.
    waiting_since: Instant,
    idle: Pin<Box<Sleep>>,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The server's signal that an outage ending open sessions began (`outage.rs`).
    outage: outage::OutageSignal,
}

impl<T: Transport, K: MessageSink> Session<T, K> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        io: T,
        peer: SocketAddr,
        shared: Arc<Shared>,
        sink: K,
        events: mpsc::Sender<RemoteEvent>,
        faults: watch::Receiver<Vec<Fault>>,
        seed: u64,
        shutdown: &CancellationToken,
    ) -> Self {
        let mut faults = faults;
        let plan = SessionPlan::new(faults.borrow_and_update().clone(), seed);
        let idle = Box::pin(sleep(shared.idle_timeout));
        let slot = shared.clients.opened(peer.ip().to_canonical());
        Session {
            io: Conn::Plain(io),
            _slot: slot,
            shared,
            sink,
            events,
            faults,
            plan,
            peer,
            inbuf: Vec::new(),
            pos: 0,
            out: Vec::new(),
            skipping_long_line: false,
            body: None,
            helo: None,
            mail_from: None,
            size_hint: 0,
            rcpts: Vec::new(),
            quit_only: false,
            authenticated: false,
            sasl: None,
            stage: Stage::Banner,
            tarpit_reported: false,
            waiting_since: Instant::now(),
            idle,
            // A child token: this session's waiter list is its own, not shared by all.
            shutdown: Box::pin(shutdown.child_token().cancelled_owned()),
            outage: None,
        }
    }

    pub(crate) async fn run(mut self) {
        self.emit(RemoteEventKind::Connected { peer: self.peer })
            .await;
        if let Some(Fired { fault, action }) = self.plan.on_accept() {
            self.fired(fault, Stage::Banner).await;
            match action {
                AcceptAction::Reset => self.io.abort(),
                AcceptAction::Blackhole => self.hold().await,
            }
            return;
        }
        let end = match self.greet().await {
            Ok(()) => self.converse().await,
            Err(end) => end,
        };
        self.finish(end).await;
    }

    async fn greet(&mut self) -> Result<(), End> {
        // Counted as the connection arrives, before any tarpit, as anvil does.
        if let Some(r) = self.over_connection_limit().await {
            render(&mut self.out, &r);
            self.flush().await?;
            return Err(End::Close);
        }
        if let Some(delay) = self.plan.banner_delay() {
            self.report_tarpit().await;
            self.pause(delay).await?;
        }
        self.refresh_faults();
        let fault = self.fault_at(Stage::Banner).await?;
        let start = self.out.len();
        match &fault {
            Some(r) => render(&mut self.out, r),
            None => self.out.extend_from_slice(&self.shared.banner),
        }
        if let Some(bps) = self.plan.dribble_rate() {
            self.report_tarpit().await;
            let banner = self.out.split_off(start);
            self.dribble(&banner, bps).await?;
        }
        if let Some(r) = fault {
            if r.code == 421 {
                return Err(End::Close);
            }
            self.quit_only = r.code >= 400;
        }
        self.flush().await
    }

    async fn converse(&mut self) -> End {
        loop {
            if let Err(end) = self.process_input().await {
                return end;
            }
            if let Err(end) = self.flush().await {
                return end;
            }
            if let Err(end) = self.read_more().await {
                return end;
            }
        }
    }

    /// Answers everything complete in the input buffer.
    async fn process_input(&mut self) -> Result<(), End> {
        loop {
            if let Some(rx) = self.body.as_mut() {
                match rx.feed(&self.inbuf[self.pos..]) {
                    Some(used) => {
                        self.pos += used;
                        let rx = self.body.take().expect("in body");
                        self.end_of_data(rx).await?;
                        continue;
                    }
                    None => {
                        self.pos = self.inbuf.len();
                        return Ok(());
                    }
                }
            }
            let pending = &self.inbuf[self.pos..];
            let Some(at) = memchr(b'\n', pending) else {
                if pending.len() > MAX_LINE {
                    // Drop the start of an over-long line now, so the buffer stays small;
                    // the 500 goes out when its end arrives, in step with the commands.
                    self.skipping_long_line = true;
                    self.pos = self.inbuf.len();
                }
                return Ok(());
            };
            let line = &pending[..=at];
            let too_long = std::mem::take(&mut self.skipping_long_line);
            if self.sasl.is_some() {
                let line = line.to_vec();
                self.pos += at + 1;
                self.sasl_line(&line, too_long).await?;
                continue;
            }
            let command = if too_long {
                Command::TooLong
            } else {
                command::parse(line)
            };
            self.pos += at + 1;
            self.handle(command).await?;
        }
    }

    async fn handle(&mut self, command: Command) -> Result<(), End> {
        self.refresh_faults();
        if self.quit_only && command != Command::Quit {
            if let Command::Rcpt(to) = command {
                self.emit_rcpt(to, code_of(reply::ONLY_QUIT)).await;
            }
            return self.send(Out::Line(reply::ONLY_QUIT)).await;
        }
        match command {
            Command::Ehlo(host) => self.hello(host, Out::Ehlo).await,
            Command::Helo(host) => self.hello(host, Out::Helo).await,
            Command::Mail { from, size } => self.mail(from, size).await,
            Command::Rcpt(to) => self.rcpt(to).await,
            Command::Data => self.data().await,
            Command::Rset => {
                self.reset_transaction();
                self.send(Out::Line(reply::OK)).await
            }
            Command::Noop => self.send(Out::Line(reply::OK)).await,
            Command::Quit => {
                self.stage = Stage::Quit;
                match self.fault_at(Stage::Quit).await? {
                    Some(r) => self.send(Out::Reply(&r)).await?,
                    None => self.send(Out::Line(reply::BYE)).await?,
                }
                Err(End::Close)
            }
            Command::Help => self.send(Out::Line(reply::HELP)).await,
            Command::StartTls => self.starttls().await,
            Command::Auth { mechanism, initial } => self.auth(mechanism, initial).await,
            Command::NotImplemented => self.send(Out::Line(reply::NOT_IMPLEMENTED)).await,
            Command::TooLong => self.send(Out::Line(reply::TOO_LONG)).await,
            Command::Unknown => self.send(Out::Line(reply::UNKNOWN)).await,
            Command::Invalid(line) => self.send(Out::Line(line)).await,
        }
    }

    async fn hello(&mut self, host: String, normal: Out<'_>) -> Result<(), End> {
        self.stage = Stage::Ehlo;
        let fault = self.fault_at(Stage::Ehlo).await?;
        if fault.as_ref().is_none_or(|r| r.code < 300) {
            self.helo = Some(host);
            self.reset_transaction();
        }
        self.send_or_fault(fault, normal).await
    }

    async fn mail(&mut self, from: String, size: usize) -> Result<(), End> {
        self.stage = Stage::Mail;
        if self.helo.is_none() {
            return self.send(Out::Line(reply::NEED_HELO)).await;
        }
        if self.shared.auth.is_some() && !self.authenticated {
            return self.send(Out::Line(reply::NEED_AUTH)).await;
        }
        if self.mail_from.is_some() {
            return self.send(Out::Line(reply::NESTED_MAIL)).await;
        }
        if size > self.shared.max_message_size {
            return self.send(Out::Line(reply::TOO_BIG)).await;
        }
        let fault = match self.fault_at(Stage::Mail).await? {
            Some(r) => Some(r),
            None => self.over_message_limit().await,
        };
        if fault.as_ref().is_none_or(|r| r.code < 300) {
            self.mail_from = Some(from);
            self.size_hint = size;
        }
        self.send_or_fault(fault, Out::Line(reply::MAIL_OK)).await
    }

    /// Every RCPT with a readable address is reported with the code it got: it is one
    /// delivery attempt for that recipient, whatever the answer.
    async fn rcpt(&mut self, to: String) -> Result<(), End> {
        self.stage = Stage::Rcpt;
        if self.mail_from.is_none() {
            self.emit_rcpt(to, code_of(reply::NEED_MAIL)).await;
            return self.send(Out::Line(reply::NEED_MAIL)).await;
        }
        if !self.serves(&to) {
            self.emit_rcpt(to.clone(), code_of(reply::RELAY_DENIED))
                .await;
            self.emit(RemoteEventKind::RelayDenied { rcpt: to }).await;
            return self.send(Out::Line(reply::RELAY_DENIED)).await;
        }
        if self.rcpts.len() >= MAX_RCPTS {
            self.emit_rcpt(to, code_of(reply::TOO_MANY_RCPTS)).await;
            return self.send(Out::Line(reply::TOO_MANY_RCPTS)).await;
        }
        // Known before the fault is asked, so a fault at this stage reports it too.
        self.rcpts.push(to);
        let fault = match self.fault_at(Stage::Rcpt).await? {
            Some(r) => Some(r),
            None => self.greylisted().await,
        };
        let code = fault.as_ref().map_or(250, |r| r.code);
        let to = if code < 300 {
            self.rcpts.last().cloned().unwrap_or_default()
        } else {
            self.rcpts.pop().unwrap_or_default()
        };
        self.emit_rcpt(to, code).await;
        self.send_or_fault(fault, Out::Line(reply::RCPT_OK)).await
    }

    /// Whether `rcpt`'s domain is one this server is an MX for (any, without a list).
    fn serves(&self, rcpt: &str) -> bool {
        let Some(domains) = &self.shared.serves else {
            return true;
        };
        let domain = rcpt.rsplit_once('@').map_or("", |(_, d)| d);
        domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    async fn emit_rcpt(&mut self, rcpt: String, code: u16) {
        self.emit(RemoteEventKind::Rcpt { rcpt, code }).await;
    }

    async fn data(&mut self) -> Result<(), End> {
        self.stage = Stage::Data;
        if self.mail_from.is_none() {
            return self.send(Out::Line(reply::NEED_MAIL)).await;
        }
        if self.rcpts.is_empty() {
            self.reject(Stage::Data, code_of(reply::NO_RCPTS), None)
                .await;
            return self.send(Out::Line(reply::NO_RCPTS)).await;
        }
        let fault = self.fault_at(Stage::Data).await?;
        match &fault {
            Some(r) if !(300..400).contains(&r.code) => {
                self.reject(Stage::Data, r.code, None).await
            }
            _ => {
                let expected = self.size_hint.min(self.shared.max_message_size);
                self.body = Some(DataReceiver::new(self.shared.max_message_size, expected));
            }
        }
        self.send_or_fault(fault, Out::Line(reply::GO_AHEAD)).await
    }

    /// The final dot: the whole body has been read.
    async fn end_of_data(&mut self, rx: DataReceiver) -> Result<(), End> {
        self.stage = Stage::Dot;
        self.refresh_faults();
        if rx.oversize() {
            let tracking = headers::scan(&rx.into_body()).tracking;
            self.reject(Stage::Dot, code_of(reply::TOO_BIG), tracking)
                .await;
            return self.send(Out::Line(reply::TOO_BIG)).await;
        }
        let body = Bytes::from(rx.into_body());
        // A slow content filter: the message is taken only after the wait.
        if let Some(delay) = self.plan.dot_delay() {
            self.report_tarpit().await;
            self.flush().await?;
            self.pause(delay).await?;
        }
        let fault = match self.fault_at(Stage::Dot).await {
            // `disconnect` at the dot: the message is taken, then the connection drops
            // before the reply — the client cannot know, retries, and duplicates it.
            Err(End::Close) => {
                let envelope = self.take_envelope();
                let _ = self.sink.deliver(envelope, body).await;
                return Err(End::Close);
            }
            other => other?,
        };
        if let Some(r) = &fault {
            if r.code >= 300 {
                let tracking = headers::scan(&body).tracking;
                self.reject(Stage::Dot, r.code, tracking).await;
                return self.send_fault(r).await;
            }
        }
        let rcpts = self.rcpts.clone();
        let envelope = self.take_envelope();
        let answer = self.sink.deliver(envelope, body.clone()).await;
        if answer.code >= 300 {
            self.emit(RemoteEventKind::Rejected {
                stage: Stage::Dot,
                code: answer.code,
                rcpts,
                tracking: headers::scan(&body).tracking,
            })
            .await;
        }
        match fault {
            Some(r) => self.send_fault(&r).await,
            None if answer.code == 421 => self.send_fault(&answer).await,
            None => self.send(Out::Reply(&answer)).await,
        }
    }

    /// The transaction's envelope, ending the transaction.
    fn take_envelope(&mut self) -> Envelope {
        let envelope = Envelope {
            helo: self.helo.clone().unwrap_or_default(),
            peer: self.peer,
            mail_from: self.mail_from.take().unwrap_or_default(),
            rcpts: std::mem::take(&mut self.rcpts),
        };
        self.reset_transaction();
        envelope
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
        self.size_hint = 0;
    }

    /// Emits `Rejected` for the transaction and ends it.
    async fn reject(&mut self, stage: Stage, code: u16, tracking: Option<String>) {
        let rcpts = std::mem::take(&mut self.rcpts);
        self.emit(RemoteEventKind::Rejected {
            stage,
            code,
            rcpts,
            tracking,
        })
        .await;
        self.reset_transaction();
    }
}

#[cfg(test)]
mod tests;
