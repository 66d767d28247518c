//! Scenario text → its serde mirror (mailquake's whole file, or the `fake-remotes`
//! binary's part of it), and the deserializer's errors → a [`YamlError`] both readers
//! print alike: the location comes from serde-saphyr, the key path from
//! `serde_path_to_error`, the message is reworded for people (keys, not fields) and kept
//! on one line.

use serde::de::DeserializeOwned;
use serde_saphyr::MessageFormatter;

use super::de::failed_entry_key;
use super::syntax;
use crate::scenario_input;

/// Why scenario text does not fit its mirror.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based; 0 when unknown.
    pub line: u64,
    pub col: u64,
    /// The key path, e.g. `load.steps[0].rate`; empty for the document itself.
    pub path: String,
    pub message: String,
}

/// Runs the YAML deserializer, keeping the key path of the first error.
pub fn deserialize<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    // One-line errors, and limits on nesting, size and alias expansion.
    let options = scenario_input::yaml_options();
    let mut path = String::new();
    // A stale key from an earlier parse on this thread must not name this one's entry.
    failed_entry_key();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = key_path(e.path(), failed_entry_key());
            e.into_inner()
        })
    });
    failed_entry_key();
    result.map_err(|e| yaml_error(&e, &path, text))
}

/// `serde_path_to_error`'s path in the words of the file: `load.steps[0].rate`.
///
/// Every `Spanned<T>` adds a `value` segment (it is read as a map `{value, referenced,
/// defined}`), and the parser adds `?` segments where it has no key; both are dropped.
/// The key of an [`Entries`](super::de::Entries) map (`remotes`, `load.mix`) is one of
/// those `?`s: it is filled in from `entry_key`. Such a key may itself be `value`.
fn key_path(path: &serde_path_to_error::Path, entry_key: Option<String>) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut entry_key = entry_key;
    let mut entry_next = false;
    let push = |out: &mut String, key: &str| {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    };
    for segment in path.iter() {
        let at_entry = std::mem::take(&mut entry_next);
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if key == "value" {
                    // The `Spanned` marker of an entries map comes right before its key.
                    entry_next = out == "remotes" || out == "load.mix";
                    continue;
                }
                push(&mut out, key);
            }
            Segment::Unknown => {
                if let Some(key) = entry_key.take().filter(|_| at_entry) {
                    push(&mut out, &key);
                }
            }
        }
    }
    out
}

/// An error of the YAML parser itself (the text is not YAML), not of its fit to the mirror.
fn is_syntax_error(err: &serde_saphyr::Error) -> bool {
    matches!(err, serde_saphyr::Error::ExternalMessage { source, .. }
        if matches!(**source, serde_saphyr::ExternalMessageSource::Parser(_)))
}

fn yaml_error(err: &serde_saphyr::Error, path: &str, text: &str) -> YamlError {
    let mut inner = err;
    while let serde_saphyr::Error::WithSnippet { error, .. }
    | serde_saphyr::Error::AliasError { error, .. } = inner
    {
        inner = error;
    }
    let raw = serde_saphyr::DefaultMessageFormatter.format_message(inner);
    let (mut line, mut col) = err.location().map_or((0, 0), |l| (l.line(), l.column()));
    let content = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let blank = !text.lines().any(content);
    if path.is_empty() && matches!(inner, serde_saphyr::Error::SerdeMissingField { .. }) {
        // The parser reports a missing top-level key where the document ends, next to
        // whatever key came last; the document's first key is the less misleading place.
        if let Some(first) = text.lines().position(content) {
            line = first as u64 + 1;
            col = 1;
        }
    }
    let mut path = path.to_owned();
    let message = if blank {
        "the file is empty: a scenario needs at least version, name, remotes, load and checks"
            .to_owned()
    } else if let Some(limit) = scenario_input::limit_message(err) {
        limit
    } else if is_syntax_error(inner) {
        let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        match syntax::hint(&one_line) {
            Some(hint) => {
                // Where the parser was (kept for an unclosed `[`/`{`, whose start it
                // names better) or else the key of the line it stopped at.
                let at_line = syntax::key_path_at(text, line);
                if (!hint.contains("`[ … ]`") || path.is_empty()) && !at_line.is_empty() {
                    path = at_line;
                }
                format!("{one_line}; {hint}")
            }
            None => one_line,
        }
    } else {
        people_words(&raw, &path)
    };
    YamlError {
        line,
        col,
        path,
        message,
    }
}

/// Serde speaks of fields, variants and mappings; a scenario has keys, kinds and maps.
fn people_words(message: &str, path: &str) -> String {
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(key) = one_line.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return format!("duplicate key `{key}`: each key may appear once");
    }
    if path.is_empty() && one_line == "expected mapping start" {
        return "a scenario is a map of keys (version, name, remotes, load, checks, …)".to_owned();
    }
    if one_line.starts_with("multiple YAML documents detected") {
        return "a scenario file holds one YAML document: remove the second `---` and what \
                follows"
            .to_owned();
    }
    // The deserializer's phrasings for shape mismatches, in the scenario's terms.
    let whole: &[(&str, &str)] = &[
        (
            "expected mapping start",
            "expected a map (`key: value` lines or `{ … }`)",
        ),
        (
            "expected sequence start",
            "expected a list (`- item` lines or `[ … ]`)",
        ),
        (
            "expected string scalar",
            "expected a single value, not a list or a map",
        ),
        (
            "unexpected value for unit",
            "takes no settings: write the bare name",
        ),
        (
            "expected end of mapping after enum variant value",
            "expected a map with exactly one key",
        ),
    ];
    if let Some((_, better)) = whole.iter().find(|(raw, _)| one_line == *raw) {
        return (*better).to_owned();
    }
    if one_line.starts_with("cannot deserialize null into") {
        return "a value is required here".to_owned();
    }
    if let Some(head) = one_line.strip_suffix(", expected one of") {
        // deny_unknown_fields on a struct with no fields: serde lists nothing.
        return format!(
            "{}: this takes no settings",
            head.replace("unknown field", "unknown key")
        );
    }
    let kind = if path.ends_with(".fault") {
        "unknown fault"
    } else if path.starts_with("checks[") && !path.contains('.') {
        "unknown check"
    } else {
        "unknown value"
    };
    one_line
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing required key")
        .replace("duplicate field", "duplicate key")
        .replace("unknown variant", kind)
}
