//! The executor reports what it does as events; reporters render them. The core never prints.

use crate::plan::Step;

#[derive(Debug)]
pub enum Event<'a> {
    StepStarted { step: &'a Step },
    StepDone { step: &'a Step, seconds: f64 },
    StepSkipped { step: &'a Step, reason: &'a str },
    StepFailed { step: &'a Step, error: String },
    RollbackStarted { steps: usize },
    Note(String),
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Progress lines on stderr, for a terminal or a CI log.
pub struct TextReporter;

impl Reporter for TextReporter {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::StepStarted { step } => {
                eprintln!("-> {} ({} {})", step.id, step.op.action(), step.instance)
            }
            Event::StepDone { step, seconds } => eprintln!("   done {} in {seconds:.1}s", step.id),
            Event::StepSkipped { step, reason } => eprintln!("   skip {}: {reason}", step.id),
            Event::StepFailed { step, error } => eprintln!("!! {} failed: {error}", step.id),
            Event::RollbackStarted { steps } => {
                eprintln!("!! rolling back: {steps} steps to put the original names back")
            }
            Event::Note(text) => eprintln!("   {text}"),
        }
    }
}

/// Discards events (tests that only look at results).
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _: &Event<'_>) {}
}
