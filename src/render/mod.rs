//! Reporters: the plan rendered for people (text, Markdown) and machines (JSON).

mod markdown;
mod report;
mod text;

pub use markdown::plan_markdown;
pub use report::{report_markdown, report_text};
pub use text::plan_text;

use crate::plan::Plan;
use crate::schema::PlanDoc;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
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

/// `Key=Value` pairs for people; the identifiers already shown in their own column are left out.
pub(crate) fn params_summary(step: &crate::plan::Step) -> String {
    step.op
        .params(&step.instance)
        .into_iter()
        .filter(|(k, _)| {
            k != "DBInstanceIdentifier" && k != "ResourceName" && k != "ApplyImmediately"
        })
        .map(|(k, v)| format!("{k}={}", short_value(&v)))
        .collect::<Vec<_>>()
        .join(" ")
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
