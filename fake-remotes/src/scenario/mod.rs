//! The `remotes:` and `faults:` sections of mailquake's scenario format, owned here so
//! that the two readers of a scenario file (mailquake's loader and the `fake-remotes`
//! binary's, [`crate::standalone::file`]) share one implementation: the serde mirror
//! ([`raw`], built from [`de`]'s blocks, which mailquake's whole-file mirror uses too)
//! the rules that need nothing else from the file ([`validate`]), and the reading of the
//! text with errors worded alike ([`yaml`]).

pub mod de;
pub mod raw;
pub mod resolve;
pub mod syntax;
pub mod validate;
pub mod yaml;

pub use de::{failed_entry_key, string_or_map, Entries, StringOrMap, Text};
pub use raw::{RawExec, RawFault, RawFaultKind, RawRemote, RawRemotes};
pub use validate::{SpecError, BOUNCE_DOMAIN, BOUNCE_REMOTE, MAX_SPAN};
