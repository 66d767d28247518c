//! The fault catalogue: what a remote does instead of behaving.
//!
//! A [`Fault`] is data (its serde form is the scenario's YAML form). Each behaviour lives
//! in its own file and *decides* (refuse this connection, delay this reply by N, answer
//! 451 at RCPT); the session in `server.rs` *executes*. So behaviours are unit-tested
//! without sockets. Several faults may be in force at once on one remote (a tarpit plus a
//! 30% 451); the [`Plan`] of a session combines them.

use serde::{Deserialize, Serialize};

pub mod blackhole;
pub mod disconnect;
pub mod refuse;
pub mod reply;
pub mod reset;
pub mod tarpit;

pub use disconnect::Disconnect;
pub use reply::ReplyFault;
pub use tarpit::Tarpit;

/// One fault, in the form written in a scenario (`fault: refuse`,
/// `fault: { tarpit: { banner: 2s } }`, `fault: { reply: { stage: rcpt, code: 451 } }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Nothing listens: connect() gets ECONNREFUSED.
    Refuse,
    /// TCP accepted, then reset (RST) before any byte.
    Reset,
    /// TCP accepted, not a byte ever sent, never closed.
    Blackhole,
    /// Delays: banner, every reply, and/or replies dribbled at N bytes/s.
    Tarpit(Tarpit),
    /// A chosen reply code at a stage, with a probability.
    Reply(ReplyFault),
    /// Close the connection without a reply at a stage, with a probability.
    Disconnect(Disconnect),
}

impl Fault {
    /// Short name for events and reports (`refuse`, `tarpit`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Refuse => "refuse",
            Fault::Reset => "reset",
            Fault::Blackhole => "blackhole",
            Fault::Tarpit(_) => "tarpit",
            Fault::Reply(_) => "reply",
            Fault::Disconnect(_) => "disconnect",
        }
    }
}

/// The points of an SMTP session at which a fault can act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The banner (before any command).
    Connect,
    /// EHLO or HELO.
    Ehlo,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command (before the body).
    Data,
    /// The final `.` that ends the body.
    Dot,
    /// QUIT.
    Quit,
}

impl Stage {
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Ehlo => "ehlo",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
            Stage::Dot => "dot",
            Stage::Quit => "quit",
        }
    }
}
