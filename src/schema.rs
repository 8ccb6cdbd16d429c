//! Serialized formats, in one place, each with a version. Changing a field is a breaking change
//! for users who parse `plan --format json`: bump the version.

use crate::plan::{Eta, Plan, PLAN_FORMAT_VERSION};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDoc {
    pub version: u32,
    pub source: String,
    pub target: String,
    /// `instance` or `cluster` (absent in documents from before clusters: instance).
    #[serde(default = "instance_kind")]
    pub kind: String,
    /// `replica`, `snapshot` or (clusters) `clone`.
    pub path: String,
    pub run_id: String,
    pub resuming: bool,
    /// What to know before applying (e.g. the engine version will change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// A cross-account plan: the source's and the target's account ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<crate::plan::Accounts>,
    /// Why the target looks like production, when `--allow-protected-target` lets the
    /// refresh replace it (absent otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_targets: Vec<String>,
    /// `copy` or `destroy` (absent for a refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::plan::Operation>,
    /// An environment of several databases: every pair, `source`/`target` first (absent
    /// with one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseDoc>,
    /// Expected duration of the remaining steps and the longest time an endpoint is without
    /// an instance, in seconds, from the latency model.
    pub eta: Option<Eta>,
    pub steps: Vec<StepDoc>,
}

/// One database pair of a plan of several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseDoc {
    pub source: String,
    pub target: String,
    pub kind: String,
}

impl DatabaseDoc {
    /// A plan's pairs when it has several; none otherwise.
    pub fn of(plan: &Plan) -> Vec<DatabaseDoc> {
        if plan.more.is_empty() {
            return Vec::new();
        }
        plan.pairs()
            .iter()
            .map(|p| DatabaseDoc {
                source: p.source.to_string(),
                target: p.target.to_string(),
                kind: p.kind.as_str().to_string(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDoc {
    pub id: String,
    pub phase: String,
    /// The AWS API operation name, or `RunCommand`.
    pub action: String,
    /// The identifier of the resource acted on (a DBInstanceIdentifier).
    pub instance: String,
    /// The request parameters under their AWS names.
    pub params: Map<String, Value>,
    pub depends_on: Vec<String>,
    /// Why the step is already done; null when it will run.
    pub skip: Option<String>,
    /// A cross-account plan: `source` or `target`, the account the step is made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

fn instance_kind() -> String {
    "instance".to_string()
}

impl PlanDoc {
    pub fn from_plan(plan: &Plan) -> Self {
        PlanDoc {
            version: PLAN_FORMAT_VERSION,
            source: plan.source.clone(),
            target: plan.target.clone(),
            kind: plan.kind.as_str().to_string(),
            path: plan.path.as_str().to_string(),
            run_id: plan.run_id.clone(),
            resuming: plan.resuming,
            notes: plan.notes.clone(),
            accounts: plan.accounts.clone(),
            protected_targets: plan.protected_targets.clone(),
            operation: (plan.operation != crate::plan::Operation::Refresh)
                .then_some(plan.operation),
            databases: DatabaseDoc::of(plan),
            eta: plan.eta,
            steps: plan
                .steps
                .iter()
                .map(|s| StepDoc {
                    id: s.id.to_string(),
                    phase: s.phase.as_str().to_string(),
                    action: s.op.action().to_string(),
                    instance: s.resource.clone(),
                    params: s.op.params(&s.resource),
                    depends_on: s.depends_on.iter().map(ToString::to_string).collect(),
                    skip: s.skip.clone(),
                    account: plan
                        .accounts
                        .as_ref()
                        .map(|_| s.account.as_str().to_string()),
                })
                .collect(),
        }
    }
}

/// Version of the run report format (`apply --report-json`).
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// What an `apply` did: every step with its outcome and duration, the rollback if there was
/// one, and where the new endpoints are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub version: u32,
    pub run_id: String,
    pub source: String,
    pub target: String,
    pub result: RunResult,
    pub phase: StoppedAt,
    pub duration_seconds: f64,
    /// The measured outage: from the first retire to the last swap-in done (None when the
    /// run did not swap).
    pub outage_seconds: Option<f64>,
    pub steps: Vec<StepReport>,
    pub rollback: Vec<StepReport>,
    pub endpoints: Vec<EndpointReport>,
    pub error: Option<String>,
    /// Instances the refresh left behind, and what to do about them.
    pub left: Vec<String>,
    /// How an Aurora clone was made, once it was (absent for instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone: Option<CloneKind>,
    /// `copy` or `destroy` (absent for a refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::plan::Operation>,
    /// An environment of several databases: every pair, `source`/`target` first (absent
    /// with one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseDoc>,
}

impl RunReport {
    /// What the run was, for a heading: "Refresh of T from S", "Copy of S as T", ...
    pub fn heading(&self, quote: &str) -> String {
        let (s, t, q) = (&self.source, &self.target, quote);
        match self.operation {
            None | Some(crate::plan::Operation::Refresh) => {
                format!("Refresh of {q}{t}{q} from {q}{s}{q}")
            }
            Some(crate::plan::Operation::Copy) => format!("Copy of {q}{s}{q} as {q}{t}{q}"),
            Some(crate::plan::Operation::Destroy) => format!("Destroy of {q}{t}{q}"),
        }
    }
}

/// How Aurora made a clone: sharing the source's pages (minutes whatever the size), or as a
/// full copy of the data (RDS falls back to one, e.g. past the clone limit of a source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloneKind {
    CopyOnWrite,
    FullCopy,
}

impl CloneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CloneKind::CopyOnWrite => "copy-on-write",
            CloneKind::FullCopy => "full-copy",
        }
    }
}

/// How an `apply` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
    Succeeded,
    /// A step failed and the original names were put back.
    RolledBack,
    /// A step failed and the run stopped where it was: rerunning resumes it.
    Failed,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Succeeded => "succeeded",
            RunResult::RolledBack => "rolled-back",
            RunResult::Failed => "failed",
        }
    }
}

/// Where a run stopped: after the clone or the swap (`apply --until`), or at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoppedAt {
    Clone,
    Swap,
    Complete,
}

/// Where a run that stops at `--until` is reported to have stopped.
impl From<crate::plan::Until> for StoppedAt {
    fn from(until: crate::plan::Until) -> Self {
        match until {
            crate::plan::Until::Clone => StoppedAt::Clone,
            crate::plan::Until::Swap => StoppedAt::Swap,
        }
    }
}

impl StoppedAt {
    pub fn as_str(self) -> &'static str {
        match self {
            StoppedAt::Clone => "clone",
            StoppedAt::Swap => "swap",
            StoppedAt::Complete => "complete",
        }
    }
}

/// What became of one step in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Done,
    Skipped,
    Failed,
    NotRun,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
            StepStatus::NotRun => "not-run",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub id: String,
    pub action: String,
    pub instance: String,
    pub status: StepStatus,
    pub seconds: Option<f64>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointReport {
    pub instance: String,
    pub address: Option<String>,
    pub port: Option<i32>,
}
