//! Renderings for people and machines: the plan (text, Markdown, JSON), a run's progress (from
//! the executor's events) and its report.

mod markdown;
mod progress;
mod report;
mod text;

pub use markdown::plan_markdown;
pub use progress::{progress_line, TextProgress};
pub use report::{report_markdown, report_text};
pub use text::plan_text;

use crate::plan::Plan;
use crate::schema::PlanDoc;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Format::Text),
            "markdown" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "{other:?} is not a format: use text, markdown or json"
            )),
        }
    }
}

pub fn render_plan(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text => plan_text(plan),
        Format::Markdown => plan_markdown(plan),
        Format::Json => plan_json(plan),
    }
}

pub fn plan_json(plan: &Plan) -> String {
    let doc = PlanDoc::from_plan(plan);
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// The resource a step acts on, for people: in a cross-account plan prefixed with the id of
/// the account the step is made in (`222222222222:stack-mitosis-transfer-demo-…`).
pub(crate) fn shown_resource(plan: &crate::plan::Plan, step: &crate::plan::Step) -> String {
    match &plan.accounts {
        Some(accounts) => format!("{}:{}", accounts.of(step.account), step.resource),
        None => step.resource.clone(),
    }
}

/// The warning a plan opens with when `--allow-protected-target` lets it replace a target
/// that looks like production.
pub(crate) fn protected_sentence(plan: &crate::plan::Plan) -> Option<String> {
    (!plan.protected_targets.is_empty()).then(|| {
        format!(
            "--allow-protected-target: this refresh retires and deletes a target that looks like production ({})",
            plan.protected_targets.join("; ")
        )
    })
}

/// The accounts sentence of a cross-account plan.
pub(crate) fn accounts_sentence(plan: &crate::plan::Plan) -> Option<String> {
    plan.accounts.as_ref().map(|a| {
        format!(
            "Source account {}, target account {}: each step names the account it is made in.",
            a.source, a.target
        )
    })
}

/// An environment of several databases: each pair, refreshed in one run and swapped together.
pub(crate) fn databases_sentence(plan: &crate::plan::Plan) -> Option<String> {
    if plan.more.is_empty() {
        return None;
    }
    let pairs: Vec<String> = plan
        .pairs()
        .iter()
        .map(|p| format!("{} from {} ({})", p.target, p.source, p.kind.as_str()))
        .collect();
    // A forward plan says how the pairs go together; a rollback just lists them.
    let forward = plan
        .steps
        .iter()
        .any(|s| s.id.kind == crate::plan::StepKind::Guard);
    let how = match forward {
        true => ": cloned side by side, retired only once every clone is ready, swapped together; one restart command after every swap",
        false => "",
    };
    Some(format!("Databases: {}{how}.", pairs.join(", ")))
}

/// `Key=Value` pairs for people; the identifiers already shown in their own column are left out.
pub(crate) fn params_summary(step: &crate::plan::Step) -> String {
    step.op
        .params(&step.resource)
        .into_iter()
        .filter(|(k, _)| {
            k != "DBInstanceIdentifier" && k != "ResourceName" && k != "ApplyImmediately"
        })
        .map(|(k, v)| format!("{k}={}", short_value(&v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// "1 h 05 min", "12 min", "45 s": for expected durations.
pub(crate) fn human_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=89 => format!("{s} s"),
        90..=3599 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600 + 30) / 60),
    }
}

/// The ETA sentence shared by the text and Markdown flight plans.
pub(crate) fn eta_sentence(plan: &crate::plan::Plan) -> Option<String> {
    let eta = plan.eta?;
    // A copy or a destroy takes nothing out of service.
    if plan.operation != crate::plan::Operation::Refresh {
        return Some(format!(
            "Expected: about {} in all; nothing is taken out of service.",
            human_duration(eta.duration_seconds)
        ));
    }
    Some(format!(
        "Expected: about {} in all; each endpoint is unavailable for about {}, all at the same time.",
        human_duration(eta.duration_seconds),
        human_duration(eta.downtime_seconds)
    ))
}

fn short_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::Object(o) => match (o.get("Key").or(o.get("Name")), o.get("Value")) {
                        (Some(k), Some(v)) => format!("{}:{}", short_value(k), short_value(v)),
                        _ => i.to_string(),
                    },
                    other => short_value(other),
                })
                .collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}
