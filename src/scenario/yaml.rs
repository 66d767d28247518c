//! YAML text → [`RawScenario`], and the deserializer's errors → [`ScenarioError`]: the
//! location comes from serde-saphyr, the key path from `serde_path_to_error`, the message
//! is reworded for people (keys, not fields) and kept on one line.

use std::path::Path;

use serde_saphyr::{Location, MessageFormatter};

use super::raw::RawScenario;
use super::ScenarioError;

/// Runs the YAML deserializer, keeping the key path of the first error.
pub fn deserialize(text: &str, file: &Path) -> Result<RawScenario, ScenarioError> {
    let mut options = serde_saphyr::Options::default();
    // Snippets are multi-line; our errors are one line (the location is in the prefix).
    options.with_snippet = false;
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = key_path(e.path());
            e.into_inner()
        })
    });
    result.map_err(|e| yaml_error(&e, &path, text, file))
}

/// `serde_path_to_error`'s path in the words of the file: `load.steps[0].rate`.
///
/// Every `Spanned<T>` adds a `value` segment (it is read as a map `{value, referenced,
/// defined}`), and the parser adds `?` segments where it has no key yet; both are dropped.
/// A real key named `value` can only be a remote name or a mix domain, i.e. the entry key
/// right after `remotes` / `mix` (whose own `Spanned` marker comes first), and is kept.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut entry_key_next = false;
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if key == "value" && !entry_key_next {
                    entry_key_next = out == "remotes" || out == "load.mix";
                    continue;
                }
                entry_key_next = false;
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn yaml_error(err: &serde_saphyr::Error, path: &str, text: &str, file: &Path) -> ScenarioError {
    let mut inner = err;
    while let serde_saphyr::Error::WithSnippet { error, .. }
    | serde_saphyr::Error::AliasError { error, .. } = inner
    {
        inner = error;
    }
    let raw = serde_saphyr::DefaultMessageFormatter.format_message(inner);
    let location = err.location().unwrap_or(Location::UNKNOWN);
    let blank = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    let message = if blank {
        "the file is empty: a scenario needs at least version, name, remotes, load and checks"
            .to_owned()
    } else {
        people_words(&raw, path)
    };
    ScenarioError {
        file: file.to_owned(),
        line: location.line(),
        col: location.column(),
        path: path.to_owned(),
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
