//! Fake remotes in a process of their own: `mailquake remotes FILE` serves a scenario's
//! remotes standalone (`serve.rs`, through `fake_remotes::standalone`), and a run whose
//! scenario says `remotes: { external: URL }` attaches to remotes served that way
//! (`attach.rs`), talking to their control API (`client.rs`).
//!
//! `run.rs` stays the only orchestrator: it calls [`attach`] instead of starting
//! remotes, wires what it returns like in-process remotes, and heals through it at the end.

pub mod attach;
pub mod client;
pub mod lost;
pub mod serve;

pub use attach::{attach, AttachError, Attachment, Link};

/// Where a token for the control API is read from when the command line or the scenario
/// gives none (the scenario's safety rules name it too, so it lives there).
pub use crate::scenario::safety::REMOTES_TOKEN_ENV as TOKEN_ENV;
