//! The two readers of a scenario file agree on its `remotes:` and `faults:` sections:
//! mailquake's loader (`mailquake::scenario::load`) and the `fake-remotes` binary's
//! (`fake_remotes::standalone::file::load`), over every scenario shipped in the repo.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_remotes::standalone::file;
use fake_remotes::Fault;
use mailquake::scenario::{self, FaultSubject};

/// Every `.yaml` under `dir`, recursively, sorted.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml") {
            out.push(path);
        }
    }
}

/// (remote, at, for, fault), the fault timeline as both readers see it.
type RemoteFault = (String, Duration, Option<Duration>, Fault);

/// Whether mailquake's error is about the part the `fake-remotes` reader serves (the
/// remotes, and the remote faults): then that reader must refuse the file on the same
/// line. Not served: node faults (`faults[i].node`, or a remote fault given to a node),
/// mailquake's safety rule on domains not reserved for testing, which guards where the
/// load's mail may go, not what a fake remote may serve, and the faults the chosen target
/// can never trigger (STARTTLS faults on the embedded cluster): a remote serves them.
fn in_served_part(err: &scenario::ScenarioError) -> bool {
    let path = err.path.as_str();
    let remote_fault = path.starts_with("faults[")
        && (path.ends_with(".remote") || path.contains(".fault"))
        && !err.message.contains("a node takes only");
    let safety = err.message.contains("is not a domain reserved for testing");
    let target_only = err
        .message
        .contains("the embedded cluster delivers to its remotes in plain text");
    (path == "remotes" || path.starts_with("remotes.") || path == "faults" || remote_fault)
        && !safety
        && !target_only
}

/// Both readers read the same remotes and the same remote fault timeline.
fn assert_same_served(plan: &scenario::Plan, standalone: file::Served, name: &str) {
    assert_eq!(plan.remotes, standalone.remotes, "{name}: remotes");
    let root_faults: Vec<RemoteFault> = plan
        .faults
        .iter()
        .filter_map(|w| match &w.subject {
            FaultSubject::Remote { remote, fault } => {
                Some((remote.clone(), w.at, w.duration, fault.clone()))
            }
            _ => None,
        })
        .collect();
    let mut standalone_faults: Vec<RemoteFault> = standalone
        .timeline
        .into_iter()
        .map(|t| (t.remote, t.at, t.duration, t.fault))
        .collect();
    // mailquake plans faults by offset (stable); the standalone timeline is in file order.
    standalone_faults.sort_by_key(|f| f.1);
    assert_eq!(root_faults, standalone_faults, "{name}: remote faults");
}

/// Keys no shipped scenario writes yet, read alike: `open_sessions` on `refuse` and
/// `unreachable`, `probability` and `jitter`, the `banner` stage and its former name `connect`, each remote on its
/// own loopback address by default (the added `bounces` remote on the next one).
#[test]
fn both_readers_agree_on_outage_settings_stage_names_and_default_addresses() {
    let faults = [
        "{ refuse: { open_sessions: keep } }",
        "{ unreachable: { open_sessions: reset } }",
        "{ refuse: {} }",
        "{ reply: { stage: banner, code: 554 } }",
        "{ reply: { stage: connect, code: 554 } }",
        "{ refuse: { probability: 0.3 } }",
        "{ unreachable: { probability: 0.1 } }",
        "{ blackhole: { probability: 0.3 } }",
        "{ tarpit: { reply: 1s, jitter: 200ms, probability: 0.5 } }",
    ];
    for fault in faults {
        let text = format!(
            "version: 1\nname: r\nremotes:\n  ok: {{ domains: [ok.test] }}\n  down: {{ domains: [down.test] }}\n\
             load:\n  steps: [ {{ rate: 10/s, for: 20s }} ]\n  mix: {{ ok.test: 50%, down.test: 50% }}\n\
             faults:\n  - {{ remote: down, at: 3s, for: 5s, fault: {fault} }}\nchecks: [ no_loss ]\n"
        );
        let path = Path::new("r.yaml");
        let plan = scenario::parse(&text, path).unwrap_or_else(|e| panic!("{fault}: {e}"));
        let standalone = file::parse(&text, path).unwrap_or_else(|e| panic!("{fault}: {e}"));
        let listen: Vec<String> = standalone
            .remotes
            .iter()
            .map(|r| format!("{} {}", r.name, r.listen))
            .collect();
        assert_eq!(
            listen,
            ["ok 127.0.1.1:0", "down 127.0.1.2:0", "bounces 127.0.1.3:0"],
            "{fault}"
        );
        assert_same_served(&plan, standalone, fault);
    }
    // A setting `refuse` does not have: the same one-line error from both.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scenarios/invalid/unreachable_unknown_setting.yaml"),
    )
    .expect("the fixture");
    let text = text.replace(
        "{ unreachable: { after: 2s } }",
        "{ refuse: { drain: yes } }",
    );
    let path = Path::new("u.yaml");
    let root = scenario::parse(&text, path).expect_err("unknown setting");
    let standalone = file::parse(&text, path).expect_err("unknown setting");
    assert_eq!(root.to_string(), standalone.to_string());
    assert!(root.to_string().contains("open_sessions"), "{root}");
}

#[test]
fn both_readers_agree_on_remotes_and_faults_of_every_scenario_in_the_repo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    yaml_files(&root.join("scenarios"), &mut files);
    yaml_files(&root.join("tests/scenarios"), &mut files);
    assert!(
        files.len() > 40,
        "found only {} scenario files",
        files.len()
    );
    let mut report = Vec::new();
    let (mut served, mut refused, mut refused_by_root_only) = (0, 0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        if text.contains("{{") {
            report.push(format!(
                "{}: skipped, a template with placeholders",
                path.display()
            ));
            continue;
        }
        let name = path.display();
        match (scenario::load(path), file::load(path)) {
            (Ok(plan), _) if plan.external_remotes.is_some() => {
                let err = file::load(path).expect_err("served elsewhere: nothing to serve");
                assert!(
                    err.to_string().contains("remotes served elsewhere"),
                    "{err}"
                );
            }
            (Ok(plan), Ok(standalone)) => {
                assert_same_served(&plan, standalone, &name.to_string());
                served += 1;
            }
            (Ok(_), Err(e)) => panic!("{name}: mailquake accepts it, fake-remotes refuses: {e}"),
            (Err(root_err), Err(e)) if e.key == "remotes.external" => {
                // Served elsewhere: nothing to serve here, whatever mailquake finds wrong.
                assert!(root_err.path.starts_with("remotes."), "{name}: {root_err}");
                refused += 1;
            }
            (Err(root_err), Err(e)) => {
                assert_eq!(
                    root_err.to_string(),
                    e.to_string(),
                    "{name}: the same error"
                );
                refused += 1;
            }
            (Err(root_err), Ok(_)) => {
                assert!(
                    !in_served_part(&root_err),
                    "{name}: mailquake refuses its remotes part, fake-remotes serves it: {root_err}"
                );
                report.push(format!(
                    "{name}: served; mailquake refuses another part: {root_err}"
                ));
                refused_by_root_only += 1;
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    eprintln!(
        "{served} served alike, {refused} refused alike, {refused_by_root_only} refused by mailquake only (another part)"
    );
    assert!(
        served >= 10 && refused >= 10,
        "the repo's scenarios cover both cases"
    );
}
