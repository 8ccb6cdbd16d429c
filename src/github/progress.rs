//! The run's progress in the Action's log: the same lines as on a terminal, in one log group
//! per phase (steps of one phase run side by side), failures as `::error::` annotations.

use super::commands;
use crate::exec::{Event, EventSink};
use crate::plan::Phase;
use crate::render::progress_line;
use std::sync::Mutex;

#[derive(Default)]
pub struct ActionProgress {
    open: Mutex<Option<&'static str>>,
}

fn group_of(phase: Phase) -> &'static str {
    match phase {
        Phase::Lock => "Lock",
        Phase::Clone => "Build the clone",
        Phase::Prepare => "Before-swap command",
        Phase::Retire | Phase::Swap => "Swap",
        Phase::Restart => "Restart command",
        Phase::Cleanup => "Clean up",
        Phase::Rollback => "Rollback",
    }
}

impl ActionProgress {
    fn enter(&self, title: &'static str) {
        let mut open = self.open.lock().expect("progress lock");
        if *open != Some(title) {
            if open.is_some() {
                println!("{}", commands::END_GROUP);
            }
            println!("{}", commands::group(title));
            *open = Some(title);
        }
    }

    /// Closes the open log group, if any.
    pub fn close(&self) {
        if self.open.lock().expect("progress lock").take().is_some() {
            println!("{}", commands::END_GROUP);
        }
    }
}

impl EventSink for ActionProgress {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::StepStarted { step } => self.enter(group_of(step.phase)),
            Event::RollbackStarted { .. } => self.enter(group_of(Phase::Rollback)),
            _ => {}
        }
        match event {
            // Hidden in every later line of the log, before anything could show it.
            Event::Secret(value) => println!("{}", commands::add_mask(value)),
            Event::Replanned { plan } => {
                self.close();
                super::print_plan("The new plan (another run held the lock until now)", plan);
            }
            Event::StepFailed { step, error, .. } => println!(
                "{}",
                commands::error(&format!("Step {} failed", step.id), error)
            ),
            other => {
                if let Some(line) = progress_line(other) {
                    println!("{line}");
                }
            }
        }
    }
}
