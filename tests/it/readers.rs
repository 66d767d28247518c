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
/// and mailquake's safety rule on domains not reserved for testing, which guards where
/// the load's mail may go, not what a fake remote may serve.
fn in_served_part(err: &scenario::ScenarioError) -> bool {
    let path = err.path.as_str();
    let remote_fault = path.starts_with("faults[")
        && (path.ends_with(".remote") || path.contains(".fault"))
        && !err.message.contains("a node takes only");
    let safety = err.message.contains("is not a domain reserved for testing");
    (path == "remotes" || path.starts_with("remotes.") || path == "faults" || remote_fault)
        && !safety
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
                // mailquake plans faults by offset (stable); the standalone timeline is
                // in file order.
                standalone_faults.sort_by_key(|f| f.1);
                assert_eq!(root_faults, standalone_faults, "{name}: remote faults");
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
