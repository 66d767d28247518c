//! Stages import one way (issue 10): a table of forbidden edges between the modules of
//! `src/` (and from the `fake-remotes` crate to `mailquake`), checked by reading the
//! sources. A `crate::<module>` path (in a `use` or inline, grouped `crate::{a, b}`
//! included) from a stage to a module it must not know fails the test, with file and line.

use std::path::{Path, PathBuf};

/// Where a module may not reach: (module, modules it must not import). The first column
/// is a top-level module of `src/` (a file `src/<m>.rs` or a folder `src/<m>/`).
const FORBIDDEN: &[(&str, &[&str])] = &[
    // The report renders what the stages measured, through neutral types.
    ("report", &["generator", "cluster"]),
    // Checks judge the ledger and the plan only.
    ("checks", &["generator", "cluster", "smtp", "report", "run"]),
    // The collector owns the ledger; the stages tell it things, it asks none of them.
    (
        "collector",
        &["generator", "cluster", "checks", "report", "run"],
    ),
    // The cluster under test does not know who floods it.
    ("cluster", &["generator", "checks", "report", "run"]),
    // The diagnosis reads the nodes and the ledger; its rules judge no check.
    ("diagnose", &["generator", "checks", "report", "run"]),
    // The neutral measurements sit between the generator and the report.
    ("measure", &["generator", "report", "cluster", "collector"]),
    // The validated plan comes first: nothing downstream of it.
    (
        "scenario",
        &[
            "generator",
            "cluster",
            "collector",
            "checks",
            "report",
            "run",
            "remotes",
            "timeline",
            "flood",
            "preflight",
            "guardian",
            "heal",
            "journal",
            "measure",
            "abort",
            "out_dir",
            "capacity",
        ],
    ),
];

/// Modules that are leaves: they import no other module of the crate.
const LEAVES: &[&str] = &["tracking"];

/// The first module name of each `<root>::` path in `source`, with its line number
/// (1-based). Comments are skipped; `<root>::{a::b, c}` yields `a` and `c`.
fn paths_into(source: &str, root: &str) -> Vec<(usize, String)> {
    let code: Vec<String> = source.lines().map(strip_comment).collect();
    let text = code.join("\n");
    let prefix = format!("{root}::");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(&prefix) {
        let start = from + at;
        from = start + prefix.len();
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `my_crate::`, not `crate::`
        }
        let line = text[..start].matches('\n').count() + 1;
        let rest = &text[from..];
        if let Some(group) = rest.strip_prefix('{') {
            for item in top_level_items(group) {
                if let Some(name) = first_segment(item) {
                    out.push((line, name));
                }
            }
        } else if let Some(name) = first_segment(rest) {
            out.push((line, name));
        }
    }
    out
}

/// The line without its `//` comment (one outside a string literal).
fn strip_comment(line: &str) -> String {
    let mut in_string = false;
    let mut escaped = false;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '/' if !in_string && prev == '/' => return line[..i - 1].to_owned(),
            _ => {}
        }
        prev = c;
    }
    line.to_owned()
}

/// The comma-separated items of a `{...}` group (its text after the `{`), nested groups
/// kept whole.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

/// The forbidden imports in one file of `module`: `file:line: module → target` each.
fn violations(file: &str, source: &str, module: &str) -> Vec<String> {
    let forbidden: &[&str] = FORBIDDEN
        .iter()
        .find(|(m, _)| *m == module)
        .map_or(&[], |(_, f)| f);
    let leaf = LEAVES.contains(&module);
    paths_into(source, "crate")
        .into_iter()
        .filter(|(_, to)| forbidden.contains(&to.as_str()) || (leaf && to != module))
        .map(|(line, to)| format!("{file}:{line}: {module} → {to}"))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every Rust file under `dir`: (path relative to the repository, source text, path).
fn sources(dir: &Path) -> Vec<(String, String, PathBuf)> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files
        .into_iter()
        .map(|file| {
            let source = std::fs::read_to_string(&file).expect("readable source");
            let rel = file
                .strip_prefix(root())
                .unwrap_or(&file)
                .display()
                .to_string();
            (rel, source, file)
        })
        .collect()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The top-level module of a file under `src/`.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(root().join("src")).expect("under src/");
    let first = rel.components().next().expect("a path").as_os_str();
    let first = first.to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_owned()
}

