//! `mailquake explain DIR ID` on a real run's folder: an evidence id of a failed check
//! is looked up and its life printed — submission, the accepting node, each delivery
//! attempt with remote and reply, the arrival, the fault window it crossed; an unknown
//! id or a folder that is not a run's exits 2 with one line.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::binary::{mailquake_os, mailquake_run, Finished, WAIT};
use crate::support::scenario;

fn explain(dir: &Path, id: &str) -> Finished {
    mailquake_os(&["explain".as_ref(), dir.as_os_str(), id.as_ref()]).run(WAIT)
}

#[test]
fn an_evidence_id_of_a_failed_run_is_explained_attempt_by_attempt() {
    let out = tempfile::tempdir().unwrap();
    let o = mailquake_run(&scenario("explain.yaml"), out.path()).run(Duration::from_secs(90));
    let stdout = &o.stdout;
    assert_eq!(o.code, Some(1), "{stdout}");
    assert!(out.path().join("attempts.bin").is_file());
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    let drain = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "drain")
        .unwrap();
    assert_eq!(drain["status"], "fail", "{drain}");
    // Which nodes the late mail went through.
    let detail = drain["detail"].as_str().unwrap();
    assert!(detail.contains("late by accepting node: n"), "{detail}");
    let id = drain["evidence"][0].as_str().unwrap();
    // The terminal summary: latency per destination, the faults and how often they fired.
    assert!(stdout.contains("latency   ok.test p50 "), "{stdout}");
    assert!(
        stdout.contains("faults    remote grey greylist 0s–3s · fired: grey "),
        "{stdout}"
    );
    // The terminal tells how to follow an evidence id.
    assert!(
        stdout.contains(&format!("mailquake explain {}", out.path().display())),
        "{stdout}"
    );

    let e = explain(out.path(), id);
    let text = e.stdout.clone();
    assert_eq!(e.code, Some(0), "{text}{}", e.stderr.clone());
    for want in [
        format!("message {id} to grey.test"),
        "submitted".to_string(),
        "accepted by n".to_string(),
        "remote grey: recipient 0 RCPT answered 451".to_string(),
        "remote grey: recipient 0 RCPT answered 250".to_string(),
        "remote grey: recipient 0 arrived (250 at the final dot), relayed by n".to_string(),
        "outcome: delivered".to_string(),
        "remote grey greylist 0s–3s (its destination)".to_string(),
    ] {
        assert!(text.contains(&want), "lacks {want:?}:\n{text}");
    }
    // In time order: the refusal before the retry that got through. (Acceptance is
    // timed when the generator reads the 250, which may come after the first attempt.)
    let first_451 = text.find("answered 451").unwrap();
    let first_250 = text.find("answered 250").unwrap();
    assert!(text.find("submitted").unwrap() < first_451, "{text}");
    assert!(first_451 < first_250, "{text}");

    // A bare sequence number is the same message.
    let seq = id.rsplit_once('.').unwrap().1;
    assert_eq!(explain(out.path(), seq).stdout, e.stdout);

    // Unknown ids: one line, exit 2.
    let run_id = s["run_id"].as_str().unwrap();
    for bad in [
        format!("{run_id}.99999999"),
        "otherrun.1".to_string(),
        "x".to_string(),
    ] {
        let e = explain(out.path(), &bad);
        let err = e.stderr.clone();
        assert_eq!(e.code, Some(2), "{bad}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "mailquake explain: unknown id `{bad}`: run {run_id} has {run_id}.0 to "
            )),
            "{err}"
        );
        assert!(e.stdout.is_empty());
    }
}

#[test]
fn a_folder_that_is_not_a_run_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let e = explain(dir.path(), "abc.1");
    let err = e.stderr.clone();
    assert_eq!(e.code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("scenario.yaml"), "{err}");
}
