//! `checks:` — each a bare name (`no_loss`) or a one-key map with its settings.

use serde::de::{self, Deserializer, MapAccess};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::*;

/// One entry of `checks:` — a bare name (`no_loss`) or a one-key map
/// (`{ drain: { domain: x, within: 30s } }`).
#[derive(Debug)]
pub enum RawCheck {
    Isolation(Box<RawIsolation>),
    Drain(RawDrain),
    NoLoss,
    NoDuplicates(RawNoDuplicates),
    Nodes(RawNodes),
    Acceptance(Box<RawAcceptance>),
    Queue(RawQueueCheck),
    Alert(Box<RawAlert>),
}

/// `{ alert: { prometheus: URL, name: X, fires_within: 2m, resolves_within: 5m,
/// labels: { node: n2 }, during: n2 } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    pub prometheus: Spanned<String>,
    pub name: Spanned<String>,
    pub fires_within: Spanned<Text>,
    #[serde(default)]
    pub resolves_within: Option<Spanned<Text>>,
    #[serde(default)]
    pub labels: Option<Spanned<Entries<Spanned<String>>>>,
    #[serde(default)]
    pub during: Option<Spanned<String>>,
}

/// `{ queue: { max: 5000, baseline_within: 60s } }` (at least one key).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueueCheck {
    #[serde(default)]
    pub max: Option<Spanned<Text>>,
    #[serde(default)]
    pub baseline_within: Option<Spanned<Text>>,
}

const CHECKS: &[&str] = &[
    "isolation",
    "drain",
    "no_loss",
    "no_duplicates",
    "nodes",
    "acceptance",
    "queue",
    "alert",
];

/// One entry of `checks:`: the check, and beside its name, `abort_on_fail` (the run
/// stops once this check can no longer pass).
#[derive(Debug)]
pub struct RawCheckEntry {
    pub check: RawCheck,
    pub abort_on_fail: Option<Spanned<RawAbortOnFail>>,
}

/// `abort_on_fail: true | false | { grace: 10s }`.
#[derive(Debug)]
pub enum RawAbortOnFail {
    Flag(bool),
    Grace(RawAbortGrace),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAbortGrace {
    /// How long the run goes on once the check can no longer pass.
    pub grace: Spanned<Text>,
}

impl<'de> Deserialize<'de> for RawAbortOnFail {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = RawAbortOnFail;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false or { grace: 10s }")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawAbortOnFail, E> {
                Ok(RawAbortOnFail::Flag(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAbortOnFail, E> {
                match v {
                    "true" => Ok(RawAbortOnFail::Flag(true)),
                    "false" => Ok(RawAbortOnFail::Flag(false)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawAbortOnFail, A::Error> {
                Ok(RawAbortOnFail::Grace(read_map(map)?))
            }
        }
        de.deserialize_any(V)
    }
}

impl<'de> StringOrMap<'de> for RawCheckEntry {
    const EXPECTING: &'static str = RawCheck::EXPECTING;
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Ok(RawCheckEntry {
            check: RawCheck::from_str(v)?,
            abort_on_fail: None,
        })
    }
    /// The check's name and, in any order, `abort_on_fail`.
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let (mut check, mut abort_on_fail) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            if key == "abort_on_fail" {
                if abort_on_fail.is_some() {
                    return Err(de::Error::duplicate_field("abort_on_fail"));
                }
                abort_on_fail = Some(map.next_value()?);
            } else if check.is_some() {
                return Err(de::Error::custom(
                    "a check is a map with one check name (and optionally abort_on_fail)",
                ));
            } else {
                check = Some(RawCheck::named(&key, &mut map)?);
            }
        }
        let Some(check) = check else {
            return Err(de::Error::custom(
                "abort_on_fail goes beside a check's name, e.g. { drain: {...}, abort_on_fail: true }",
            ));
        };
        Ok(RawCheckEntry {
            check,
            abort_on_fail,
        })
    }
}

impl<'de> Deserialize<'de> for RawCheckEntry {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        string_or_map(de)
    }
}

impl RawCheck {
    /// The check `name`, its settings read from `map`'s next value.
    fn named<'de, A: MapAccess<'de>>(name: &str, map: &mut A) -> Result<Self, A::Error> {
        Ok(match name {
            "isolation" => RawCheck::Isolation(Box::new(map.next_value()?)),
            "drain" => RawCheck::Drain(map.next_value()?),
            "no_loss" => {
                map.next_value::<Option<Empty>>()?;
                RawCheck::NoLoss
            }
            "no_duplicates" => RawCheck::NoDuplicates(
                map.next_value::<Option<RawNoDuplicates>>()?
                    .unwrap_or_default(),
            ),
            "nodes" => RawCheck::Nodes(map.next_value::<Option<RawNodes>>()?.unwrap_or_default()),
            "queue" => RawCheck::Queue(map.next_value()?),
            "alert" => RawCheck::Alert(Box::new(map.next_value()?)),
            "acceptance" => RawCheck::Acceptance(Box::new(
                map.next_value::<Option<RawAcceptance>>()?
                    .unwrap_or_default(),
            )),
            other => return Err(de::Error::unknown_variant(other, CHECKS)),
        })
    }
}

