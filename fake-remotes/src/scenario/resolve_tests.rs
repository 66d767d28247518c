use super::*;

const DOC: &str = "\
version: 1
load:
  steps:
    - rate: 100/s
      for: 1m
  mix: { ok.test: 90%, down.test: 10% }
checks:
  - { isolation: { healthy: [ok.test], p99: 5s } }
  - no_loss
";

fn env(name: &str) -> Option<String> {
    match name {
        "RATE" => Some("400/s".into()),
        "PORT" => Some("2525".into()),
        "EMPTY" => Some(String::new()),
        "PASS" => Some("p: w#d".into()),
        "LIST" => Some("a,b".into()),
        _ => None,
    }
}

fn sets(text: &str, args: &[&str]) -> Result<String, ResolveError> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    resolve(text, &args, &env).map(|r| r.text)
}

#[test]
fn sets_replace_or_add_values() {
    let table: &[(&[&str], &str, &str)] = &[
        (
            &["load.steps[0].rate=400/s"],
            "    - rate: 100/s",
            "    - rate: 400/s",
        ),
        (&["version=2"], "version: 1\n", "version: 2\n"),
        (
            &["load.mix.ok.test=80%"],
            "  mix: { ok.test: 90%",
            "  mix: { ok.test: 80%",
        ),
        (
            &["load.mix.\"down.test\"=20%"],
            "down.test: 10% }",
            "down.test: 20% }",
        ),
        (&["checks[0].isolation.p99=2s"], "p99: 5s", "p99: 2s"),
        // A key not in the file is added to its map, lined up with its siblings.
        (
            &["load.sessions=3"],
            "  steps:\n",
            "  sessions: 3\n  steps:\n",
        ),
        (
            &["load.steps[0].size=4KiB"],
            "    - rate",
            "    - size: 4KiB\n      rate",
        ),
        (
            &["checks[0].isolation.p50=1s"],
            "{ isolation: { healthy",
            "{ isolation: { p50: 1s,  healthy",
        ),
        // Missing levels become flow maps.
        (
            &["safety.max_rate=5000/s"],
            "version: 1",
            "safety: { max_rate: 5000/s }\nversion: 1",
        ),
        // A whole value, written as flow YAML.
        (
            &["load.steps=[{rate: 5/s, for: 10s}]"],
            "  steps:\n    [{rate: 5/s, for: 10s}]\n  mix",
            "  steps:\n    [{rate: 5/s, for: 10s}]\n  mix",
        ),
        (
            &["load.steps[0].rate=1/s", "load.steps[0].for=2s"],
            "    - rate: 1/s\n      for: 2s\n",
            "    - rate: 1/s\n      for: 2s\n",
        ),
    ];
    for (args, find, want) in table {
        let got = sets(DOC, args).unwrap_or_else(|e| panic!("{args:?}: {e:?}"));
        assert!(got.contains(want), "{args:?} ({find}):\n{got}");
        let again: Result<serde_json::Value, _> = serde_saphyr::from_str(&got);
        assert!(again.is_ok(), "{args:?}: not YAML any more:\n{got}");
    }
}

#[test]
fn sets_that_cannot_apply_say_why() {
    let table: &[(&[&str], usize, &str)] = &[
        (
            &["load.steps"],
            0,
            "expected KEY=VALUE, e.g. load.steps[0].rate=400/s",
        ),
        (
            &["load..rate=1"],
            0,
            "invalid key path `load..rate`: expected e.g. load.steps[0].rate",
        ),
        (
            &["load.steps[3].rate=1/s"],
            0,
            "`load.steps` has no item [3] (it has 1)",
        ),
        (
            &["version.x=1"],
            0,
            "`version` is not a map: cannot add `x` to it",
        ),
        (
            &["load.new[0].x=1"],
            0,
            "`load.new[0].x` is not in the file: a list item cannot be added by --set",
        ),
        (
            &["version=1", "version=2"],
            1,
            "another --set already changes this part of the file",
        ),
        (
            &["name=a\nb"],
            0,
            "the value must be one line (flow YAML: `[a, b]`, `{ k: v }`)",
        ),
    ];
    for (args, index, want) in table {
        let err = sets(DOC, args).unwrap_err();
        assert_eq!(err.origin, Origin::Set(*index), "{args:?}");
        assert_eq!(err.message, *want, "{args:?}");
    }
}

