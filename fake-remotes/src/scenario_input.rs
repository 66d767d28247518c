//! Reading a scenario file without trusting it: what both readers share (mailquake's
//! loader and the `fake-remotes` binary's). A scenario is a small YAML text file, so
//! anything else is refused on one line before it can block, fill memory or take long:
//!
//! - not a regular file (a directory, a FIFO, `/dev/zero`): refused from the opened
//!   file's metadata; the file is opened non-blocking, so a FIFO with no writer does not
//!   hang the open;
//! - more than [`MAX_BYTES`]: refused from the metadata, and enforced while reading too
//!   (a file that grows, a `/proc` file whose size reads 0);
//! - a NUL byte or invalid UTF-8 (binary data): refused with its line and column;
//! - YAML nested deeper than [`MAX_DEPTH`], or with more than [`MAX_NODES`] values once
//!   aliases are expanded (an alias bomb): the parser stops at the limit ([`yaml_options`],
//!   worded by [`limit_message`]).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest scenario file read: 1 MiB (a large real scenario is a few KiB).
pub const MAX_BYTES: u64 = 1 << 20;
/// Deepest nesting of maps and lists (a scenario needs about 6).
pub const MAX_DEPTH: usize = 32;
/// Most YAML values (scalars, maps, lists) in a scenario, aliases expanded included.
pub const MAX_NODES: usize = 100_000;
/// Most alias uses (`*name`) and anchors (`&name`).
pub const MAX_ALIASES: usize = 1_000;

/// Most remotes a scenario may name (each binds a port), and most domains they serve
/// together (each is compared with every other).
pub const MAX_REMOTES: usize = 1_000;
pub const MAX_DOMAINS: usize = 1_000;
/// Most entries of `faults`.
pub const MAX_FAULTS: usize = 1_000;

/// Why a file could not be read as text; `line`/`col` are 1-based, 0 when the problem
/// has no place in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub line: u64,
    pub col: u64,
    pub message: String,
}

impl InputError {
    fn whole(message: String) -> Self {
        InputError {
            line: 0,
            col: 0,
            message,
        }
    }
}

/// Reads a scenario file's text under the limits above.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let cannot = |e: std::io::Error| InputError::whole(format!("cannot read: {e}"));
    // Non-blocking: opening a FIFO for reading otherwise waits for a writer. A regular
    // file ignores the flag.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    // The opened file's own metadata: the path cannot be swapped after the check.
    let meta = file.metadata().map_err(cannot)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(InputError::whole(format!(
            "is {what}: a scenario is a regular YAML file"
        )));
    }
    if meta.len() > MAX_BYTES {
        return Err(too_large(&format!("is {} bytes", meta.len())));
    }
    text(read_capped(file, meta.len())?)
}

/// Reads at most [`MAX_BYTES`]: one byte more tells a file that grew (or whose size
/// lied, as `/proc` files do) from one at the cap.
fn read_capped(reader: impl Read, size_hint: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::with_capacity(size_hint.min(MAX_BYTES) as usize);
    reader
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::whole(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_large("grew past the cap while read"));
    }
    Ok(bytes)
}

fn too_large(size: &str) -> InputError {
    InputError::whole(format!(
        "the file {size}: a scenario file is at most 1 MiB ({MAX_BYTES} bytes)"
    ))
}

/// Bytes → text, refusing binary data (a NUL byte, invalid UTF-8) at its line and column.
pub fn text(bytes: Vec<u8>) -> Result<String, InputError> {
    let valid = match std::str::from_utf8(&bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    let nul = memchr::memchr(0, &bytes[..valid]);
    let (offset, message) = match nul {
        Some(at) => (
            at,
            "a NUL byte: this is binary data, a scenario is YAML text",
        ),
        None if valid < bytes.len() => (valid, "the file is not valid UTF-8"),
        None => return String::from_utf8(bytes).map_err(|_| unreachable_utf8()),
    };
    // The prefix is valid UTF-8: count lines, and characters on the last one.
    let before = std::str::from_utf8(&bytes[..offset]).map_err(|_| unreachable_utf8())?;
    let line = before.matches('\n').count() as u64 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
    Err(InputError {
        line,
        col,
        message: message.to_owned(),
    })
}

fn unreachable_utf8() -> InputError {
    InputError::whole("the file is not valid UTF-8".to_owned())
}

/// Parser options for scenario text: one-line errors (no snippet) and limits that stop a
/// hostile document early: nesting, values, aliases and their expansion.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    // Snippets are multi-line; our errors are one line (the location is in the prefix).
    options.with_snippet = false;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_events = 2 * MAX_NODES;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    budget.max_total_scalar_bytes = MAX_BYTES as usize;
    budget.max_recorded_anchor_bytes = MAX_BYTES as usize;
    budget.max_recorded_anchor_events = MAX_NODES;
    budget.max_reader_input_bytes = Some(MAX_BYTES as usize);
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_NODES;
    options.alias_limits.max_replay_stack_depth = MAX_DEPTH;
    options
}

