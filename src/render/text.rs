use super::{accounts_sentence, databases_sentence, eta_sentence, params_summary, shown_resource};
use crate::plan::{Operation, Plan};
use std::fmt::Write;

/// The flight plan for a terminal: one aligned line per step, skipped steps marked with why.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    let pending = plan.pending().count();
    if let Some(warning) = super::protected_sentence(plan) {
        let _ = writeln!(out, "!! {warning}");
    }
    let _ = match plan.operation {
        Operation::Refresh => writeln!(
            out,
            "Flight plan: refresh {} from {} ({} path, run {})",
            plan.target,
            plan.source,
            plan.path.as_str(),
            plan.run_id
        ),
        Operation::Copy => writeln!(
            out,
            "Flight plan: copy {} as {} ({} path, run {})",
            plan.source,
            plan.target,
            plan.path.as_str(),
            plan.run_id
        ),
        Operation::Destroy => writeln!(
            out,
            "Flight plan: destroy the copy {} (made by run {})",
            plan.target, plan.run_id
        ),
    };
    if plan.resuming {
        let _ = writeln!(
            out,
            "Resuming an interrupted run: {} of {} steps are already done.",
            plan.steps.len() - pending,
            plan.steps.len()
        );
    }
    if let Some(eta) = eta_sentence(plan) {
        let _ = writeln!(out, "{eta}");
    }
    if let Some(accounts) = accounts_sentence(plan) {
        let _ = writeln!(out, "{accounts}");
    }
    if let Some(databases) = databases_sentence(plan) {
        let _ = writeln!(out, "{databases}");
    }
    for note in &plan.notes {
        let _ = writeln!(out, "Note: {note}.");
    }
    let _ = writeln!(out);
    let w_id = plan
        .steps
        .iter()
        .map(|s| s.id.to_string().len())
        .max()
        .unwrap_or(0);
    let w_action = plan
        .steps
        .iter()
        .map(|s| s.op.action().len())
        .max()
        .unwrap_or(0);
    let w_inst = plan
        .steps
        .iter()
        .map(|s| shown_resource(plan, s).len())
        .max()
        .unwrap_or(0);
    let w_num = plan.steps.len().to_string().len();
    for (n, step) in plan.steps.iter().enumerate() {
        let detail = match &step.skip {
            Some(reason) => format!("skip: {reason}"),
            None => params_summary(step),
        };
        let mark = if step.skip.is_some() { "-" } else { " " };
        let line = format!(
            "{mark}{:>w_num$}  {:<w_id$}  {:<w_action$}  {:<w_inst$}  {}",
            n + 1,
            step.id,
            step.op.action(),
            shown_resource(plan, step),
            detail,
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "\n{} steps to run, {} already done.",
        pending,
        plan.steps.len() - pending
    );
    out
}
