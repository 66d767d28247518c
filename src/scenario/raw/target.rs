//! `target:` — the embedded cluster's settings, or the SMTP endpoints of a real one and
//! its queue probes.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::*;

/// `target: { embedded: {...} }` or `target: { smtp: [host:port, ...], probes: [...] }`.
#[derive(Debug)]
pub enum RawTarget {
    Embedded(Option<Box<RawEmbedded>>),
    Smtp(Spanned<Vec<Spanned<RawEndpoint>>>),
}

/// One entry of `target.smtp`: `HOST:PORT`, or `{ addr: HOST:PORT, weight: N }`.
#[derive(Debug)]
pub enum RawEndpoint {
    Addr(Text),
    Weighted(RawWeightedEndpoint),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeightedEndpoint {
    pub addr: Spanned<Text>,
    #[serde(default)]
    pub weight: Option<Spanned<Text>>,
}

impl<'de> StringOrMap<'de> for RawEndpoint {
    const EXPECTING: &'static str = "HOST:PORT or { addr: HOST:PORT, weight: N }";
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Ok(RawEndpoint::Addr(Text(v.to_owned())))
    }
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        read_map(map).map(RawEndpoint::Weighted)
    }
}

impl<'de> Deserialize<'de> for RawEndpoint {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        string_or_map(de)
    }
}

/// The whole `target:` map: the target itself and its optional queue probes.
#[derive(Debug)]
pub struct RawTargetSection {
    pub target: RawTarget,
    pub probes: Option<Spanned<Vec<Spanned<RawProbe>>>>,
}

/// One queue probe: `{ postfix: CONFIG_DIR }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub postfix: Spanned<String>,
}

impl<'de> Deserialize<'de> for RawTargetSection {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        // Hand-written rather than derived: a derived enum given a bare `target: smtp`
        // would read the *next* key's value as the variant's content.
        struct TargetVisitor;
        impl<'de> Visitor<'de> for TargetVisitor {
            type Value = RawTargetSection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{ embedded: {...} } or { smtp: [HOST:PORT, ...] }")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawTargetSection, A::Error> {
                let mut target = None;
                let mut probes = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "embedded" | "smtp" if target.is_some() => {
                            return Err(de::Error::custom(
                                "write one of `embedded` or `smtp`, not both",
                            ))
                        }
                        "embedded" => target = Some(RawTarget::Embedded(map.next_value()?)),
                        "smtp" => target = Some(RawTarget::Smtp(map.next_value()?)),
                        "probes" => probes = Some(map.next_value()?),
                        other => {
                            return Err(de::Error::unknown_variant(
                                other,
                                &["embedded", "smtp", "probes"],
                            ))
                        }
                    }
                }
                let Some(target) = target else {
                    return Err(de::Error::custom(
                        "write `embedded: {}` or `smtp: [HOST:PORT]`",
                    ));
                };
                Ok(RawTargetSection { target, probes })
            }
        }
        de.deserialize_map(TargetVisitor)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmbedded {
    #[serde(default)]
    pub nodes: Option<Spanned<Text>>,
    #[serde(default)]
    pub queue: Option<RawQueue>,
    #[serde(default)]
    pub concurrency: Option<Spanned<Text>>,
    #[serde(default)]
    pub timeouts: Option<RawTimeouts>,
    #[serde(default)]
    pub retry: Option<RawRetry>,
    #[serde(default)]
    pub dead_after: Option<Spanned<Text>>,
    #[serde(default)]
    pub max_queue_lifetime: Option<Spanned<Text>>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawQueue {
    PerDestination,
    Shared,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    #[serde(default)]
    pub connect: Option<Spanned<Text>>,
    #[serde(default)]
    pub reply: Option<Spanned<Text>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    #[serde(default)]
    pub min_backoff: Option<Spanned<Text>>,
    #[serde(default)]
    pub max_backoff: Option<Spanned<Text>>,
}
