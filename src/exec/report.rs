//! The run report, built from the executor's events like every other rendering of a run.

use super::events::{Event, EventSink};
use crate::schema::{
    RunReport, RunResult, StepReport, StepStatus, StoppedAt, REPORT_FORMAT_VERSION,
};
use std::sync::Mutex;

/// Collects a run's events into its `RunReport`.
#[derive(Default)]
pub struct ReportBuilder {
    state: Mutex<Building>,
}

#[derive(Default)]
struct Building {
    report: Option<RunReport>,
    in_rollback: bool,
}

fn entries(plan: &crate::plan::Plan) -> Vec<StepReport> {
    plan.steps
        .iter()
        .map(|step| StepReport {
            id: step.id.to_string(),
            action: step.op.action().to_string(),
            instance: step.resource.clone(),
            status: StepStatus::NotRun,
            seconds: None,
            detail: step.skip.clone(),
        })
        .collect()
}

impl ReportBuilder {
    /// The report so far (None before the run started).
    pub fn report(&self) -> Option<RunReport> {
        self.state.lock().expect("report lock").report.clone()
    }
}

impl Building {
    /// The step's entry: in the rollback's list while a rollback runs, else (and for the
    /// plan's own steps run after it, such as the unlock) in the plan's.
    fn entry(&mut self, id: &crate::plan::StepId) -> Option<&mut StepReport> {
        let in_rollback = self.in_rollback;
        let report = self.report.as_mut()?;
        let id = id.to_string();
        if in_rollback && report.rollback.iter().any(|e| e.id == id) {
            return report.rollback.iter_mut().find(|e| e.id == id);
        }
        report.steps.iter_mut().find(|e| e.id == id)
    }
}

impl EventSink for ReportBuilder {
    fn event(&self, event: &Event<'_>) {
        let mut b = self.state.lock().expect("report lock");
        match event {
            Event::RunStarted { plan } => {
                b.report = Some(RunReport {
                    version: REPORT_FORMAT_VERSION,
                    run_id: plan.run_id.clone(),
                    source: plan.source.clone(),
                    target: plan.target.clone(),
                    databases: crate::schema::DatabaseDoc::of(plan),
                    result: RunResult::Succeeded,
                    phase: StoppedAt::Complete,
                    duration_seconds: 0.0,
                    outage_seconds: None,
                    steps: entries(plan),
                    rollback: Vec::new(),
                    endpoints: Vec::new(),
                    error: None,
                    left: Vec::new(),
                    clone: None,
                    operation: (plan.operation != crate::plan::Operation::Refresh)
                        .then_some(plan.operation),
                });
                b.in_rollback = false;
            }
            Event::StepStarted { .. } | Event::OutageStarted | Event::Replanned { .. } => {}
            Event::OutageEnded { seconds } => {
                if let Some(r) = b.report.as_mut() {
                    r.outage_seconds = Some(*seconds);
                }
            }
            Event::StepSkipped { step, .. } => {
                if let Some(e) = b.entry(&step.id) {
                    e.status = StepStatus::Skipped;
                }
            }
            Event::StepDone { step, seconds } => {
                if let Some(e) = b.entry(&step.id) {
                    e.status = StepStatus::Done;
                    e.seconds = Some(*seconds);
                }
            }
            Event::StepFailed {
                step,
                error,
                seconds,
            } => {
                if let Some(e) = b.entry(&step.id) {
                    e.status = StepStatus::Failed;
                    e.seconds = Some(*seconds);
                    e.detail = Some(error.clone());
                }
            }
            Event::RollbackStarted { plan } => {
                b.in_rollback = true;
                if let Some(r) = b.report.as_mut() {
                    r.rollback = entries(plan);
                }
            }
            Event::Left(text) => {
                if let Some(r) = b.report.as_mut() {
                    r.left.push(text.clone());
                }
            }
            // A long step's last progress is its detail (a sync's counts).
            Event::Progress { step, message } => {
                if let Some(e) = b.entry(&step.id) {
                    e.detail = Some(message.clone());
                }
            }
            Event::Secret(_) | Event::NewPassword { .. } => {}
            Event::Cloned { kind, .. } => {
                if let Some(r) = b.report.as_mut() {
                    r.clone = Some(*kind);
                }
            }
            Event::RunFinished {
                result,
                phase,
                error,
                endpoints,
                seconds,
            } => {
                if let Some(r) = b.report.as_mut() {
                    r.result = *result;
                    r.phase = *phase;
                    r.error = error.clone();
                    r.endpoints = endpoints.to_vec();
                    r.duration_seconds = *seconds;
                }
            }
        }
    }
}
