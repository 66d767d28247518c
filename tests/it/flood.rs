//! `mailquake flood` against a fake remote: it accepts exactly what the server counted,
//! prints the phase table, writes `flood.json` and `*.hlog` files that read back with
//! hdrhistogram's interval-log reader; bad arguments exit 2, an unreachable target 3.

use std::time::Duration;

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde_json::Value;

use crate::support::binary::mailquake;
use crate::support::smtp::{messages, remote};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_accepts_exactly_what_the_server_counted_and_its_hlogs_read_back() {
    let mut r = remote("mx.flood.test", vec![]);
    let out = tempfile::tempdir().unwrap();
    let target = r.addr.to_string();
    let dir = out.path().to_str().unwrap().to_owned();
    let (code, stdout, stderr) = mailquake(&[
        "flood", &target, "--rate", "300/s", "--for", "2s", "--size", "2KiB", "--out", &dir,
    ])
    .run_async(Duration::from_secs(60))
    .await
    .parts();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let arrived = messages(&r.stop_and_drain().await);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("flood.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["totals"]["accepted"].as_u64(),
        Some(arrived.len() as u64)
    );
    assert_eq!(arrived.len(), 600);
    assert!(stdout.contains("accepted 600"), "{stdout}");
    for phase in [
        "connect", "banner", "ehlo", "mail", "rcpt", "data", "dot", "quit",
    ] {
        assert!(
            stdout.contains(&format!("\n  {phase} ")),
            "{phase} row in {stdout}"
        );
    }
    assert_eq!(report["submit_replies"]["dot"]["250"], 600);

    // The dot phase's log: untagged lines hold every node, tagged lines each node and
    // each endpoint.
    let text = std::fs::read(out.path().join("dot.hlog")).unwrap();
    let (mut untagged, mut tagged, mut by_endpoint, mut intervals) = (0u64, 0u64, 0u64, 0);
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        let LogEntry::Interval(h) = entry.expect("a well-formed log") else {
            continue;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .unwrap();
        let hist: Histogram<u64> = deserializer.deserialize(&mut bytes.as_slice()).unwrap();
        match h.tag() {
            None => {
                untagged += hist.len();
                intervals += 1;
            }
            Some(tag) if tag.starts_with("endpoint:") => {
                assert!(tag.starts_with("endpoint:127.0.0.1:"), "{}", &*tag);
                by_endpoint += hist.len();
            }
            Some(tag) => {
                assert_eq!(&*tag, "mx.flood.test");
                tagged += hist.len();
            }
        }
    }
    assert_eq!(untagged, 600);
    assert_eq!(tagged, 600);
    assert_eq!(by_endpoint, 600);
    assert!(
        intervals >= 2,
        "1 s intervals over a 2 s flood: {intervals}"
    );
    assert_eq!(report["load"]["phases"]["dot"]["count"], 600);
}

#[test]
fn flood_exit_codes_for_bad_arguments_and_unreachable_targets() {
    let table: [(&[&str], i32, &str); 4] = [
        (
            &["flood", "127.0.0.1:2525", "--for", "1s"],
            2,
            "--rate is required",
        ),
        (
            &["flood", "127.0.0.1:2525", "--rate", "fast"],
            2,
            "--rate: invalid rate `fast`",
        ),
        (
            &[
                "flood",
                "127.0.0.1:2525",
                "--model",
                "closed",
                "--rate",
                "5/s",
            ],
            2,
            "--rate does not go with --model closed",
        ),
        (
            &["flood", "127.0.0.1:1", "--rate", "5/s", "--for", "1s"],
            3,
            "target unreachable",
        ),
    ];
    for (args, want, message) in table {
        let (code, _, stderr) = mailquake(args).run(Duration::from_secs(30)).parts();
        assert_eq!(code, Some(want), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}
