//! `abort_on_fail`: a run whose isolation can no longer pass stops early, heals, and is
//! judged as far as it was measured — FAIL, exit 1, "stopped early at …" in every output.

use std::time::Duration;

use crate::support::binary::mailquake_run;
use crate::support::reports::assert_rerenders_identically;
use crate::support::scenario;
use crate::support::summary::Summary;

#[test]
fn a_check_that_can_no_longer_pass_stops_the_run_early_and_fails_it() {
    let out = tempfile::tempdir().unwrap();
    let o = mailquake_run(&scenario("abort-on-fail.yaml"), out.path()).run(Duration::from_secs(90));
    let s = Summary::read(out.path());
    assert_eq!(o.code, Some(1), "{}\n{}", o.stdout, o.stderr);
    assert_eq!(s.verdict, "fail");
    let stop = &s["stopped_early"];
    assert_eq!(stop["check"], "isolation", "{s}");
    let at = stop["at_s"].as_f64().unwrap();
    // Decided once the window (to 6s) closed more than the 1s limit ago; the planned
    // load ran to 30s, then up to 30s of settle.
    assert!((7.0..20.0).contains(&at), "stopped at {at}");
    assert!(
        s["duration_s"].as_f64().unwrap() < 25.0,
        "{}",
        s["duration_s"]
    );
    assert!(
        s["totals"]["submitted"].as_u64().unwrap() < 2_500,
        "{}",
        s["totals"]
    );
    assert_eq!(s.check("isolation")["status"], "fail", "{s}");
    let line = format!("stopped early at {at:.1}s: isolation failed");
    assert!(o.stdout.contains(&line), "{}", o.stdout);
    assert!(o.stdout.contains("FAIL"), "{}", o.stdout);
    for file in ["junit.xml", "report.html"] {
        let text = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert!(text.contains(&line), "{file} lacks {line:?}");
    }
    // Re-rendered from the saved data: the same (the stop is saved with the run).
    assert_rerenders_identically(out.path());
}
