//! The target's lock: a tag on the roots of the target's trees (X, old-X, temp-X, whichever
//! exist), taken before the first change, renewed while the run lives, moved to the new root
//! before the old one is deleted, released at the end. See `crate::exec::lock` for how it is raced and waited for.

use super::GrantContext;
use super::Grants;
use crate::observed::{OLD_PREFIX, TEMP_PREFIX};
use crate::plan::LatencyModel;
use serde_json::{json, Map, Value};

/// The tag key prefix of a lock: `stack-mitosis:lock:<holder>` = expiry (epoch seconds).
pub const LOCK_PREFIX: &str = "stack-mitosis:lock:";

/// `holder` is the invocation's own id (a new one per command, even when it resumes an
/// earlier run), so that a second invocation never mistakes a live run's lock for its own.
#[derive(Debug, Clone, PartialEq)]
pub enum LockOp {
    /// Take the lock (waiting for another run's to be released or to lapse), then renew it
    /// every third of its TTL while the run lives.
    Take {
        holder: String,
    },
    /// Put the lock on the new root before the old root, which carried it, is deleted.
    Move {
        holder: String,
    },
    Release {
        holder: String,
    },
}

impl LockOp {
    pub fn action(&self) -> &'static str {
        match self {
            LockOp::Take { .. } | LockOp::Move { .. } => "AddTagsToResource",
            LockOp::Release { .. } => "RemoveTagsFromResource",
        }
    }

    pub fn params(&self, target: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("ResourceName".into(), target.into());
        match self {
            LockOp::Take { holder } | LockOp::Move { holder } => {
                m.insert(
                    "Tags".into(),
                    json!([{"Key": format!("{LOCK_PREFIX}{holder}"),
                            "Value": "expiry (epoch seconds): now + --lock-ttl, renewed every third of it"}]),
                );
            }
            LockOp::Release { holder } => {
                m.insert("TagKeys".into(), json!([format!("{LOCK_PREFIX}{holder}")]));
            }
        }
        m
    }

    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        latency.api_call
    }

    /// The lock may sit on the target's root under any of its names during a refresh.
    pub fn grants(&self, target: &str, ctx: &GrantContext<'_>, g: &mut Grants) {
        let holders = [
            target.to_string(),
            format!("{OLD_PREFIX}{target}"),
            format!("{TEMP_PREFIX}{target}"),
        ]
        .map(|n| ctx.account.arn(&format!("{}:{n}", ctx.kind.arn_type())));
        match self {
            // Taking may withdraw after a race, and --force-unlock removes a dead run's lock.
            LockOp::Take { .. } => {
                g.allow("AddTagsToResource", holders.clone());
                g.allow("RemoveTagsFromResource", holders);
            }
            LockOp::Move { .. } => g.allow("AddTagsToResource", holders),
            LockOp::Release { .. } => g.allow("RemoveTagsFromResource", holders),
        }
    }
}