#[test]
fn environment_values_are_written_as_if_in_the_file() {
    let table: &[(&str, &str)] = &[
        ("a: ${RATE}\n", "a: 400/s\n"),
        ("a: ${PORT}\n", "a: 2525\n"),
        ("a: 127.0.0.1:${PORT}\n", "a: 127.0.0.1:2525\n"),
        ("a: ${NOPE:-30s}\n", "a: 30s\n"),
        ("a: ${EMPTY:-5}\n", "a: 5\n"),
        ("a: '${EMPTY}'\n", "a: \"\"\n"),
        ("a: \"${PORT}\"\n", "a: \"2525\"\n"),
        ("a: ${PASS}\n", "a: \"p: w#d\"\n"),
        ("a: [${LIST}]\n", "a: [\"a,b\"]\n"),
        (
            "a: { b: ${RATE}, c: [${PORT:-1}, x] }\n",
            "a: { b: 400/s, c: [2525, x] }\n",
        ),
        ("a: [$${X}]\n", "a: [\"${X}\"]\n"),
        ("a: [\"${LIST}\", b]\n", "a: [\"a,b\", b]\n"),
        ("a: $${RATE} costs $5\n", "a: \"${RATE} costs $5\"\n"),
        ("a: $$${RATE}\n", "a: \"$${RATE}\"\n"),
        ("${RATE}: 1\n", "${RATE}: 1\n"),
        (
            "a: no variables, $HOME stays\n",
            "a: no variables, $HOME stays\n",
        ),
    ];
    for (text, want) in table {
        match resolve(text, &[], &env) {
            Ok(r) => assert_eq!(r.text, *want, "{text}"),
            Err(e) => panic!("{text}: {e:?}"),
        }
    }
}

#[test]
fn substitution_errors_name_the_variable() {
    let table: &[(&str, &str)] = &[
        ("${NOPE}", "environment variable `NOPE` is not set (`${NOPE}`; give a default with `${NOPE:-VALUE}`)"),
        ("x${RATE", "`${RATE` has no closing `}`: write ${NAME} or ${NAME:-default} ($${ for a literal ${)"),
        ("${1X}", "invalid `${1X}`: write ${NAME} or ${NAME:-default} (NAME: letters, digits, _; $${ for a literal ${)"),
    ];
    for (value, want) in table {
        assert_eq!(substitute(value, &env).unwrap_err(), *want, "{value}");
    }
    let err = resolve("a: 1\nb:\n  c: x ${NOPE}\n", &[], &env).unwrap_err();
    assert_eq!(err.origin, Origin::File { line: 3, col: 6 });
    assert_eq!(err.path, "b.c");
}

#[test]
fn places_map_back_to_the_file_or_the_set() {
    let text = "a: ${PORT:-1}\nb: ${RATE} # c\nc: 3\n";
    let args = vec!["c=[1, 2]".to_owned(), "d=9".to_owned()];
    let r = resolve(text, &args, &env).unwrap();
    assert_eq!(r.text, "d: 9\na: 2525\nb: 400/s # c\nc: [1, 2]\n");
    let table: &[(u64, u64, Origin)] = &[
        (1, 1, Origin::Set(1)),
        (2, 1, Origin::File { line: 1, col: 1 }),
        // Inside an expanded value: the value's start in the file.
        (2, 6, Origin::File { line: 1, col: 4 }),
        (3, 4, Origin::File { line: 2, col: 4 }),
        // After it, shifted by what the expansion changed.
        (3, 10, Origin::File { line: 2, col: 12 }),
        (4, 5, Origin::Set(0)),
        (4, 1, Origin::File { line: 3, col: 1 }),
    ];
    for (line, col, want) in table {
        assert_eq!(r.origin(*line, *col), *want, "{line}:{col}");
    }
}
