//! The terminal summary at the end of a run, in the style k6 users know: the totals,
//! then one aligned line per check (✓/✗, name, observed, limit), the detail, evidence
//! and `why:` lines (the diagnosis's findings) under each check that did not pass, and
//! the verdict (`ABORTED — why (at 12.3s)` for a run that ended early, whose checks are
//! marked as judged on partial data). Colour only on a terminal.

use std::fmt::Write;

use crate::checks::{fmt_count, Status, Verdict};

use super::{Summary, WriteFailure};

/// Details are wrapped to this width (including the indent).
const WRAP: usize = 100;
const DETAIL_INDENT: &str = "      ";

/// ANSI styles, or nothing when the output is not a terminal.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
}

/// The summary as printed at the end of a run (or of `mailquake report DIR`).
/// `files` are the files written into `out_dir`, `failed` the ones that could not be.
pub fn render(
    s: &Summary,
    out_dir: &str,
    files: &[String],
    failed: &[WriteFailure],
    color: bool,
) -> String {
    let paint = Paint(color);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n{} · {} · run {} · {:.1}s",
        paint.bold("mailquake"),
        paint.bold(&s.name),
        s.run_id,
        s.duration_s
    );
    let p = &s.totals;
    let mut messages = vec![
        format!("submitted {}", fmt_count(p.submitted)),
        format!("accepted {}", fmt_count(p.accepted)),
        format!("not accepted {}", fmt_count(p.not_accepted)),
        format!("delivered {}", fmt_count(p.delivered)),
        format!("bounced {}", fmt_count(p.bounced)),
        format!("outstanding {}", fmt_count(p.outstanding)),
    ];
    if p.duplicates > 0 {
        messages.push(format!("duplicates {}", fmt_count(p.duplicates)));
    }
    if p.shortfall > 0 {
        messages.push(format!("shortfall {}", fmt_count(p.shortfall)));
    }
    if p.misrouted > 0 {
        messages.push(paint.red(&format!("misrouted {}", fmt_count(p.misrouted))));
    }
    let _ = writeln!(t, "\n  {}  {}", paint.dim("messages"), messages.join(" · "));
    if s.foreign > 0 {
        // Mail of another run, or mail the target sent on its own: the remotes may be
        // shared, or routing sends more to them than this run submitted.
        let _ = writeln!(
            t,
            "  {}  {} seen at the remotes belong to no message of this run",
            paint.yellow("foreign"),
            fmt_count(s.foreign)
        );
    }
    for m in &s.misrouted {
        let _ = writeln!(
            t,
            "  {} {} for {} reached `{}`, which does not serve it",
            paint.red("misrouted"),
            fmt_count(m.messages),
            m.domain,
            m.remote
        );
    }
    if !s.nodes.is_empty() {
        let nodes: Vec<String> = s
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "{} {}→{}",
                    n.name,
                    fmt_count(n.accepted),
                    fmt_count(n.delivered)
                )
            })
            .collect();
        let _ = writeln!(
            t,
            "  {}     {}   {}",
            paint.dim("nodes"),
            nodes.join(" · "),
            paint.dim("(accepted→delivered)")
        );
    }
    if let Some(line) = super::terminal_health::latency_line(&s.domains) {
        let _ = writeln!(t, "  {}   {line}", paint.dim("latency"));
    }
    if let Some(line) = super::terminal_health::faults_line(&s.faults) {
        let _ = writeln!(t, "  {}    {line}", paint.dim("faults"));
    }
    if let Some(pf) = s.preflight.as_ref() {
        use crate::preflight::PreflightStatus;
        let line = match pf.status {
            PreflightStatus::NotNeeded => String::new(),
            PreflightStatus::Skipped => paint.yellow(&pf.describe()),
            PreflightStatus::Passed => pf.describe(),
        };
        if !line.is_empty() {
            let _ = writeln!(t, "  {} {line}", paint.dim("preflight"));
        }
    }
    // The generator's per-phase table, after the message totals it explains.
    if !s.load_table.is_empty() {
        let _ = writeln!(t);
        t.push_str(&s.load_table);
    }
    let _ = writeln!(t);

    // Columns: name padded with dots (k6's leader), observed padded, then the limit.
    let name_w = s.checks.iter().map(|c| width(&c.name)).max().unwrap_or(0) + 3;
    let observed_w = s
        .checks
        .iter()
        .map(|c| width(&observed(c.status, &c.observed)))
        .max()
        .unwrap_or(0)
        .min(50);
    if let Some(note) = s.partial_note() {
        let _ = writeln!(t, "  {}", paint.yellow(&format!("checks {note}:")));
    }
    for c in &s.checks {
        let mark = match c.status {
            Status::Pass => paint.green("✓"),
            Status::Fail => paint.red("✗"),
            Status::Inconclusive => paint.yellow("✗"),
        };
        let leader = ".".repeat(name_w - width(&c.name) - 1);
        let obs = observed(c.status, &c.observed);
        let pad = " ".repeat(observed_w.saturating_sub(width(&obs)));
        let _ = writeln!(
            t,
            "  {mark} {} {} {obs}{pad}   {}",
            c.name,
            paint.dim(&leader),
            paint.dim(&format!("limit: {}", c.limit))
        );
        // The steady state's detail compares baseline, fault and after windows: always shown.
        if c.status != Status::Pass || c.name == "steady_state" {
            for line in wrap(&c.detail, WRAP - DETAIL_INDENT.len()) {
                let _ = writeln!(t, "{DETAIL_INDENT}{line}");
            }
            if !c.evidence.is_empty() {
                let _ = writeln!(t, "{DETAIL_INDENT}e.g. {}", c.evidence.join(", "));
            }
            // Why, from the nodes (`crate::diagnose`).
            for why in &c.explanations {
                for line in wrap(&format!("why: {why}"), WRAP - DETAIL_INDENT.len()) {
                    let _ = writeln!(t, "{DETAIL_INDENT}{line}");
                }
            }
        } else if let Some(at) = c.detail.find(crate::checks::STEADY_STATE_NOT_JUDGED) {
            let note = c.detail[at..].trim_end_matches(')');
            let _ = writeln!(t, "{DETAIL_INDENT}{}", paint.dim(note));
        }
    }

    let failed_checks: Vec<&str> = s
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    let verdict = match (s.verdict, &s.abort) {
        (Verdict::Fail, None) if s.stopped_early.is_some() => {
            let stop = s.stopped_early.as_ref().expect("just matched");
            paint.red(&paint.bold(&format!("FAIL — {stop} (abort_on_fail)")))
        }
        (Verdict::Pass, _) => {
            paint.green(&paint.bold(&format!("PASS ({} checks)", s.checks.len())))
        }
        (Verdict::Aborted, Some(abort)) => paint.red(&paint.bold(&format!("ABORTED — {abort}"))),
        (Verdict::Fail, _) if failed_checks.is_empty() => paint.red(&paint.bold(&format!(
            "FAIL (every check passed, but the data is {})",
            s.data
                .warning()
                .unwrap_or_else(|| "the data is incomplete".into())
        ))),
        _ => paint.red(&paint.bold(&format!(
            "{} ({} of {} checks failed: {})",
            s.verdict.as_str().to_uppercase(),
            failed_checks.len(),
            s.checks.len(),
            failed_checks.join(", ")
        ))),
    };
    for p in &s.problems {
        let _ = writeln!(t, "  {}", paint.red(&format!("! {p}")));
    }
    if let Some(warning) = s.data.warning() {
        let _ = writeln!(t, "  {}", paint.yellow(&format!("data: {warning}")));
    }
    let verdict = match s.steered_note() {
        Some(note) => format!("{verdict} — {}", paint.yellow(&note)),
        None => verdict,
    };
    let _ = writeln!(t, "\nverdict: {verdict}");
    let dir = out_dir.trim_end_matches('/');
    if files.iter().any(|f| f == super::html::FILE) {
        let _ = writeln!(t, "report:  {dir}/{}", super::html::FILE);
    }
    let others: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| *f != super::html::FILE)
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            t,
            "         {}",
            paint.dim(&format!("also in {dir}/: {}", others.join(", ")))
        );
    }
    for f in failed {
        let _ = writeln!(
            t,
            "{}",
            paint.red(&format!("not written: {dir}/{} ({})", f.file, f.error))
        );
    }
    // The evidence ids after "e.g." are tracking ids: say how to follow one.
    let evidence = s.checks.iter().find_map(|c| {
        (c.status != Status::Pass)
            .then(|| c.evidence.first())
            .flatten()
    });
    if let Some(id) = evidence {
        let _ = writeln!(t, "explain: mailquake explain {dir} {id}");
    }
    t
}

/// What the observed column shows: an inconclusive check says so.
fn observed(status: Status, observed: &str) -> String {
    if status == Status::Inconclusive {
        format!("{observed} (inconclusive)")
    } else {
        observed.to_string()
    }
}

/// Display width: characters, which is right for the ✓, ≤ and → these lines hold.
fn width(text: &str) -> usize {
    text.chars().count()
}

/// Splits `text` into lines of at most `max` characters at spaces.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && width(&line) + 1 + width(word) > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
    }
}
