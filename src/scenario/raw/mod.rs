//! The serde mirror of a scenario file: exactly the YAML's shape, nothing checked beyond
//! types and key names. `validate/` turns it into a [`super::Plan`]; the mirror is split
//! the same way: `target.rs` (target), `load.rs` (load), `checks.rs` (checks). The
//! `remotes:` and `faults:` sections are `fake_remotes::scenario`'s, which the
//! `fake-remotes` binary reads too; so are the building blocks used throughout.
//!
//! Rules that keep error messages precise:
//! - every struct denies unknown keys, so a typo is an error rather than a silent default;
//! - every value whose meaning is checked later is a [`Spanned`] so the error can point at
//!   its line and column; unit-bearing values are [`Text`] so the unit parsers see exactly
//!   what was typed (`90` and `90%` both arrive as text);
//! - no `flatten`, untagged or internally tagged enums (they buffer values and lose
//!   spans): the "string or map" forms (`smtp` endpoints, `size`, `checks`, `fault`,
//!   `during`) implement [`StringOrMap`], whose one visitor hands the map straight on
//!   to the YAML deserializer;
//! - maps whose keys are names (`remotes`, `mix`) are [`Entries`]: ordered, keys spanned.

use serde::Deserialize;
use serde_saphyr::Spanned;

pub use fake_remotes::scenario::de::{
    one_key, read_map, read_seq, string_or_map, Entries, StringOrMap, Text,
};
pub use fake_remotes::scenario::raw::{RawExec, RawFault, RawFaultKind, RawRemotes};

mod capacity;
mod checks;
mod load;
mod target;

pub use capacity::*;
pub use checks::*;
pub use load::*;
pub use target::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub version: Spanned<Text>,
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub seed: Option<Spanned<Text>>,
    #[serde(default)]
    pub target: Option<RawTargetSection>,
    pub remotes: Spanned<RawRemotes>,
    pub load: RawLoad,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    pub checks: Spanned<Vec<Spanned<RawCheckEntry>>>,
    #[serde(default)]
    pub settle: Option<Spanned<Text>>,
    #[serde(default)]
    pub preflight: Option<RawPreflight>,
    pub safety: Option<Spanned<RawSafety>>,
    /// `mailquake capacity`'s settings (other commands ignore them).
    #[serde(default)]
    pub capacity: Option<Spanned<RawCapacity>>,
}

/// `safety: { allow_domains: [...], max_rate: 5000/s, max_messages: 2000000 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSafety {
    #[serde(default)]
    pub allow_domains: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub max_rate: Option<Spanned<Text>>,
    #[serde(default)]
    pub max_messages: Option<Spanned<Text>>,
}

/// `preflight: { timeout: 30s }`: the routing preflight of an external target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreflight {
    #[serde(default)]
    pub timeout: Option<Spanned<Text>>,
}
