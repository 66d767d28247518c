//! YAML syntax errors in people's terms: the parser says where it gave up ("while parsing
//! a block mapping, did not find expected key" at 9:4), not which key that line holds nor
//! what to look at. The key path of the line is read back from the lines before it by
//! their indentation (the document did not parse, so there is no tree to ask), and the
//! parser's message gets a hint for its kind of mistake.

/// One open level of the document at some line: a key (with whether it opened a block
/// under it) or a list item.
#[derive(Debug)]
enum Level {
    Key { col: usize, key: String, open: bool },
    Item { col: usize, index: usize },
}

impl Level {
    fn col(&self) -> usize {
        match self {
            Level::Key { col, .. } | Level::Item { col, .. } => *col,
        }
    }
}

/// The key path that line `line` (1-based) of `text` sits at, by indentation:
/// `load.steps[0].for` for an over-indented `for:` under a step's `rate: 100/s`. A key more
/// indented than a sibling whose value is on its own line cannot be that sibling's child,
/// so it is named as the sibling it was probably meant to be. Empty when nothing is known.
pub fn key_path_at(text: &str, line: u64) -> String {
    let mut stack: Vec<Level> = Vec::new();
    // Lines of a block scalar (`|`, `>`) are text, not keys: skipped while indented more
    // than the key that opened it.
    let mut block_scalar_under: Option<usize> = None;
    for raw in text.lines().take(line as usize) {
        let trimmed = raw.trim_start_matches([' ', '\t']);
        let mut col = raw.len() - trimmed.len();
        if trimmed.trim().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(under) = block_scalar_under {
            if col > under {
                continue;
            }
            block_scalar_under = None;
        }
        let mut rest = trimmed;
        // `- ` items, possibly nested on one line (`- - a`).
        while rest == "-" || rest.starts_with("- ") {
            let mut popped_index = None;
            while stack.last().is_some_and(|l| l.col() > col) {
                if let Some(Level::Item { index, .. }) = stack.pop() {
                    popped_index = Some(index);
                }
            }
            match stack.last_mut() {
                Some(Level::Item { col: c, index }) if *c == col => *index += 1,
                // An item less indented than its siblings still follows them.
                _ => stack.push(Level::Item {
                    col,
                    index: popped_index.map_or(0, |i| i + 1),
                }),
            }
            let after = rest[1..].trim_start_matches(' ');
            col += rest.len() - after.len();
            rest = after;
        }
        let Some((key, value)) = split_key(rest) else {
            continue;
        };
        while stack.last().is_some_and(|l| {
            l.col() > col
                || (l.col() == col && matches!(l, Level::Key { .. }))
                || matches!(l, Level::Key { open: false, .. })
        }) {
            stack.pop();
        }
        let value = value.split(" #").next().unwrap_or("").trim();
        if value.starts_with('|') || value.starts_with('>') {
            block_scalar_under = Some(col);
        }
        stack.push(Level::Key {
            col,
            key: key.to_owned(),
            open: value.is_empty(),
        });
    }
    let mut path = String::new();
    for level in &stack {
        match level {
            Level::Key { key, .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Level::Item { index, .. } => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

/// `key: value` → (key, value), for plain and quoted keys; `None` for a line that is not
/// a block map entry (a flow item, a continued string).
fn split_key(line: &str) -> Option<(&str, &str)> {
    if let Some(quote @ ('"' | '\'')) = line.chars().next() {
        let end = line[1..].find(quote)? + 1;
        let after = line[end + 1..].trim_start_matches(' ');
        let value = after.strip_prefix(':')?;
        return (value.is_empty() || value.starts_with(' ')).then(|| (&line[1..end], value));
    }
    if line.starts_with(['{', '[', '&', '*', '!', '|', '>', '?']) {
        return None;
    }
    let at = line
        .match_indices(':')
        .map(|(i, _)| i)
        .find(|&i| line[i + 1..].is_empty() || line[i + 1..].starts_with(' '))?;
    let key = line[..at].trim_end();
    (!key.is_empty() && !key.contains(" #")).then(|| (key, &line[at + 1..]))
}

/// A hint for a parser message, by the kind of mistake it usually means; `None` when the
/// message needs none.
pub fn hint(message: &str) -> Option<&'static str> {
    let flow = [
        "did not find expected ',' or ']'",
        "did not find expected ',' or '}'",
        "while parsing a flow",
        "illegal placement of ':' indicator",
        "flow sequence",
        "flow mapping",
    ];
    let indentation = [
        "block mapping",
        "block collection",
        "block sequence",
        "did not find expected key",
        "did not find expected '-'",
        "mapping values are not allowed",
        "tabs disallowed",
        "invalid indentation",
        "indentation",
    ];
    if flow.iter().any(|m| message.contains(m)) {
        Some(
            "check the `[ … ]` and `{ … }` around here: each must be closed, with commas \
             between items",
        )
    } else if message.contains("tabs disallowed") {
        Some("indent with spaces, not tabs")
    } else if indentation.iter().any(|m| message.contains(m)) {
        Some(
            "check the indentation of this line against its siblings (keys of one map line \
             up; a value holding `: ` must be quoted)",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_by_indentation() {
        let doc = "\
version: 1
load:
  steps:
    - rate: 100/s
       for: 1m
    - rate: 5/s
  mix: { ok.test: 90% }
   sessions: 3
remotes:
  down:
    domains: [down.test]
      listen: 127.0.0.1:0
  'quoted key':
    x: |
      not: a key
    y: 2
checks:
  - no_loss
 - no_duplicates
";
        let table: &[(u64, &str)] = &[
            (1, "version"),
            (2, "load"),
            (4, "load.steps[0].rate"),
            (5, "load.steps[0].for"),
            (6, "load.steps[1].rate"),
            (8, "load.sessions"),
            (12, "remotes.down.listen"),
            (13, "remotes.quoted key"),
            (15, "remotes.quoted key.x"),
            (16, "remotes.quoted key.y"),
            (18, "checks[0]"),
            (19, "checks[1]"),
            (0, ""),
        ];
        for (line, want) in table {
            assert_eq!(key_path_at(doc, *line), *want, "line {line}");
        }
    }

    #[test]
    fn hints_by_kind_of_mistake() {
        let indentation = "check the indentation of this line against its siblings";
        let table: &[(&str, Option<&str>)] = &[
            (
                "while parsing a block mapping, did not find expected key",
                Some(indentation),
            ),
            (
                "mapping values are not allowed in this context",
                Some(indentation),
            ),
            (
                "illegal placement of ':' indicator",
                Some("check the `[ … ]`"),
            ),
            (
                "did not find expected ',' or ']'",
                Some("check the `[ … ]`"),
            ),
            (
                "tabs disallowed within this context (block indentation)",
                Some("indent with spaces"),
            ),
            ("missing field `load`", None),
        ];
        for (message, want) in table {
            match (hint(message), want) {
                (Some(got), Some(want)) => assert!(got.starts_with(want), "{message}: {got}"),
                (got, want) => assert_eq!(got.is_none(), want.is_none(), "{message}: {got:?}"),
            }
        }
    }
}
