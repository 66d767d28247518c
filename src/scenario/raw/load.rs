//! `load:` — steps, mix, message shape, sessions, TLS and AUTH of the generator.

use serde::de::{self, Deserializer, MapAccess, SeqAccess};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub steps: Spanned<Vec<Spanned<RawStep>>>,
    pub mix: Spanned<Entries<Spanned<Text>>>,
    #[serde(default)]
    pub message: Option<RawMessage>,
    #[serde(default)]
    pub sessions: Option<Spanned<Text>>,
    #[serde(default)]
    pub messages_per_connection: Option<Spanned<Text>>,
    #[serde(default)]
    pub model: Option<Spanned<Text>>,
    #[serde(default)]
    pub tls: Option<Spanned<RawTls>>,
    #[serde(default)]
    pub auth: Option<Spanned<RawAuth>>,
    #[serde(default)]
    pub hlog_interval: Option<Spanned<Text>>,
    #[serde(default)]
    pub max_shortfall: Option<Spanned<Text>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    #[serde(default)]
    pub mode: Option<Spanned<Text>>,
    #[serde(default)]
    pub verify: Option<Spanned<Text>>,
    #[serde(default)]
    pub ca: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub user: Spanned<String>,
    /// Better left out: then it comes from `MAILQUAKE_AUTH_PASSWORD` when the run starts.
    #[serde(default)]
    pub password: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Required by the open model, refused by the closed one (checked in validation).
    #[serde(default)]
    pub rate: Option<Spanned<Text>>,
    #[serde(default)]
    pub to: Option<Spanned<Text>>,
    #[serde(rename = "for")]
    pub duration: Spanned<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    #[serde(default)]
    pub size: Option<Spanned<RawSize>>,
    #[serde(default)]
    pub recipients: Option<Spanned<Text>>,
}

/// `size:` — `4KiB`, `{ min: 1KiB, max: 64KiB }`, or `[ { size: 2KiB, weight: 9 }, … ]`.
#[derive(Debug)]
pub enum RawSize {
    Fixed(Text),
    Uniform(RawSizeRange),
    Weighted(Vec<Spanned<RawWeightedSize>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSizeRange {
    pub min: Spanned<Text>,
    pub max: Spanned<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeightedSize {
    pub size: Spanned<Text>,
    pub weight: Spanned<Text>,
}

impl<'de> StringOrMap<'de> for RawSize {
    const EXPECTING: &'static str =
        "a size (4KiB), a range ({ min: 1KiB, max: 64KiB }) or a list of { size, weight }";
    const NUMBERS_AS_WORDS: bool = true;
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Ok(RawSize::Fixed(Text(v.to_owned())))
    }
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        read_map(map).map(RawSize::Uniform)
    }
    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        read_seq(seq).map(RawSize::Weighted)
    }
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        string_or_map(de)
    }
}
