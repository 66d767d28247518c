//! mailquake: chaos and load tests for SMTP clusters.
//!
//! The modules read in flow order: a scenario becomes a [`scenario::Plan`]; the
//! [`generator`] floods the target [`cluster`] through our [`smtp`] client; fake remotes
//! (the `fake-remotes` crate) misbehave on a timeline; the [`collector`] owns the ledger
//! of every message; [`checks`] judge it; [`report`] renders the verdict. Only [`run`]
//! wires the stages together ([`out_dir`]: its output folder, rescued if it fails).
//! [`remotes`] serves the fake remotes in a process of their own, and attaches a run to
//! remotes served that way. The [`journal`] records what a run puts in force outside its
//! process, so that the [`guardian`] or `mailquake` [`heal`] can undo it when the run
//! dies without doing so. `mailquake` [`explain`] prints one message's life from a run's
//! folder. A run split over processes: each is a [`shard`] of it; `mailquake`
//! [`merge`] unions their folders and judges once. Leaves shared by the stages: [`tracking`] (how tracking ids are spelt and
//! parsed) and [`measure`] (per-phase load measurements); stages import one way
//! (`tests/it/architecture.rs` holds the rules).

pub mod abort;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod collector;
pub mod explain;
pub mod flood;
pub mod generator;
pub mod guardian;
pub mod heal;
pub mod journal;
pub mod live;
pub mod measure;
pub mod merge;
pub mod out_dir;
pub mod preflight;
pub mod remotes;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod signals;
pub mod smtp;
pub mod timeline;
pub mod tracking;
