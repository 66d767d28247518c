//! Our thin SMTP client over tokio + smtp-proto: reply reader, command writer, dot
//! stuffing. Used by the generator (submitting to the cluster) and by the embedded
//! cluster's nodes (relaying to the remotes).
//!
//! Protocol outcomes — a 451, a refused connection, a timeout — are data
//! ([`Failure`], [`Reply`]), never `Err`: the caller records them.

pub mod client;
pub mod dot;
pub mod reply;

pub use client::{Connection, Failure, FailureKind, Phase, Timeouts, TxOutcome};
pub use reply::Reply;
