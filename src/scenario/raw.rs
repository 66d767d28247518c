//! The serde mirror of a scenario file: exactly the YAML's shape, nothing checked beyond
//! types and key names. `validate.rs` turns it into a [`super::Plan`].
//!
//! Rules that keep error messages precise:
//! - every struct denies unknown keys, so a typo is an error rather than a silent default;
//! - every value whose meaning is checked later is a [`Spanned`] so the error can point at
//!   its line and column; unit-bearing values are [`Text`] so the unit parsers see exactly
//!   what was typed (`90` and `90%` both arrive as text);
//! - no `flatten`, untagged or internally tagged enums (they buffer values and lose
//!   spans): the "string or map" forms (`target`, `checks`, `fault`, `during`) have
//!   hand-written visitors that hand the map straight on to the YAML deserializer;
//! - maps whose keys are names (`remotes`, `mix`) are [`Entries`]: ordered, keys spanned.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, value::MapAccessDeserializer, value::SeqAccessDeserializer, Deserializer, IgnoredAny,
    MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A scalar as written, whatever YAML typed it as (`90`, `90%`, `30s`, `true`).
#[derive(Clone, Debug, PartialEq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value such as 30s, 200/s, 90% or 4KiB")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        // `deserialize_str` makes the YAML deserializer hand over plain scalars verbatim
        // (`1.50` stays `1.50`) instead of resolving them to numbers first.
        de.deserialize_str(TextVisitor)
    }
}

/// A YAML map kept in file order, with each key's location.
///
/// `serde_path_to_error` cannot see a `Spanned` key (it only captures plain scalar keys),
/// so the key of the entry being read is kept in [`ENTRY_KEY`] for the error path.
#[derive(Clone, Debug, PartialEq)]
pub struct Entries<V>(pub Vec<(Spanned<String>, V)>);

thread_local! {
    /// The key of the [`Entries`] entry whose value is being read; `None` between entries.
    /// Deserialization stops at the first error, so after a failure it names the entry
    /// that failed (maps of entries never nest in the scenario format).
    static ENTRY_KEY: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The key of the entry that was being read when deserialization failed, if any.
pub fn failed_entry_key() -> Option<String> {
    ENTRY_KEY.with(|k| k.borrow_mut().take())
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<V>, A::Error> {
                let mut entries = Vec::new();
                loop {
                    ENTRY_KEY.with(|k| k.borrow_mut().take());
                    let Some(key) = map.next_key::<Spanned<String>>()? else {
                        break;
                    };
                    ENTRY_KEY.with(|k| *k.borrow_mut() = Some(key.value.clone()));
                    entries.push((key, map.next_value()?));
                }
                ENTRY_KEY.with(|k| k.borrow_mut().take());
                Ok(Entries(entries))
            }
        }
        de.deserialize_map(EntriesVisitor(PhantomData))
    }
}

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
    pub checks: Spanned<Vec<Spanned<RawCheck>>>,
    #[serde(default)]
    pub settle: Option<Spanned<Text>>,
    #[serde(default)]
    pub preflight: Option<RawPreflight>,
    pub safety: Option<Spanned<RawSafety>>,
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

