//! The serde mirror of the `remotes:` and `faults:` sections of a scenario file: exactly
//! the YAML's shape, nothing checked beyond types and key names. mailquake's loader
//! embeds these types in its whole-file mirror; the `fake-remotes` binary reads only
//! them ([`super::ServedFile`]). The rules are those of [`super::de`].

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::de::{one_key_map, string_or_map, visit_entries, Entries, StringOrMap, Text};
use crate::Fault;

/// `remotes:` — remotes by name, or `external: URL` (with an optional `token: T` and
/// `lease: D`) for remotes served elsewhere. So `external`, `token` and `lease` are not
/// remote names; which combinations are allowed is validation's business (it can point
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
                visit_entries(&mut map, |map, key| {
                    match key.value.as_str() {
                        "external" => remotes.external = Some((key, map.next_value()?)),
                        "token" => remotes.token = Some((key, map.next_value()?)),
                        "lease" => remotes.lease = Some((key, map.next_value()?)),
                        _ => remotes.named.0.push((key, map.next_value()?)),
                    }
                    Ok(())
                })?;
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

/// One entry of `faults:`: a remote fault, a node fault or an `exec` action.
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

/// `fault:` — a remote fault in [`Fault`]'s own serde form, or `stuck` (the one node
/// fault), which that enum does not know.
#[derive(Debug)]
pub enum RawFaultKind {
    Stuck,
    Remote(Fault),
}

impl<'de> StringOrMap<'de> for RawFaultKind {
    const EXPECTING: &'static str =
        "a fault: a name such as refuse, or a map such as { tarpit: { banner: 2s } }";

    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        if v == "stuck" {
            return Ok(RawFaultKind::Stuck);
        }
        let de = de::IntoDeserializer::<E>::into_deserializer(v);
        <Fault as Deserialize>::deserialize(de)
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

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        one_key_map(map, "a fault").map(RawFaultKind::Remote)
    }
}

impl<'de> Deserialize<'de> for RawFaultKind {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        string_or_map(de)
    }
}

/// How to write a fault kind that takes settings, for `fault: KIND` written bare.
fn how_to_write(kind: &str) -> String {
    let example = match kind {
        "tls" => {
            let modes: Vec<&str> = crate::behavior::TlsFault::ALL
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
