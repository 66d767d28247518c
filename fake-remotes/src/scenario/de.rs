//! The deserializer building blocks of the scenario format, shared by every part of it:
//! [`Text`] (a scalar as written), [`Entries`] (a map keyed by names, in file order) and
//! [`StringOrMap`] (the one visitor for values written as a word or as a map).
//!
//! Why hand-written rather than `untagged`/`flatten`: serde buffers such values into its
//! own `Content` and the YAML deserializer's locations are lost, so `Spanned` values
//! inside them and the error's line:col would point nowhere. Here the map (or list) goes
//! straight on to the YAML deserializer.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, value::MapAccessDeserializer, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
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

/// Reads a map of named entries, keeping the key being read in [`ENTRY_KEY`];
/// `entry` reads one value (given its key) and keeps it.
pub fn visit_entries<'de, A: MapAccess<'de>>(
    map: &mut A,
    mut entry: impl FnMut(&mut A, Spanned<String>) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    loop {
        ENTRY_KEY.with(|k| k.borrow_mut().take());
        let Some(key) = map.next_key::<Spanned<String>>()? else {
            break;
        };
        ENTRY_KEY.with(|k| *k.borrow_mut() = Some(key.value.clone()));
        entry(map, key)?;
    }
    ENTRY_KEY.with(|k| k.borrow_mut().take());
    Ok(())
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
                visit_entries(&mut map, |map, key| {
                    entries.push((key, map.next_value()?));
                    Ok(())
                })?;
                Ok(Entries(entries))
            }
        }
        de.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// A value written as a word (`fault: refuse`, `during: faults`) or as a map
/// (`fault: { tarpit: {...} }`), or for some also as a list. Implement it and
/// deserialize with [`string_or_map`]; whatever is not accepted is an "invalid type"
/// error saying [`Self::EXPECTING`].
pub trait StringOrMap<'de>: Sized {
    /// What may be written, for error messages.
    const EXPECTING: &'static str;
    /// Numbers are read as the word they were written as (`size: 4096`).
    const NUMBERS_AS_WORDS: bool = false;

    fn from_str<E: de::Error>(word: &str) -> Result<Self, E>;

    /// The map is read by the YAML deserializer itself (locations kept): hand it on with
    /// `MapAccessDeserializer`, or read its keys.
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;

    fn from_seq<A: SeqAccess<'de>>(_seq: A) -> Result<Self, A::Error> {
        Err(de::Error::invalid_type(
            de::Unexpected::Seq,
            &Self::EXPECTING,
        ))
    }
}

/// Deserializes a [`StringOrMap`] value.
pub fn string_or_map<'de, T: StringOrMap<'de>, D: Deserializer<'de>>(de: D) -> Result<T, D::Error> {
    struct OneVisitor<T>(PhantomData<T>);
    impl<'de, T: StringOrMap<'de>> Visitor<'de> for OneVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            T::from_str(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            if !T::NUMBERS_AS_WORDS {
                return Err(E::invalid_type(de::Unexpected::Unsigned(v), &self));
            }
            T::from_str(&v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            if !T::NUMBERS_AS_WORDS {
                return Err(E::invalid_type(de::Unexpected::Signed(v), &self));
            }
            T::from_str(&v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            if !T::NUMBERS_AS_WORDS {
                return Err(E::invalid_type(de::Unexpected::Float(v), &self));
            }
            T::from_str(&v.to_string())
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::from_map(map)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
            T::from_seq(seq)
        }
    }
    de.deserialize_any(OneVisitor(PhantomData))
}

/// Reads a one-key map's single entry as `T` (the map goes on as it is, so nested values
/// are still read by the YAML deserializer), then fails if there is a second key:
/// `{ tarpit: {...}, refuse: ~ }` is two things.
pub fn one_key_map<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    mut map: A,
    what: &'static str,
) -> Result<T, A::Error> {
    let value = T::deserialize(MapAccessDeserializer::new(&mut map))?;
    one_key(&mut map, what)?;
    Ok(value)
}

/// Fails if `map` has another key: `what` is a map with exactly one key.
pub fn one_key<'de, A: MapAccess<'de>>(map: &mut A, what: &'static str) -> Result<(), A::Error> {
    match map.next_key::<IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::custom(format!(
            "{what} is a map with exactly one key"
        ))),
    }
}

/// Reads a whole map as `T`, handed on to the YAML deserializer (locations kept).
pub fn read_map<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: A) -> Result<T, A::Error> {
    T::deserialize(MapAccessDeserializer::new(map))
}

/// Reads a whole list as `T`, handed on to the YAML deserializer (locations kept).
pub fn read_seq<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: A) -> Result<T, A::Error> {
    T::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
}
