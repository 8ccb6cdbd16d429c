//! Progress of a run for people, rendered from the executor's events: one line per event, the
//! same words on a terminal (stderr) and in the Action's log.

use crate::exec::{Event, EventSink};

/// The line an event shows as, if any.
pub fn progress_line(event: &Event<'_>) -> Option<String> {
    match event {
        Event::StepStarted { step } => Some(format!(
            "-> {} ({} {})",
            step.id,
            step.op.action(),
            step.resource
        )),
        Event::StepDone { step, seconds } => Some(format!("   done {} in {seconds:.1}s", step.id)),
        Event::StepSkipped { step, reason } => Some(format!("   skip {}: {reason}", step.id)),
        Event::StepFailed { step, error, .. } => Some(format!("!! {} failed: {error}", step.id)),
        Event::RollbackStarted { plan } => Some(format!(
            "!! rolling back: {} steps to put the original names back",
            plan.steps.len()
        )),
        Event::Left(text) => Some(format!("   left: {text}")),
        Event::Progress { step, message } => Some(format!("   .. {}: {message}", step.id)),
        Event::Cloned { cluster, kind } => {
            Some(format!("   {cluster} is a {} clone", kind.as_str()))
        }
        Event::Replanned { plan } => Some(format!(
            "another run held the lock until now; the new plan:\n{}",
            super::plan_text(plan).trim_end()
        )),
        // The run's start and end, and the outage, are shown by the report; a secret never.
        Event::Secret(_)
        | Event::NewPassword { .. }
        | Event::RunStarted { .. }
        | Event::RunFinished { .. }
        | Event::OutageStarted
        | Event::OutageEnded { .. } => None,
    }
}

/// Progress lines on stderr, for a terminal or a CI log.
pub struct TextProgress;

impl EventSink for TextProgress {
    fn event(&self, event: &Event<'_>) {
        if let Some(line) = progress_line(event) {
            eprintln!("{line}");
        }
    }
}