#[test]
fn stages_import_one_way() {
    // Every module the table names exists, so a rename cannot quietly drop a rule.
    let src = root().join("src");
    let exists = |m: &str| src.join(format!("{m}.rs")).is_file() || src.join(m).is_dir();
    for (module, forbidden) in FORBIDDEN {
        for m in std::iter::once(module).chain(forbidden.iter()) {
            assert!(
                exists(m),
                "the import rules name `{m}`, which is not a module of src/"
            );
        }
    }
    for m in LEAVES {
        assert!(
            exists(m),
            "the import rules name `{m}`, which is not a module of src/"
        );
    }

    let files = sources(&src);
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let mut found = Vec::new();
    for (rel, source, file) in &files {
        found.extend(violations(rel, source, &module_of(file)));
    }
    assert!(found.is_empty(), "forbidden imports:\n{}", found.join("\n"));
}

#[test]
fn fake_remotes_never_import_mailquake() {
    let crate_dir = root().join("fake-remotes");
    let files = sources(&crate_dir.join("src"));
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut found = Vec::new();
    for (rel, source, _) in &files {
        for (line, to) in paths_into(source, "mailquake") {
            found.push(format!("{rel}:{line}: fake-remotes → mailquake::{to}"));
        }
    }
    // Nor may it depend on the package at all.
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("manifest");
    for (n, line) in manifest.lines().enumerate() {
        if strip_comment(line).trim_start().starts_with("mailquake") {
            found.push(format!(
                "fake-remotes/Cargo.toml:{}: depends on mailquake",
                n + 1
            ));
        }
    }
    assert!(found.is_empty(), "forbidden imports:\n{}", found.join("\n"));
}

/// The checker itself, on sources written to break the rules (and some that do not).
#[test]
fn the_checker_finds_forbidden_imports_in_any_form() {
    let table: &[(&str, &str, &[&str])] = &[
        (
            "use crate::generator::GeneratorReport;",
            "report",
            &["generator"],
        ),
        (
            "use crate::{scenario::Plan, generator::hlog};",
            "report",
            &["generator"],
        ),
        (
            "use crate::{\n    collector::Ledger,\n    smtp::{Phase, Reply},\n};",
            "checks",
            &["smtp"],
        ),
        (
            "    let x = crate::cluster::resolve(&e);",
            "checks",
            &["cluster"],
        ),
        (
            "fn f() { crate::report::progress::log_line(\"x\") }",
            "scenario",
            &["report"],
        ),
        (
            "use crate::smtp::Phase; use crate::scenario::Plan;",
            "tracking",
            &["smtp", "scenario"],
        ),
        // Allowed edges, comments, look-alike names and strings are not imports.
        (
            "use crate::collector::Ledger;\nuse crate::scenario::Plan;",
            "checks",
            &[],
        ),
        ("// see crate::generator::session", "report", &[]),
        (
            "use crate::checks::Status; // not crate::generator",
            "report",
            &[],
        ),
        ("use my_crate::generator::X;", "report", &[]),
        (
            "let url = \"http://x\"; use crate::scenario::Plan;",
            "report",
            &[],
        ),
        ("use crate::generators_of_mine::X;", "report", &[]),
    ];
    for (source, module, want) in table {
        let got = violations("f.rs", source, module);
        let targets: Vec<&str> = got
            .iter()
            .map(|v| v.rsplit(" → ").next().unwrap_or(""))
            .collect();
        assert_eq!(&targets, want, "{module}: {source:?} → {got:?}");
    }
    // A file and line a person can open.
    let got = violations("src/report/x.rs", "\n\nuse crate::generator::X;", "report");
    assert_eq!(got, ["src/report/x.rs:3: report → generator"]);
    // fake-remotes → mailquake.
    assert_eq!(
        paths_into("use mailquake::scenario::Plan;", "mailquake").len(),
        1
    );
    assert!(paths_into("use fake_mailquake::x; // mailquake::y", "mailquake").is_empty());
}

/// Files stay small enough to read in one sitting: none under `src/` or
/// `fake-remotes/src/` above 600 lines (split by concept; test tables go beside in a
/// `*_tests.rs` file).
#[test]
fn no_source_file_is_longer_than_600_lines() {
    const MAX_LINES: usize = 600;
    let mut files = sources(&root().join("src"));
    files.extend(sources(&root().join("fake-remotes/src")));
    let long: Vec<String> = files
        .iter()
        .filter_map(|(rel, source, _)| {
            let lines = source.lines().count();
            (lines > MAX_LINES).then(|| format!("{rel} ({lines} lines)"))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}
