//! Parameters of a scenario file from outside it, for both readers alike: `--set
//! KEY.PATH=VALUE` (the value, flow YAML, put in place of the key's or added to its map)
//! and `${NAME}` / `${NAME:-default}` from the environment in values (`$${` is a literal
//! `${`). Both are edits of the text, made before the deserializer reads it, each edit
//! remembered, so that every later error (of YAML, of a type, of validation) is mapped
//! back to where it came from: the file's line and column, or the `--set` argument.
//!
//! Why edits of the text rather than of a parsed tree: the deserializer reads the text
//! with locations (every `Spanned` value, the secrets' ranges for redaction), and the
//! resolved text is what the run saves as `scenario.yaml`.

use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

/// Where a place of the resolved text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// 1-based line and column of the file.
    File { line: u64, col: u64 },
    /// The `--set` argument with this index (its value, or a key it added).
    Set(usize),
}

/// One replacement: `old` bytes of the input became `new` bytes of the output.
#[derive(Clone, Debug)]
struct Edit {
    old: Range<usize>,
    new: Range<usize>,
    set: Option<usize>,
}

/// The text the deserializer reads, and how to map its places back.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub text: String,
    original: String,
    /// The `--set` pass's edits, then the `${}` pass's (over the first pass's text).
    passes: [Vec<Edit>; 2],
}

/// Why the parameters could not be applied: at `origin`, under `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveError {
    pub origin: Origin,
    pub path: String,
    pub message: String,
}

