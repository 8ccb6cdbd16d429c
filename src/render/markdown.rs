use super::{accounts_sentence, databases_sentence, eta_sentence, params_summary, shown_resource};
use crate::plan::{Operation, Plan};
use std::fmt::Write;

/// The flight plan for GitHub (job summary, PR comment): a table, skipped steps struck through.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let pending = plan.pending().count();
    if let Some(warning) = super::protected_sentence(plan) {
        let _ = writeln!(out, "> [!WARNING]\n> {warning}\n");
    }
    let _ = match plan.operation {
        Operation::Refresh => writeln!(
            out,
            "### Flight plan: refresh `{}` from `{}`\n",
            plan.target, plan.source
        ),
        Operation::Copy => writeln!(
            out,
            "### Flight plan: copy `{}` as `{}`\n",
            plan.source, plan.target
        ),
        Operation::Destroy => writeln!(out, "### Flight plan: destroy `{}`\n", plan.target),
    };
    let _ = writeln!(
        out,
        "Path: **{}** · run `{}` · {} steps to run, {} already done{}\n",
        plan.path.as_str(),
        plan.run_id,
        pending,
        plan.steps.len() - pending,
        if plan.resuming {
            " (resuming an interrupted run)"
        } else {
            ""
        }
    );
    if let Some(eta) = eta_sentence(plan) {
        let _ = writeln!(out, "{eta}\n");
    }
    if let Some(accounts) = accounts_sentence(plan) {
        let _ = writeln!(out, "{accounts}\n");
    }
    if let Some(databases) = databases_sentence(plan) {
        let _ = writeln!(out, "{databases}\n");
    }
    for note in &plan.notes {
        let _ = writeln!(out, "> **Note:** {note}.\n");
    }
    let _ = writeln!(out, "| # | Step | Action | Instance | Details |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (n, step) in plan.steps.iter().enumerate() {
        let (id, detail) = match &step.skip {
            Some(reason) => (format!("~~{}~~", step.id), format!("skipped: {reason}")),
            None => (step.id.to_string(), params_summary(step)),
        };
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | `{}` | {} |",
            n + 1,
            id,
            step.op.action(),
            shown_resource(plan, step),
            escape_cell(&detail)
        );
    }
    out
}

/// A table cell's text as text only: no cell break, no HTML (`<`, `>`), no link (`[`, `]`) and
/// no mention (`@`): a command shown in a comment must not ping people or render markup.
fn escape_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '[' => out.push_str("\\["),
            ']' => out.push_str("\\]"),
            // A word joiner after `@` keeps the text and breaks the mention.
            '@' => out.push_str("@\u{2060}"),
            c => out.push(c),
        }
    }
    out
}