/// The people's words for a parse stopped by [`yaml_options`]' limits, if it was.
pub fn limit_message(err: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    let mut inner = err;
    while let serde_saphyr::Error::WithSnippet { error, .. }
    | serde_saphyr::Error::AliasError { error, .. } = inner
    {
        inner = error;
    }
    let deep = || {
        format!(
            "nested deeper than {MAX_DEPTH} levels of maps and lists: a scenario needs a handful"
        )
    };
    let big = || {
        format!("more than {MAX_NODES} YAML values (aliases expanded): a scenario has far fewer; an alias bomb?")
    };
    let message = match inner {
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => deep(),
            BudgetBreach::Aliases { .. }
            | BudgetBreach::Anchors { .. }
            | BudgetBreach::AliasAnchorRatio { .. } => format!(
                "too many aliases or anchors (at most {MAX_ALIASES}, and at most 10 uses per anchor): an alias bomb?"
            ),
            BudgetBreach::Nodes { .. }
            | BudgetBreach::Events { .. }
            | BudgetBreach::RecordedAnchorEvents { .. } => big(),
            BudgetBreach::ScalarBytes { .. } | BudgetBreach::RecordedAnchorBytes { .. } => {
                format!("more than {MAX_BYTES} bytes of text (aliases expanded): a scenario has far fewer; an alias bomb?")
            }
            _ => format!(
                "the YAML exceeds a parser limit ({breach:?}): a scenario is small"
            ),
        },
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. } => big(),
        serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => deep(),
        other => {
            let text = serde_saphyr::MessageFormatter::format_message(
                &serde_saphyr::DefaultMessageFormatter,
                other,
            );
            if text.contains("recursion limit exceeded") {
                deep()
            } else {
                return None;
            }
        }
    };
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_data_is_refused_at_its_line_and_column() {
        /// The text, or where and why it is refused.
        type Want = Result<&'static str, (u64, u64, &'static str)>;
        let table: [(&[u8], Want); 5] = [
            (b"a: 1\n", Ok("a: 1\n")),
            (b"a: 1\nb: \x00", Err((2, 4, "a NUL byte"))),
            // Columns count characters, not bytes.
            (
                "a: 1\nb: \u{e9}\u{e9}".as_bytes(),
                Ok("a: 1\nb: \u{e9}\u{e9}"),
            ),
            (
                b"a: 1\nb: \xc3\xa9\xff",
                Err((2, 5, "the file is not valid UTF-8")),
            ),
            // Whichever comes first.
            (b"\xff\x00", Err((1, 1, "the file is not valid UTF-8"))),
        ];
        for (bytes, want) in table {
            match (text(bytes.to_vec()), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(got), Err((line, col, message))) => {
                    assert_eq!((got.line, got.col), (line, col), "{bytes:?}");
                    assert!(got.message.starts_with(message), "{}", got.message);
                }
                (got, want) => panic!("{bytes:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_size_cap_holds_while_reading_whatever_the_size_said() {
        // An endless reader that claimed to be empty, like a /proc file.
        let err = read_capped(std::io::repeat(b'a'), 0).unwrap_err();
        assert_eq!(
            err.message,
            "the file grew past the cap while read: a scenario file is at most 1 MiB (1048576 bytes)"
        );
        let at_cap = read_capped(std::io::repeat(b'a').take(MAX_BYTES), 0).unwrap();
        assert_eq!(at_cap.len() as u64, MAX_BYTES);
    }

    /// Hostile YAML under [`yaml_options`]: stopped with people's words, whatever reads it
    /// (here `IgnoredAny`, which would expand everything).
    #[test]
    fn hostile_yaml_stops_at_a_limit_with_a_plain_message() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (i, pair) in b"abcdefghi".windows(2).enumerate() {
            let alias = format!("*{}", pair[0] as char);
            let items = [alias.as_str(); 9].join(", ");
            bomb.push_str(&format!("k{i}: &{} [{items}]\n", pair[1] as char));
        }
        bomb.push_str("use: *i\n");
        let block: String = (0..100).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let long = format!("x: &s \"{}\"\ny: [*s, *s, *s]\n", "y".repeat(400_000));
        let table = [
            ("[".repeat(100_000), "nested deeper than 32 levels"),
            (block, "nested deeper than 32 levels"),
            (bomb, "more than 100000 YAML values (aliases expanded)"),
            (long, "more than 1048576 bytes of text (aliases expanded)"),
        ];
        for (text, want) in table {
            let err =
                serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(&text, yaml_options())
                    .unwrap_err();
            let message = limit_message(&err).unwrap_or_else(|| panic!("not a limit: {err}"));
            assert!(message.starts_with(want), "{message}");
        }
    }
}
