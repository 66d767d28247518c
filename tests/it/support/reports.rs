//! Re-rendering a run's folder with `mailquake report DIR`: the reports must come back
//! byte for byte (what the reports say is saved with the data).

use std::path::Path;
use std::time::Duration;

use super::binary::mailquake_os;

/// The files `mailquake report DIR` rewrites.
const REPORTS: [&str; 4] = ["summary.json", "junit.xml", "timeseries.csv", "report.html"];

/// Deletes the reports of a run's folder, re-renders them with `mailquake report DIR`
/// and checks they come back byte for byte.
pub fn assert_rerenders_identically(dir: &Path) {
    let before: Vec<Vec<u8>> = REPORTS
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    for f in REPORTS {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let out = mailquake_os(&["report".as_ref(), dir.as_os_str()]).run(Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for (f, want) in REPORTS.iter().zip(before) {
        let got = std::fs::read(dir.join(f)).unwrap();
        assert!(got == want, "{f} differs after `mailquake report`");
    }
    assert!(out.stdout.contains("verdict: "));
}
