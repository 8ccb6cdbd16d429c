use crate::schema::{RunReport, StepReport};
use std::fmt::Write;

fn steps_table(out: &mut String, steps: &[StepReport]) {
    let w_id = steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for s in steps {
        let secs = s
            .seconds
            .map(|t| format!("{t:>8.1}s"))
            .unwrap_or_else(|| " ".repeat(9));
        let detail = s.detail.as_deref().unwrap_or("");
        let line = format!(
            "  {:<w_id$}  {:<8} {secs}  {detail}",
            s.id,
            s.status.as_str()
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The run report for a terminal.
pub fn report_text(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{}: {} in {:.1}s (run {})",
        r.heading(""),
        r.result.as_str(),
        r.duration_seconds,
        r.run_id
    );
    steps_table(&mut out, &r.steps);
    if !r.rollback.is_empty() {
        let _ = writeln!(out, "Rollback:");
        steps_table(&mut out, &r.rollback);
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "Error: {e}");
    }
    if let Some(s) = r.outage_seconds {
        let _ = writeln!(out, "Outage: the endpoints were unavailable for {s:.1}s");
    }
    if let Some(kind) = r.clone {
        let _ = writeln!(out, "Clone: {}", kind.as_str());
    }
    for e in &r.endpoints {
        let _ = writeln!(
            out,
            "Endpoint {}: {}:{}",
            e.instance,
            e.address.as_deref().unwrap_or("?"),
            e.port.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
        );
    }
    for l in &r.left {
        let _ = writeln!(out, "Left: {l}");
    }
    out
}

/// The run report for the GitHub job summary.
pub fn report_markdown(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {}: **{}** in {:.0}s\n",
        r.heading("`"),
        r.result.as_str(),
        r.duration_seconds
    );
    let _ = writeln!(
        out,
        "| Step | Status | Seconds | Detail |\n|---|---|---|---|"
    );
    for s in r.steps.iter().chain(r.rollback.iter()) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            s.id,
            s.status.as_str(),
            s.seconds.map(|t| format!("{t:.1}")).unwrap_or_default(),
            s.detail.as_deref().unwrap_or("").replace('|', "\\|")
        );
    }
    if let Some(kind) = r.clone {
        let _ = writeln!(out, "\nThe Aurora clone is a **{}** clone.", kind.as_str());
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "\n**Error:** {e}");
    }
    out
}
