//! What `refuse` and `unreachable` do to sessions already open when they begin
//! (`open_sessions:`), and their scenario form: a bare `refuse`, or
//! `{ refuse: { open_sessions: keep } }`.
//!
//! By default each matches the outage it stands for: a crashed MTA (`refuse`: nothing
//! listens) takes its open connections with it, so they are **reset**; an unreachable
//! host's connections **go silent** (nothing answers any more, the client waits out its
//! own timeout). `keep` leaves them served: an outage of the listener alone.
//! Executed by the server (`server/mod.rs` signals the sessions when such a fault
//! begins) and the session (`session/outage.rs`).

use std::fmt;

use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Fault;

/// What an outage does to the sessions open when it begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenSessions {
    /// Closed with RST (a crashed server).
    Reset,
    /// Nothing more is sent; the connection is held until the client gives up.
    Silent,
    /// Served on as if nothing happened (only the listener is down).
    Keep,
}

/// The settings of a `refuse` or `unreachable` fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// `None`: the fault's own default (`reset` for `refuse`, `silent` for `unreachable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_sessions: Option<OpenSessions>,
    /// A share of connections (`chance.rs`): the listener stays up and a picked
    /// connection gets, at accept, what one that raced the switch gets — `refuse`: reset
    /// before any byte; `unreachable`: held silent. `None`: the listener goes down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl Outage {
    pub fn validate(&self) -> Result<(), String> {
        super::chance::check_probability(self.probability)?;
        if self.probability.is_some() && self.open_sessions.is_some() {
            return Err("open_sessions and probability do not go together: with probability the listener stays up and picks new connections, open sessions are left alone".into());
        }
        Ok(())
    }

    /// Whether this outage takes the listener down (no `probability`).
    pub fn whole(&self) -> bool {
        self.probability.is_none()
    }
}

impl Fault {
    /// `refuse` with its defaults (open sessions are reset).
    pub const REFUSE: Fault = Fault::Refuse(Outage {
        open_sessions: None,
        probability: None,
    });
    /// `unreachable` with its defaults (open sessions go silent).
    pub const UNREACHABLE: Fault = Fault::Unreachable(Outage {
        open_sessions: None,
        probability: None,
    });
    /// `blackhole` on every connection.
    pub const BLACKHOLE: Fault = Fault::Blackhole(super::Chance { probability: None });
}

/// What the first `refuse`/`unreachable` in force (the one that decides the listener,
/// [`super::listener_state`]) does to open sessions; `None` without one, or with `keep`.
pub fn open_sessions(faults: &[Fault]) -> Option<OpenSessions> {
    let chosen = faults.iter().find_map(|f| match f {
        Fault::Refuse(o) if o.whole() => Some(o.open_sessions.unwrap_or(OpenSessions::Reset)),
        Fault::Unreachable(o) if o.whole() => Some(o.open_sessions.unwrap_or(OpenSessions::Silent)),
        _ => None,
    })?;
    (chosen != OpenSessions::Keep).then_some(chosen)
}

// The derived (remote = "Self") serde code handles every form but the bare names of the
// outages and `blackhole` with their defaults, which are written (and read) as plain
// strings.
impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Fault::Refuse(o) if *o == Outage::default() => {
                s.serialize_unit_variant("Fault", 0, "refuse")
            }
            Fault::Unreachable(o) if *o == Outage::default() => {
                s.serialize_unit_variant("Fault", 1, "unreachable")
            }
            Fault::Blackhole(c) if c.probability.is_none() => {
                s.serialize_unit_variant("Fault", 3, "blackhole")
            }
            other => Fault::serialize(other, s),
        }
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Fault, D::Error> {
        struct FaultVisitor;
        impl<'de> Visitor<'de> for FaultVisitor {
            type Value = Fault;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a fault: a name like `refuse`, or a map like `{ tarpit: { banner: 2s } }`",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fault, E> {
                match v {
                    "refuse" => Ok(Fault::REFUSE),
                    "unreachable" => Ok(Fault::UNREACHABLE),
                    "blackhole" => Ok(Fault::BLACKHOLE),
                    _ => {
                        let de: StrDeserializer<E> = v.into_deserializer();
                        Fault::deserialize(de)
                    }
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fault, A::Error> {
                Fault::deserialize(MapAccessDeserializer::new(map))
            }
        }
        de.deserialize_any(FaultVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outage_has_its_default_and_keep_turns_it_off() {
        let keep = Outage {
            open_sessions: Some(OpenSessions::Keep),
            probability: None,
        };
        let silent = Outage {
            open_sessions: Some(OpenSessions::Silent),
            probability: None,
        };
        let table = [
            (vec![], None),
            (vec![Fault::BLACKHOLE], None),
            (vec![Fault::REFUSE], Some(OpenSessions::Reset)),
            (vec![Fault::UNREACHABLE], Some(OpenSessions::Silent)),
            (vec![Fault::Refuse(keep)], None),
            (vec![Fault::Unreachable(keep)], None),
            (vec![Fault::Refuse(silent)], Some(OpenSessions::Silent)),
            // The first outage in list order decides, as it decides the listener.
            (vec![Fault::Refuse(keep), Fault::UNREACHABLE], None),
        ];
        for (faults, want) in table {
            assert_eq!(open_sessions(&faults), want, "{faults:?}");
        }
    }

    #[test]
    fn bare_names_and_maps_round_trip() {
        let keep = Fault::Refuse(Outage {
            open_sessions: Some(OpenSessions::Keep),
            probability: None,
        });
        let table = [
            (r#""refuse""#, Fault::REFUSE),
            (r#""unreachable""#, Fault::UNREACHABLE),
            (r#"{"refuse":{"open_sessions":"keep"}}"#, keep.clone()),
            (r#"{"unreachable":{}}"#, Fault::UNREACHABLE),
        ];
        for (json, want) in table {
            let got: Fault = serde_json::from_str(json).expect(json);
            assert_eq!(got, want, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Fault::REFUSE).unwrap(),
            r#""refuse""#
        );
        assert_eq!(
            serde_json::to_string(&keep).unwrap(),
            r#"{"refuse":{"open_sessions":"keep"}}"#
        );
        let err =
            serde_json::from_str::<Fault>(r#"{"refuse":{"open_sessions":"later"}}"#).unwrap_err();
        assert!(err.to_string().contains("keep"), "{err}");
        let err = serde_json::from_str::<Fault>(r#""refuze""#).unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `refuze`"),
            "{err}"
        );
    }
}
