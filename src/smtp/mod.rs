//! Our thin SMTP client over tokio + smtp-proto: reply reader, command writer, dot
//! stuffing, PIPELINING, STARTTLS (rustls), AUTH PLAIN/LOGIN, per-phase timing. Used by
//! the generator (submitting to the cluster) and by the embedded cluster's nodes
//! (relaying to the remotes).
//!
//! Protocol outcomes — a 451, a refused connection, a timeout — are data
//! ([`Failure`], [`ReceivedReply`]), never `Err`: the caller records them. Timings and reply
//! codes go to an [`Observer`] as they happen.

pub mod auth;
pub mod body;
pub mod client;
pub mod dot;
pub mod observe;
pub mod reply;
pub mod tls;
pub mod transaction;

pub use auth::Credentials;
pub use body::Body;
pub use client::{ClientOptions, Connection, Failure, FailureKind, Phase, Timeouts};
pub use observe::Observer;
pub use reply::ReceivedReply;
pub use tls::{TlsClient, TlsMode};
pub use transaction::TxOutcome;
