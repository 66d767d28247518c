//! The terminal summary: ✓/✗ per check with observed vs limit, then the verdict.

use std::fmt::Write;

use crate::checks::Status;

use super::Summary;

/// The summary as printed at the end of a run.
pub fn render(s: &Summary, out_dir: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\nmailquake · {} · run {} · {:.1}s",
        s.name, s.run_id, s.duration_s
    );
    let p = &s.totals;
    let _ = writeln!(
        t,
        "  submitted {} · accepted {} · not accepted {} · delivered {} · bounced {} · outstanding {}{}",
        p.submitted,
        p.accepted,
        p.not_accepted,
        p.delivered,
        p.bounced,
        p.outstanding,
        if p.shortfall > 0 { format!(" · shortfall {}", p.shortfall) } else { String::new() }
    );
    t.push_str(&super::load::render(&s.load, &s.submit_replies));
    if !s.nodes.is_empty() {
        let nodes: Vec<String> = s
            .nodes
            .iter()
            .map(|n| format!("{} {}→{}", n.name, n.accepted, n.delivered))
            .collect();
        let _ = writeln!(t, "  nodes (accepted→delivered): {}", nodes.join(", "));
    }
    let _ = writeln!(t);
    let width = s.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &s.checks {
        let mark = match c.status {
            Status::Pass => "✓",
            Status::Fail => "✗",
            Status::Inconclusive => "✗?",
        };
        let _ = writeln!(
            t,
            "  {mark} {:width$}  {}   (limit: {})",
            c.name, c.observed, c.limit
        );
        if c.status != Status::Pass && !c.detail.is_empty() {
            let _ = writeln!(t, "      {}", c.detail);
        }
        if c.status != Status::Pass && !c.evidence.is_empty() {
            let _ = writeln!(t, "      e.g. {}", c.evidence.join(", "));
        }
    }
    let failed = s.checks.iter().filter(|c| !c.passed).count();
    let verdict = if s.passed() {
        format!("PASS ({} checks)", s.checks.len())
    } else {
        format!("FAIL ({failed} of {} checks failed)", s.checks.len())
    };
    for p in &s.problems {
        let _ = writeln!(t, "  ! {p}");
    }
    let aborted = match (s.aborted, s.problems.is_empty()) {
        (false, _) => "",
        (true, true) => " · ABORTED by the operator",
        (true, false) => " · ABORTED: the run could not go on as planned",
    };
    let _ = writeln!(t, "\nverdict: {verdict}{aborted}");
    let _ = writeln!(t, "report:  {out_dir}/summary.json");
    t
}
