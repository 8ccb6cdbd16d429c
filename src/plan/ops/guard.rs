//! The guardrails before the first retire, as Blue/Green deployments check them: every clone
//! settled, the replicas among them caught up (`ReplicaLag`), and the target tree as planned
//! (same instances, same identities, nothing pending). Reads only; a failure stops the run
//! with nothing retired.

use super::GrantContext;
use super::Grants;
use crate::plan::LatencyModel;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct GuardOp {
    /// The target tree as planned: each original's name and `DbiResourceId`.
    pub originals: Vec<(String, Option<String>)>,
    /// The clones, which must be settled.
    pub clones: Vec<String>,
    /// The clones that are read replicas: their lag is checked.
    pub replicas: Vec<String>,
}

impl GuardOp {
    pub fn action(&self) -> &'static str {
        "CheckGuardrails"
    }

    pub fn params(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let names: Vec<&str> = self.originals.iter().map(|(n, _)| n.as_str()).collect();
        m.insert("TargetTreeUnchanged".into(), json!(names));
        m.insert("ClonesSettled".into(), json!(self.clones));
        if !self.replicas.is_empty() {
            m.insert("ReplicaLagWithinLimit".into(), json!(self.replicas));
        }
        m
    }

    pub fn expected(&self, latency: &LatencyModel) -> f64 {
        latency.api_call
    }

    /// CloudWatch has no resource-level permissions for reading metrics.
    pub fn grants(&self, _ctx: &GrantContext<'_>, g: &mut Grants) {
        if !self.replicas.is_empty() {
            g.allow("cloudwatch:GetMetricStatistics", ["*".to_string()]);
        }
    }
}