/// Applies `sets` (`KEY.PATH=VALUE`), then expands `${…}` with `env`. A text that does
/// not parse is returned as it is (the deserializer words that error).
pub fn resolve(
    text: &str,
    sets: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, ResolveError> {
    let (first, set_edits) = apply_sets(text, sets)?;
    let (second, env_edits) = match expand(&first, env) {
        Ok(done) => done,
        Err((at, path, message)) => {
            let origin = back(&set_edits, text, at);
            return Err(ResolveError {
                origin,
                path,
                message,
            });
        }
    };
    Ok(Resolved {
        text: second,
        original: text.to_owned(),
        passes: [set_edits, env_edits],
    })
}

impl Resolved {
    /// The origin of 1-based `line`:`col` (characters) of [`Self::text`].
    pub fn origin(&self, line: u64, col: u64) -> Origin {
        let [sets, envs] = &self.passes;
        let at = offset_of(&self.text, line, col);
        let at = match envs.iter().find(|e| e.new.contains(&at)) {
            Some(e) => e.old.start,
            None => shift(envs, at),
        };
        back(sets, &self.original, at)
    }
}

/// Maps byte `at` of the output of `edits` over `original` to its origin.
fn back(edits: &[Edit], original: &str, at: usize) -> Origin {
    if let Some(e) = edits.iter().find(|e| e.new.contains(&at)) {
        return Origin::Set(e.set.unwrap_or(0));
    }
    let at = shift(edits, at).min(original.len());
    let before = &original[..floor_boundary(original, at)];
    let line = before.matches('\n').count() as u64 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
    Origin::File { line, col }
}

/// Output byte `at`, outside every edit, as a byte of the input.
fn shift(edits: &[Edit], at: usize) -> usize {
    let mut delta: isize = 0;
    for e in edits.iter().filter(|e| e.new.end <= at) {
        delta += e.old.len() as isize - e.new.len() as isize;
    }
    (at as isize + delta).max(0) as usize
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// 1-based line and column (characters) → byte offset (clamped to the text).
fn offset_of(text: &str, line: u64, col: u64) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[start..];
    let end = rest.find('\n').unwrap_or(rest.len());
    start
        + rest[..end]
            .char_indices()
            .nth(col.saturating_sub(1) as usize)
            .map_or(end, |(i, _)| i)
}

/// Applies the edits (sorted, not overlapping) to `text`, filling in their `new` ranges.
fn apply(text: &str, mut edits: Vec<(Range<usize>, String, Option<usize>)>) -> (String, Vec<Edit>) {
    edits.sort_by_key(|(r, _, _)| (r.start, r.end));
    let mut out = String::with_capacity(text.len());
    let mut done = Vec::new();
    let mut at = 0;
    for (old, new, set) in edits {
        out.push_str(&text[at..old.start]);
        let start = out.len();
        out.push_str(&new);
        done.push(Edit {
            old: old.clone(),
            new: start..out.len(),
            set,
        });
        at = old.end;
    }
    out.push_str(&text[at..]);
    (out, done)
}

#[path = "resolve_tree.rs"]
mod tree;
use tree::{Kind, Tree};

// ---- --set ----

/// One `--set` path segment.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `load.steps[0].rate` → segments; a key with dots may be quoted: `load.mix."a.test"`.
fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let bad = || format!("invalid key path `{path}`: expected e.g. load.steps[0].rate");
    let mut out = Vec::new();
    let mut rest = path;
    loop {
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').ok_or_else(bad)?;
            out.push(Segment::Key(r[..end].to_owned()));
            rest = &r[end + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end == 0 {
                return Err(bad());
            }
            out.push(Segment::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            out.push(Segment::Index(r[..end].parse().map_err(|_| bad())?));
            rest = &r[end + 1..];
        }
        if rest.is_empty() {
            return Ok(out);
        }
        rest = rest.strip_prefix('.').ok_or_else(bad)?;
    }
}

type SetResult = Result<(String, Vec<Edit>), ResolveError>;

fn apply_sets(text: &str, sets: &[String]) -> SetResult {
    if sets.is_empty() {
        return Ok((text.to_owned(), Vec::new()));
    }
    let fail = |i: usize, path: &str, message: String| ResolveError {
        origin: Origin::Set(i),
        path: path.to_owned(),
        message,
    };
    let Some(tree) = Tree::parse(&mask(text).0) else {
        // Not YAML: the deserializer says where; the sets wait for a file that parses.
        return Ok((text.to_owned(), Vec::new()));
    };
    let mut edits: Vec<(Range<usize>, String, Option<usize>)> = Vec::new();
    for (i, arg) in sets.iter().enumerate() {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(fail(
                i,
                "",
                "expected KEY=VALUE, e.g. load.steps[0].rate=400/s".into(),
            ));
        };
        let key = key.trim();
        if value.contains(['\n', '\r']) {
            return Err(fail(
                i,
                key,
                "the value must be one line (flow YAML: `[a, b]`, `{ k: v }`)".into(),
            ));
        }
        let segments = parse_path(key).map_err(|m| fail(i, key, m))?;
        let (node, depth) = tree.deepest(&segments);
        let edit = if depth == segments.len() {
            // The key is there: its value is replaced.
            (tree.nodes[node].bytes.clone(), value.to_owned())
        } else {
            let n = &tree.nodes[node];
            let Segment::Key(first) = &segments[depth] else {
                let Segment::Index(index) = segments[depth] else {
                    unreachable!()
                };
                let len = match &n.kind {
                    Kind::Seq => n.children.len(),
                    _ => 0,
                };
                return Err(fail(
                    i,
                    key,
                    format!("`{}` has no item [{index}] (it has {len})", n.path),
                ));
            };
            if !matches!(n.kind, Kind::Map) {
                let what = if n.path.is_empty() {
                    "the document".to_owned()
                } else {
                    format!("`{}`", n.path)
                };
                return Err(fail(
                    i,
                    key,
                    format!("{what} is not a map: cannot add `{first}` to it"),
                ));
            }
            // The missing levels are written as flow maps: `a: {b: {c: VALUE}}`.
            let mut new_value = value.to_owned();
            for segment in segments[depth + 1..].iter().rev() {
                match segment {
                    Segment::Key(k) => new_value = format!("{{ {}: {new_value} }}", quote_key(k)),
                    Segment::Index(_) => {
                        return Err(fail(
                            i,
                            key,
                            format!(
                                "`{}` is not in the file: a list item cannot be added by --set",
                                key
                            ),
                        ));
                    }
                }
            }
            tree.insert(node, &quote_key(first), &new_value)
        };
        if edits.iter().any(|(r, _, _)| overlaps(r, &edit.0)) {
            return Err(fail(
                i,
                key,
                "another --set already changes this part of the file".into(),
            ));
        }
        edits.push((edit.0, edit.1, Some(i)));
    }
    Ok(apply(text, edits))
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    (a.start < b.end && b.start < a.end) || (a.is_empty() && a.start == b.start && b.is_empty())
}

