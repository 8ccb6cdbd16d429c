//! What each step does to an observed state: the oracle the planner's tests check plans
//! against (and replan from, as a resume would), and the simulator's world. Test support only:
//! no production path predicts.

use super::ops::Op;
use super::{Plan, Step};
use crate::observed::Observed;

/// The state after `step` succeeded. Steps whose preconditions do not hold (an instance that
/// does not exist) are a planning bug; they leave the state unchanged and return an error.
pub fn predict(state: &mut Observed, step: &Step) -> Result<(), String> {
    if step.account == super::Account::Source {
        if let Some(source) = state.source_account.as_deref_mut() {
            return predict(
                source,
                &Step {
                    account: super::Account::Target,
                    ..step.clone()
                },
            );
        }
    }
    let id = step.resource.as_str();
    let result = match &step.op {
        Op::Instance(op) => op.predict(state, id),
        Op::Cluster(op) => op.predict(state, id),
        Op::Snapshot(op) | Op::ClusterSnapshot(op) => op.predict(state, id),
        // Locks are transient: no part of the state a refresh leaves; buckets and groups are
        // not in the database state.
        Op::Command(_) | Op::Lock(_) | Op::Guard(_) | Op::Wing(_) => Ok(()),
    };
    result.map_err(|e| format!("step {}: {e}", step.id))
}

/// Applies every pending step of `plan` in order.
pub fn predict_all(state: &mut Observed, plan: &Plan) -> Result<(), String> {
    for step in plan.pending() {
        predict(state, step)?;
    }
    Ok(())
}
