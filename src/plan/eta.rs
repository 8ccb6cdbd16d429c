//! Expected duration and downtime of a plan, from a latency model: the critical path through
//! the step graph, and the longest time any endpoint is without an instance (from its retire
//! rename to its swap-in rename).

use super::latency::LatencyModel;
use super::model::{Eta, Plan};
use super::step::{Step, StepId, StepKind};
use std::collections::BTreeMap;
use std::time::Duration;

/// Earliest start and finish of every pending step with unlimited concurrency (skipped steps
/// take no time).
pub fn schedule(plan: &Plan, latency: &LatencyModel) -> BTreeMap<StepId, (f64, f64)> {
    let mut times: BTreeMap<StepId, (f64, f64)> = BTreeMap::new();
    // Steps are listed after their dependencies, so one pass suffices.
    for step in &plan.steps {
        let start = step
            .depends_on
            .iter()
            .filter_map(|d| times.get(d).map(|t| t.1))
            .fold(0.0, f64::max);
        let length = if step.skip.is_some() {
            0.0
        } else {
            step.op.expected(latency)
        };
        times.insert(step.id.clone(), (start, start + length));
    }
    times
}

pub fn estimate(plan: &Plan, latency: &LatencyModel) -> Eta {
    let times = schedule(plan, latency);
    let duration = times.values().map(|t| t.1).fold(0.0, f64::max);
    // An endpoint is down from its retire rename to its swap-in rename; an Aurora custom
    // endpoint from its delete on the retired cluster to its creation on the new one.
    let pairs = [
        (StepKind::Retire, StepKind::Swap),
        (StepKind::DropEndpoint, StepKind::Endpoint),
    ];
    let downtime = plan
        .pending()
        .filter_map(|first| {
            let (_, last) = pairs.iter().find(|(k, _)| *k == first.id.kind)?;
            let last = StepId {
                kind: *last,
                subject: first.id.subject.clone(),
            };
            Some(times.get(&last)?.1 - times[&first.id].0)
        })
        .fold(0.0, f64::max);
    Eta {
        duration_seconds: duration,
        downtime_seconds: downtime,
    }
}

/// For the poller: how long a step is expected to take.
pub fn expected(step: &Step, latency: &LatencyModel) -> Duration {
    Duration::from_secs_f64(step.op.expected(latency).max(0.0))
}

impl Plan {
    /// The plan with its expected duration and downtime under `latency`.
    pub fn with_eta(mut self, latency: &LatencyModel) -> Self {
        self.eta = Some(estimate(&self, latency));
        self
    }
}
