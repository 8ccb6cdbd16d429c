//! Serialized formats, in one place, each with a version. Changing a field is a breaking change
//! for users who parse `plan --format json`: bump the version.

use crate::plan::{Plan, PLAN_FORMAT_VERSION};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDoc {
    pub version: u32,
    pub source: String,
    pub target: String,
    /// `replica` or `snapshot`.
    pub path: String,
    pub run_id: String,
    pub resuming: bool,
    pub steps: Vec<StepDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDoc {
    pub id: String,
    pub phase: String,
    /// The AWS API operation name, or `RunCommand`.
    pub action: String,
    /// The DBInstanceIdentifier acted on.
    pub instance: String,
    /// The request parameters under their AWS names.
    pub params: Map<String, Value>,
    pub depends_on: Vec<String>,
    /// Why the step is already done; null when it will run.
    pub skip: Option<String>,
}

impl PlanDoc {
    pub fn from_plan(plan: &Plan) -> Self {
        PlanDoc {
            version: PLAN_FORMAT_VERSION,
            source: plan.source.clone(),
            target: plan.target.clone(),
            path: plan.path.as_str().to_string(),
            run_id: plan.run_id.clone(),
            resuming: plan.resuming,
            steps: plan
                .steps
                .iter()
                .map(|s| StepDoc {
                    id: s.id.clone(),
                    phase: serde_json::to_value(s.phase)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    action: s.op.action().to_string(),
                    instance: s.instance.clone(),
                    params: s.op.params(&s.instance),
                    depends_on: s.depends_on.clone(),
                    skip: s.skip.clone(),
                })
                .collect(),
        }
    }
}
