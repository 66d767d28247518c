//! Hostile scenario files through the `mailquake` binary: a directory, `/dev/zero`, a
//! FIFO with no writer, a 100 MB file, binary data, invalid UTF-8, deep nesting, an
//! alias bomb and 10,000 remotes are each refused on one exact line with exit 2, quickly,
//! by `validate` and by `run` (which must not start anything). The large inputs are
//! generated here (the 100 MB file is sparse: it costs no disk).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::binary::{mailquake_os, Finished};

/// Far above what any case takes (a few ms to a few s in a debug build); a case that
/// blocks or explodes is killed here and fails.
const BOUND: Duration = Duration::from_secs(60);

/// `version: 1` and the start of a scenario, then `rest`.
fn head(rest: &str) -> String {
    format!("version: 1\nname: hostile\n{rest}")
}

/// The alias bomb ("billion laughs"): 9 levels of 9 aliases each, 9^9 strings expanded.
fn alias_bomb(prefix: &str, use_at: &str) -> String {
    let mut text = String::from(prefix);
    text.push_str("x0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = b"abcdefghi";
    for level in 1..names.len() {
        let this = names[level] as char;
        let below = format!("*{}", names[level - 1] as char);
        let items = [below.as_str(); 9].join(", ");
        text.push_str(&format!("x{level}: &{this} [{items}]\n"));
    }
    text.push_str(&format!("{use_at}: *i\n"));
    text
}

/// The ten-thousand-remotes scenario, otherwise valid.
fn many_remotes(n: usize) -> String {
    let mut text = head("remotes:\n");
    for i in 0..n {
        text.push_str(&format!("  r{i}: {{ domains: [r{i}.test] }}\n"));
    }
    text.push_str("load: { steps: [ { rate: 1/s, for: 1s } ], mix: { r0.test: 100% } }\n");
    text.push_str("checks: [no_loss]\n");
    text
}

/// (case, file, the expected line after `FILE:`, or `None` where only the shape is fixed).
fn cases(dir: &Path) -> Vec<(&'static str, PathBuf, Option<String>)> {
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let fifo = dir.join("fifo.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let big = dir.join("big.yaml");
    // Sparse: the length is set, no block is written.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let regular = ": a scenario is a regular YAML file";
    vec![
        (
            "a directory",
            dir.to_path_buf(),
            Some(format!(" is a directory{regular}")),
        ),
        (
            "/dev/zero",
            PathBuf::from("/dev/zero"),
            Some(format!(" is a character device{regular}")),
        ),
        (
            "a FIFO without a writer",
            fifo,
            Some(format!(" is a FIFO (named pipe){regular}")),
        ),
        (
            "a 100 MB file",
            big,
            Some(
                " the file is 104857600 bytes: a scenario file is at most 1 MiB (1048576 bytes)"
                    .into(),
            ),
        ),
        (
            "binary garbage",
            write(
                "garbage.yaml",
                b"version: 1\nname: x\n\x7fELF\x02\x01\x01\x00\x00\xff\xfe",
            ),
            Some("3:8: a NUL byte: this is binary data, a scenario is YAML text".into()),
        ),
        (
            "invalid UTF-8",
            write("latin1-bad.yaml", b"version: 1\nname: caf\xe9 \xe9t\xe9\n"),
            Some("2:10: the file is not valid UTF-8".into()),
        ),
        (
            "deep nesting",
            write("deep.yaml", head(&"[".repeat(100_000)).as_bytes()),
            Some(
                "3:33: nested deeper than 32 levels of maps and lists: a scenario needs a handful"
                    .into(),
            ),
        ),
        (
            "an alias bomb",
            write(
                "bomb.yaml",
                alias_bomb(&head("description: &z x\n"), "load").as_bytes(),
            ),
            None,
        ),
        (
            "10,000 remotes",
            write("many.yaml", many_remotes(10_000).as_bytes()),
            Some("1004:3: remotes: 10000 remotes: at most 1000 are allowed".into()),
        ),
    ]
}

#[test]
fn hostile_scenario_files_get_one_line_and_exit_2_quickly() {
    let dir = tempfile::tempdir().unwrap();
    for (case, path, want) in cases(dir.path()) {
        for command in ["validate", "run"] {
            let Finished {
                code,
                stderr,
                elapsed: took,
                ..
            } = mailquake_os(&[command.as_ref(), path.as_os_str()]).run(BOUND);
            assert_eq!(code, Some(2), "{case} ({command}): {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{case} ({command}): {stderr:?}");
            let rest = stderr
                .trim_end()
                .strip_prefix(&format!("{}:", path.display()))
                .unwrap_or_else(|| panic!("{case}: no file prefix in {stderr}"));
            match &want {
                Some(want) => assert_eq!(rest, want, "{case} ({command})"),
                None => assert!(
                    rest.split(':').next().unwrap().parse::<u32>().is_ok(),
                    "{case} ({command}): no line in {stderr}"
                ),
            }
            eprintln!("{case} ({command}): {took:?}");
        }
    }
}

#[test]
fn the_library_reports_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    for (case, path, want) in cases(dir.path()) {
        let Some(want) = want else { continue };
        let got = mailquake::scenario::load(&path).unwrap_err().to_string();
        assert_eq!(got, format!("{}:{want}", path.display()), "{case}");
    }
}
