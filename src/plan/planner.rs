//! The planner: observed state + request -> plan. Pure: no AWS client, clock or environment.
//!
//! Resuming is planning again against what is observed. The tool tags what it creates
//! (`stack-mitosis:role=temp`) and what it retires (`role=old`), with the target-tree name each
//! belongs to; tags follow renames, so every step can tell whether it is already done.

use super::database::{names_a_cluster, plan_cluster, plan_copy, plan_instances};
use super::model::Plan;
use super::request::PlanRequest;
use super::validate::looks_like_production;
use crate::error::MitosisError;
use crate::observed::Observed;

pub fn plan(obs: &Observed, req: &PlanRequest) -> Result<Plan, MitosisError> {
    if req.copy.is_some() {
        return plan_copy(obs, req);
    }
    let mut plan = if names_a_cluster(obs, req) {
        plan_cluster(obs, req)?
    } else {
        plan_instances(obs, req)?
    };
    // Checked once the request is known to be sound otherwise: its own mistakes come first.
    let protected = looks_like_production(obs, &req.target);
    if !protected.is_empty() && !req.allow_protected_target {
        return Err(MitosisError::bad_input(format!(
            "{}: a refresh retires and deletes the target. If {:?} really is the environment to replace, give --allow-protected-target; otherwise check --target (did you mean the source?)",
            protected.join("; "),
            req.target
        )));
    }
    plan.protected_targets = protected;
    Ok(plan)
}
