//! Misbehaving SMTP servers for chaos tests.
//!
//! A fake remote is an SMTP server that accepts and counts mail like `smtp-sink`, or,
//! while a [`Fault`] is in force, refuses, drops SYNs, resets, black-holes, tarpits,
//! answers with chosen reply codes, greylists, rate-limits, or fails STARTTLS. It offers
//! STARTTLS (certificates from a per-process test CA: [`tls`]) and AUTH PLAIN/LOGIN.
//! Faults switch live through a `watch` channel; everything the server sees is reported
//! as a [`RemoteEvent`] on a channel, so the caller (mailquake's collector, or the
//! standalone binary) owns all state.
//!
//! The same session machinery serves mailquake's embedded reference cluster: a node is
//! a server whose [`MessageSink`] queues the message instead of counting it.
//!
//! In flow order: `server` accepts (and executes `refuse`/`unreachable` by closing or
//! jamming its listener) → `session` speaks SMTP (`command` parses lines, `data`
//! receives bodies, STARTTLS and AUTH) and executes what `behavior` decides, asking the
//! server's `clients` task for what it remembers across connections (rates, greylist)
//! → the [`MessageSink`] takes each message (`headers` reads its tracking id and
//! `Received:` hosts) → [`RemoteEvent`]s go out.
//!
//! Served standalone ([`standalone`], the `fake-remotes` binary and `mailquake remotes`),
//! a set of remotes runs its fault timeline from start-up and answers a control API
//! ([`api`]) to watch counters, follow events and switch faults live.
//! Scenario files are read under limits ([`scenario_input`]: a regular file of at most
//! 1 MiB, bounded YAML), by the binary here and by mailquake alike; their `remotes:` and
//! `faults:` sections are read and checked by one implementation ([`scenario`]).
//!
//! This crate never depends on `mailquake`.

pub mod api;
pub mod behavior;
mod clients;
mod command;
mod data;
pub mod event;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod headers;
pub mod limits;
pub mod scenario;
pub mod scenario_input;
pub mod server;
mod session;
pub mod sink;
pub mod standalone;
pub mod tls;
pub mod units;

/// A fake remote ([`CountingSink`]) answers `550 5.1.1` at the final dot to a message
/// with a recipient whose local part starts with this (case-insensitive): a mail cluster
/// relaying such a message must bounce it, which is how mailquake's routing preflight
/// proves that bounces (DSNs) come back. Embedded-cluster nodes take it like any mail.
pub const REJECT_PREFIX: &str = "mq-reject.";

/// Whether `rcpt` (an address, with or without angle brackets) is always rejected.
pub fn is_reject_address(rcpt: &str) -> bool {
    let local = rcpt.trim_start_matches('<');
    local
        .get(..REJECT_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(REJECT_PREFIX))
}

pub use behavior::{Fault, Stage};
pub use event::{RemoteEvent, RemoteEventKind};
pub use server::{bind, default_listen, serve, ServerConfig};
pub use sink::{CountingSink, Envelope, MessageSink, RemoteReply};