impl<'de> Deserialize<'de> for RawEndpoint {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct EndpointVisitor;
        impl<'de> Visitor<'de> for EndpointVisitor {
            type Value = RawEndpoint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("HOST:PORT or { addr: HOST:PORT, weight: N }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEndpoint, E> {
                Ok(RawEndpoint::Addr(Text(v.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawEndpoint, A::Error> {
                RawWeightedEndpoint::deserialize(MapAccessDeserializer::new(map))
                    .map(RawEndpoint::Weighted)
            }
        }
        de.deserialize_any(EndpointVisitor)
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

/// `remotes:` — remotes by name, or `external: URL` (with an optional `token: T` and
/// `lease: D`) for remotes served elsewhere. So `external`, `token` and `lease` are not
/// remote names; which combinations are allowed is `validate`'s business (it can point
/// at the key).
#[derive(Debug)]
pub struct RawRemotes {
    pub named: Entries<RawRemote>,
    /// (the key, the URL)
    pub external: Option<(Spanned<String>, Spanned<String>)>,
    /// (the key, the token)
    pub token: Option<(Spanned<String>, Spanned<String>)>,
    /// (the key, the lease on the faults the run sets there)
    pub lease: Option<(Spanned<String>, Spanned<Text>)>,
}

impl<'de> Deserialize<'de> for RawRemotes {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        // As `Entries` does, with the reserved keys read as text.
        struct RemotesVisitor;
        impl<'de> Visitor<'de> for RemotesVisitor {
            type Value = RawRemotes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of remote names to their settings, or { external: URL }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRemotes, A::Error> {
                let mut remotes = RawRemotes {
                    named: Entries(Vec::new()),
                    external: None,
                    token: None,
                    lease: None,
                };
                loop {
                    ENTRY_KEY.with(|k| k.borrow_mut().take());
                    let Some(key) = map.next_key::<Spanned<String>>()? else {
                        break;
                    };
                    ENTRY_KEY.with(|k| *k.borrow_mut() = Some(key.value.clone()));
                    match key.value.as_str() {
                        "external" => remotes.external = Some((key, map.next_value()?)),
                        "token" => remotes.token = Some((key, map.next_value()?)),
                        "lease" => remotes.lease = Some((key, map.next_value()?)),
                        _ => remotes.named.0.push((key, map.next_value()?)),
                    }
                }
                ENTRY_KEY.with(|k| k.borrow_mut().take());
                Ok(remotes)
            }
        }
        de.deserialize_map(RemotesVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemote {
    pub domains: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub listen: Option<Spanned<Text>>,
}

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

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl<'de> Visitor<'de> for SizeVisitor {
            type Value = RawSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size (4KiB), a range ({ min: 1KiB, max: 64KiB }) or a list of { size, weight }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Fixed(Text(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                Ok(RawSize::Fixed(Text(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize::Fixed(Text(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawSize, E> {
                Ok(RawSize::Fixed(Text(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSize, A::Error> {
                RawSizeRange::deserialize(MapAccessDeserializer::new(map)).map(RawSize::Uniform)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawSize, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(RawSize::Weighted)
            }
        }
        de.deserialize_any(SizeVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    #[serde(default)]
    pub remote: Option<Spanned<String>>,
    #[serde(default)]
    pub node: Option<Spanned<String>>,
    pub at: Spanned<Text>,
    #[serde(default, rename = "for")]
    pub duration: Option<Spanned<Text>>,
    #[serde(default)]
    pub fault: Option<Spanned<RawFaultKind>>,
    #[serde(default)]
    pub exec: Option<Spanned<RawExec>>,
}

/// `exec: { run: CMD, undo: CMD, name: TEXT }` — an operator action on the target
/// (make a node stuck, stop it, flush it), undone when its window ends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExec {
    pub run: Spanned<String>,
    #[serde(default)]
    pub undo: Option<Spanned<String>>,
    #[serde(default)]
    pub name: Option<Spanned<String>>,
}

/// `fault:` — a remote fault in `fake_remotes::Fault`'s own serde form, or `stuck`
/// (the one node fault), which that enum does not know.
#[derive(Debug)]
pub enum RawFaultKind {
    Stuck,
    Remote(fake_remotes::Fault),
}

impl<'de> Deserialize<'de> for RawFaultKind {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct FaultVisitor;
        impl<'de> Visitor<'de> for FaultVisitor {
            type Value = RawFaultKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a fault: a name such as refuse, or a map such as { tarpit: { banner: 2s } }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawFaultKind, E> {
                if v == "stuck" {
                    return Ok(RawFaultKind::Stuck);
                }
                let de = de::IntoDeserializer::<E>::into_deserializer(v);
                <fake_remotes::Fault as Deserialize>::deserialize(de)
                    .map(RawFaultKind::Remote)
                    .map_err(|e| {
                        // A known kind that takes settings (`fault: tarpit`): say how to write it.
                        if e.to_string().contains("unit variant") {
                            E::invalid_type(de::Unexpected::Str(v), &how_to_write(v).as_str())
                        } else {
                            e
                        }
                    })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFaultKind, A::Error> {
                // The map goes on to `Fault`'s derived enum code as it is, so its nested
                // values are still read by the YAML deserializer (locations kept).
                let fault = <fake_remotes::Fault as Deserialize>::deserialize(
                    MapAccessDeserializer::new(&mut map),
                )?;
                one_key(&mut map, "a fault")?;
                Ok(RawFaultKind::Remote(fault))
            }
        }
        de.deserialize_any(FaultVisitor)
    }
}

/// How to write a fault kind that takes settings, for `fault: KIND` written bare.
fn how_to_write(kind: &str) -> String {
    let example = match kind {
        "tls" => {
            let modes: Vec<&str> = fake_remotes::behavior::TlsFault::ALL
                .iter()
                .map(|m| m.as_str())
                .collect();
            return format!(
                "the TLS fault's mode as a map, e.g. fault: {{ tls: expired_cert }} (modes: {})",
                modes.join(", ")
            );
        }
        "reply" => "{ reply: { stage: rcpt, code: 451 } }",
        "disconnect" => "{ disconnect: { stage: dot } }",
        "greylist" => "{ greylist: { retry_after: 5m } }",
        "rate_limit" => "{ rate_limit: { messages: 100, per: 1m } }",
        _ => "{ tarpit: { banner: 2s } }",
    };
    format!("the fault's settings as a map, e.g. fault: {example}")
}

/// Fails if `map` has a second key: `{ tarpit: {...}, refuse: ~ }` is two things.
fn one_key<'de, A: MapAccess<'de>>(map: &mut A, what: &'static str) -> Result<(), A::Error> {
    match map.next_key::<IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::custom(format!(
            "{what} is a map with exactly one key"
        ))),
    }
}

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
];

impl<'de> Deserialize<'de> for RawCheck {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct CheckVisitor;
        impl<'de> Visitor<'de> for CheckVisitor {
            type Value = RawCheck;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a check: a name such as no_loss, or a map such as { drain: {...} }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCheck, E> {
                match v {
                    "no_loss" => Ok(RawCheck::NoLoss),
                    "no_duplicates" => Ok(RawCheck::NoDuplicates(RawNoDuplicates::default())),
                    "nodes" => Ok(RawCheck::Nodes(RawNodes::default())),
                    "isolation" | "drain" | "acceptance" | "queue" => Err(E::invalid_type(
                        de::Unexpected::Str(v),
                        &"a map with its settings, e.g. { drain: { domain: x.test, within: 30s } }",
                    )),
                    _ => Err(E::unknown_variant(v, CHECKS)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawCheck, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("a check is a map with exactly one key"));
                };
                let check = match name.as_str() {
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
                    "nodes" => {
                        RawCheck::Nodes(map.next_value::<Option<RawNodes>>()?.unwrap_or_default())
                    }
                    "queue" => RawCheck::Queue(map.next_value()?),
                    "acceptance" => RawCheck::Acceptance(Box::new(
                        map.next_value::<Option<RawAcceptance>>()?
                            .unwrap_or_default(),
                    )),
                    other => return Err(de::Error::unknown_variant(other, CHECKS)),
                };
                one_key(&mut map, "a check")?;
                Ok(check)
            }
        }
        de.deserialize_any(CheckVisitor)
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

impl<'de> Deserialize<'de> for RawDuring {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct DuringVisitor;
        impl<'de> Visitor<'de> for DuringVisitor {
            type Value = RawDuring;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`faults` or a window such as { from: 10s, to: 30s }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuring, E> {
                match v {
                    "faults" => Ok(RawDuring::Faults),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDuring, A::Error> {
                RawWindow::deserialize(MapAccessDeserializer::new(map)).map(RawDuring::Window)
            }
        }
        de.deserialize_any(DuringVisitor)
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
