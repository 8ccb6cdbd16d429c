//! The kinds of resource that ride along with the databases in an environment (`--config`),
//! each in a folder of its own: its operations (the flight plan's action, parameters,
//! duration, IAM grants: `crate::plan::ops::WingOp`), where its steps go in a plan (hung on the
//! database plan's milestones), what it reads before planning, how its steps run (given a
//! `RunContext`: a wing never imports the executor), and its AWS traits with their SDK
//! adapter. Today: S3 buckets and Auto Scaling groups.
//!
//! This file is the registry: a new kind is a new folder, its config keys in `crate::config`,
//! its step kinds in `crate::plan::StepKind`, and one line in each function and struct here.

pub mod bucket;
mod context;
pub mod group;

pub use context::{RunContext, RunError};

use crate::aws::AwsSettings;
use crate::config::EnvSpec;
use crate::error::MitosisError;
use crate::plan::milestones::{hold_lock_until, ids, Milestones};
use crate::plan::ops::Wing;
use crate::plan::{Operation, Plan, PlanRequest};

/// What the planner knows of an environment, by kind.
#[derive(Debug, Clone, Default)]
pub struct ObservedEnv {
    pub buckets: bucket::Observed,
    pub groups: group::Observed,
}

/// The wings' AWS access for planning: reads only, by type.
#[derive(Clone, Copy)]
pub struct Reads<'a> {
    pub buckets: &'a dyn bucket::BucketRead,
    pub groups: &'a dyn group::GroupRead,
}

/// The wings' AWS access for the executor.
#[derive(Clone, Copy)]
pub struct Writes<'a> {
    pub buckets: &'a dyn bucket::BucketWrite,
    pub groups: &'a dyn group::GroupWrite,
}

impl<'a> Writes<'a> {
    /// The same access, for reading.
    pub fn read(self) -> Reads<'a> {
        Reads {
            buckets: self.buckets,
            groups: self.groups,
        }
    }
}

/// The wings' SDK adapters, from one AWS configuration.
pub struct Sdk {
    s3: bucket::SdkS3,
    autoscaling: group::SdkAutoScaling,
}

impl Sdk {
    pub async fn connect(settings: &AwsSettings) -> Self {
        let config = crate::aws::load_config(settings, true).await;
        Sdk {
            s3: bucket::SdkS3::new(&config),
            autoscaling: group::SdkAutoScaling::new(&config),
        }
    }

    /// The adapters when an environment is refreshed (`--config`), else none.
    pub async fn connect_if(settings: &AwsSettings, needed: bool) -> Option<Self> {
        match needed {
            true => Some(Self::connect(settings).await),
            false => None,
        }
    }

    pub fn writes(&self) -> Writes<'_> {
        Writes {
            buckets: &self.s3,
            groups: &self.autoscaling,
        }
    }

    pub fn reads(&self) -> Reads<'_> {
        self.writes().read()
    }
}

/// Reads what every kind needs of the environment `spec`. Target resources must be `owner`'s,
/// the source's `source_owner`'s; `copying` is a copy's prefix.
pub async fn observe(
    api: Reads<'_>,
    spec: &EnvSpec,
    copying: Option<&str>,
    owner: &str,
    source_owner: &str,
) -> Result<ObservedEnv, MitosisError> {
    Ok(ObservedEnv {
        buckets: bucket::observe(api.buckets, spec, copying, owner, source_owner).await?,
        groups: group::observe(api.groups, spec).await?,
    })
}

/// The database plan with every kind's steps (`request.environment`), from what was observed.
pub fn extend(plan: Plan, request: &PlanRequest, env: &ObservedEnv) -> Result<Plan, MitosisError> {
    let Some(spec) = &request.environment else {
        return Ok(plan);
    };
    match (plan.operation, &request.copy) {
        (Operation::Refresh, _) => refresh(plan, spec, env),
        // A copy replaces nothing: only its buckets ride along.
        (Operation::Copy, Some(copy)) => bucket::steps::copy(plan, copy, spec, &env.buckets),
        _ => Ok(plan),
    }
}

/// A refresh's wings, each hung on the database plan's milestones.
fn refresh(mut plan: Plan, spec: &EnvSpec, env: &ObservedEnv) -> Result<Plan, MitosisError> {
    let at = Milestones::of(&plan);
    let synced = bucket::steps::refresh(&mut plan, spec, &env.buckets, &at);
    group::steps::refresh(&mut plan, spec, &env.groups, &at, &synced)?;
    let parts: Vec<String> = bucket::steps::note(spec)
        .into_iter()
        .chain(group::steps::note(spec))
        .collect();
    if !spec.buckets.is_empty() || !spec.target_groups.is_empty() {
        let head = format!("environment {} from {}", spec.target, spec.source);
        plan.notes.push(
            std::iter::once(head)
                .chain(parts)
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    // What the wings leave last is done under the lock too.
    let leaves = ids(&plan, |s| {
        bucket::steps::holds_lock(s) || group::steps::holds_lock(s)
    });
    hold_lock_until(&mut plan, &leaves);
    Ok(plan)
}

/// A rollback brings back what the forward plan's wings may have taken out of service.
pub fn bring_back(rollback: Plan, forward: &Plan) -> Plan {
    group::steps::bring_back(rollback, forward)
}

/// Runs a wing's step: hands it back to its kind.
pub async fn run(op: &Wing, resource: &str, ctx: &dyn RunContext) -> Result<(), RunError> {
    if let Some(op) = op.get::<bucket::BucketOp>() {
        return bucket::run(op, resource, ctx).await;
    }
    if let Some(op) = op.get::<group::GroupOp>() {
        return group::run(op, resource, ctx).await;
    }
    Err(RunError::Refused(format!(
        "no kind runs the step {}",
        op.action()
    )))
}