fn quote_key(key: &str) -> String {
    if plain_safe(key, true) {
        key.to_owned()
    } else {
        serde_json::to_string(key).expect("a string serializes")
    }
}

// ---- ${NAME} ----

type ExpandResult = Result<(String, Vec<Edit>), (usize, String, String)>;

fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> ExpandResult {
    if !text.contains("${") {
        return Ok((text.to_owned(), Vec::new()));
    }
    let (masked, tokens) = mask(text);
    let Some(tree) = Tree::parse(&masked) else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let mut edits = Vec::new();
    for node in &tree.nodes {
        let Kind::Scalar { value, style, flow } = &node.kind else {
            continue;
        };
        // The value as read, with each masked `${…}` in it put back as written.
        let mut value = value.clone();
        let mut from = 0;
        let mut any = false;
        for token in tokens
            .iter()
            .filter(|t| node.bytes.start <= t.start && t.end <= node.bytes.end)
        {
            let placeholder = &masked[token.clone()];
            let Some(at) = value[from..].find(placeholder).map(|i| i + from) else {
                continue;
            };
            value.replace_range(at..at + placeholder.len(), &text[token.clone()]);
            from = at + token.len();
            any = true;
        }
        if !any {
            continue;
        }
        let expanded =
            substitute(&value, env).map_err(|m| (node.bytes.start, node.path.clone(), m))?;
        let plain = *style == ScalarStyle::Plain && plain_safe(&expanded, *flow);
        let new = if plain {
            expanded
        } else {
            serde_json::to_string(&expanded).expect("a string serializes")
        };
        edits.push((node.bytes.clone(), new, None));
    }
    Ok(apply(text, edits))
}

/// `text` with every `${…}` and `$${…}` (up to the first `}` on its line) replaced by a
/// placeholder of the same length, `$___$`, that YAML reads as a plain word anywhere (a
/// `{` inside `[ … ]` would otherwise end the list), and the replaced ranges. Same
/// lengths: the masked text's places are the text's.
fn mask(text: &str) -> (String, Vec<Range<usize>>) {
    let mut masked = text.to_owned();
    let mut tokens = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("${").map(|i| i + from) {
        let start = if at > from && text.as_bytes()[at - 1] == b'$' {
            at - 1
        } else {
            at
        };
        let line_end = text[at..].find('\n').map_or(text.len(), |i| i + at);
        let Some(end) = text[at..line_end].find('}').map(|i| i + at + 1) else {
            from = at + 2;
            continue;
        };
        let placeholder = format!("${}$", "_".repeat(end - start - 2));
        masked.replace_range(start..end, &placeholder);
        tokens.push(start..end);
        from = end;
    }
    (masked, tokens)
}

/// `${NAME}`, `${NAME:-default}` (the default when NAME is unset or empty) and `$${` (a
/// literal `${`) in one value.
pub fn substitute(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(r) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("${") {
            let end = r.find('}').ok_or_else(|| {
                format!("`{rest}` has no closing `}}`: write ${{NAME}} or ${{NAME:-default}} ($${{ for a literal ${{)")
            })?;
            let inner = &r[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "invalid `${{{inner}}}`: write ${{NAME}} or ${{NAME:-default}} (NAME: letters, digits, _; $${{ for a literal ${{)"
                ));
            }
            match (env(name).filter(|v| !v.is_empty() || default.is_none()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set (`${{{name}}}`; give a default with `${{{name}:-VALUE}}`)"
                    ))
                }
            }
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `value` reads back as itself when written as a plain scalar (so that `${N}`
/// with N=5 is the number 5, as if 5 were written there): conservative, else quoted.
fn plain_safe(value: &str, flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let ok_char = |c: char| c.is_alphanumeric() || "._/:@%+=-~ ".contains(c);
    let flow_ok = !flow || !value.contains([',', '[', ']', '{', '}']);
    (first.is_alphanumeric()
        || "./+".contains(first)
        || (first == '-' && value.len() > 1 && !value[1..].starts_with(' ')))
        && value.chars().all(ok_char)
        && !value.ends_with([' ', ':'])
        && !value.contains(": ")
        && flow_ok
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