impl<'de> StringOrMap<'de> for RawCheck {
    const EXPECTING: &'static str =
        "a check: a name such as no_loss, or a map such as { drain: {...} }";
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        match v {
            "no_loss" => Ok(RawCheck::NoLoss),
            "no_duplicates" => Ok(RawCheck::NoDuplicates(RawNoDuplicates::default())),
            "nodes" => Ok(RawCheck::Nodes(RawNodes::default())),
            "isolation" | "drain" | "acceptance" | "queue" | "alert" => Err(E::invalid_type(
                de::Unexpected::Str(v),
                &"a map with its settings, e.g. { drain: { domain: x.test, within: 30s } }",
            )),
            _ => Err(E::unknown_variant(v, CHECKS)),
        }
    }
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::custom("a check is a map with exactly one key"));
        };
        let check = RawCheck::named(&name, &mut map)?;
        one_key(&mut map, "a check")?;
        Ok(check)
    }
}

impl<'de> Deserialize<'de> for RawCheck {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        string_or_map(de)
    }
}

/// `{}` — a check that takes no settings, written as a map.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The latency limits shared by `isolation` and `acceptance`: at most one may be given
/// (deny_unknown_fields cannot be combined with flatten, so both structs repeat them).
#[derive(Debug, Default)]
pub struct PercentileLimits<'a>(pub [(&'static str, Option<&'a Spanned<Text>>); 5]);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIsolation {
    pub healthy: Spanned<Vec<Spanned<String>>>,
    pub during: Spanned<RawDuring>,
    #[serde(default)]
    pub p50: Option<Spanned<Text>>,
    #[serde(default)]
    pub p90: Option<Spanned<Text>>,
    #[serde(default)]
    pub p95: Option<Spanned<Text>>,
    #[serde(default)]
    pub p99: Option<Spanned<Text>>,
    #[serde(default, rename = "p99.9")]
    pub p99_9: Option<Spanned<Text>>,
    #[serde(default)]
    pub min_delivered: Option<Spanned<Text>>,
    /// The steady-state baseline window; default: load start to the first fault.
    #[serde(default)]
    pub baseline: Option<Spanned<RawWindow>>,
}

impl RawIsolation {
    pub fn limits(&self) -> PercentileLimits<'_> {
        PercentileLimits([
            ("p50", self.p50.as_ref()),
            ("p90", self.p90.as_ref()),
            ("p95", self.p95.as_ref()),
            ("p99", self.p99.as_ref()),
            ("p99.9", self.p99_9.as_ref()),
        ])
    }
}

/// `during: faults` or `during: { from: 10s, to: 30s }`.
#[derive(Debug)]
pub enum RawDuring {
    Faults,
    Window(RawWindow),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub from: Spanned<Text>,
    pub to: Spanned<Text>,
}

impl<'de> StringOrMap<'de> for RawDuring {
    const EXPECTING: &'static str = "`faults` or a window such as { from: 10s, to: 30s }";
    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        match v {
            "faults" => Ok(RawDuring::Faults),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &Self::EXPECTING)),
        }
    }
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        read_map(map).map(RawDuring::Window)
    }
}

impl<'de> Deserialize<'de> for RawDuring {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        string_or_map(de)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDrain {
    pub domain: Spanned<String>,
    pub within: Spanned<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNoDuplicates {
    #[serde(default)]
    pub max: Option<Spanned<Text>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodes {
    #[serde(default)]
    pub min_ratio: Option<Spanned<Text>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcceptance {
    #[serde(default)]
    pub min: Option<Spanned<Text>>,
    #[serde(default)]
    pub p50: Option<Spanned<Text>>,
    #[serde(default)]
    pub p90: Option<Spanned<Text>>,
    #[serde(default)]
    pub p95: Option<Spanned<Text>>,
    #[serde(default)]
    pub p99: Option<Spanned<Text>>,
    #[serde(default, rename = "p99.9")]
    pub p99_9: Option<Spanned<Text>>,
}

impl RawAcceptance {
    pub fn limits(&self) -> PercentileLimits<'_> {
        PercentileLimits([
            ("p50", self.p50.as_ref()),
            ("p90", self.p90.as_ref()),
            ("p95", self.p95.as_ref()),
            ("p99", self.p99.as_ref()),
            ("p99.9", self.p99_9.as_ref()),
        ])
    }
}
