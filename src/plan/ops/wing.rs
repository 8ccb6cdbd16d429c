//! The steps of a kind that rides along with the databases (`crate::kinds`: an environment's
//! S3 buckets, its Auto Scaling groups). The planner, the flight plan and the policy see such a
//! step only through `WingOp`; each kind defines its own operations in its own folder, and
//! `crate::kinds::run` hands a step back to its kind to carry out. Adding a kind touches
//! nothing here.

use super::{GrantContext, Grants};
use crate::plan::LatencyModel;
use serde_json::{Map, Value};
use std::any::Any;
use std::fmt;

/// What the rest of the tool asks of a wing's operation.
pub trait WingOp: fmt::Debug + Send + Sync + 'static {
    /// The AWS API operation the flight plan shows for it.
    fn action(&self) -> &'static str;
    /// The request parameters under their AWS names, as the flight plan shows them.
    fn params(&self, resource: &str) -> Map<String, Value>;
    /// Expected seconds until it has taken effect.
    fn expected(&self, latency: &LatencyModel) -> f64;
    /// The IAM actions and resources it needs.
    fn grants(&self, resource: &str, ctx: &GrantContext<'_>, grants: &mut Grants);
}

/// The object-safe half of a wing's operation: what lets a plan be cloned, compared and its
/// operations handed back to their kind.
trait AnyWing: WingOp {
    fn as_any(&self) -> &dyn Any;
    fn clone_box(&self) -> Box<dyn AnyWing>;
    fn same(&self, other: &dyn AnyWing) -> bool;
}

impl<T: WingOp + Clone + PartialEq> AnyWing for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn clone_box(&self) -> Box<dyn AnyWing> {
        Box::new(self.clone())
    }
    fn same(&self, other: &dyn AnyWing) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// One operation of a wing, as a step holds it.
pub struct Wing(Box<dyn AnyWing>);

impl Wing {
    pub fn new<T: WingOp + Clone + PartialEq>(op: T) -> Self {
        Wing(Box::new(op))
    }

    /// The operation, when it is of the kind `T`.
    pub fn get<T: WingOp>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }

    pub fn action(&self) -> &'static str {
        self.0.action()
    }

    pub fn params(&self, resource: &str) -> Map<String, Value> {
        self.0.params(resource)
    }

    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        self.0.expected(latency)
    }

    pub fn grants(&self, resource: &str, ctx: &GrantContext<'_>, grants: &mut Grants) {
        self.0.grants(resource, ctx, grants)
    }
}

impl Clone for Wing {
    fn clone(&self) -> Self {
        Wing(self.0.clone_box())
    }
}

impl PartialEq for Wing {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(other.0.as_ref())
    }
}

impl fmt::Debug for Wing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
