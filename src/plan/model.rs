//! The plan itself: what it refreshes (or copies, or destroys), where, in which run, and its
//! steps.

use super::kind::{ClonePath, Kind};
use super::step::{Account, Phase, Step};
use serde::{Deserialize, Serialize};

/// Version of the serialized plan format (`plan --format json`). Bump on breaking changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub source: String,
    pub target: String,
    pub kind: Kind,
    pub path: ClonePath,
    /// The run this plan belongs to: fresh, or read back from the tags of an interrupted run.
    pub run_id: String,
    /// True when the observed state shows an earlier run of this refresh in progress.
    pub resuming: bool,
    pub steps: Vec<Step>,
    /// Expected duration and downtime, when a latency model was applied (`with_eta`).
    pub eta: Option<Eta>,
    /// What the user should know before applying (an engine version that will differ).
    pub notes: Vec<String>,
    /// A cross-account refresh: the source's and the target's accounts.
    pub accounts: Option<Accounts>,
    /// What the plan does: refresh a target, make a throwaway copy, or destroy copies.
    pub operation: Operation,
    /// A copy's or a destroy's prefix (what the copy's names begin with).
    pub copy_prefix: Option<String>,
    /// An environment's further database pairs (`--config` with several databases), in the
    /// config's order: a step whose `part` is i > 0 is about `more[i - 1]`; part 0 is the
    /// plan's own `source`, `target` and `kind`.
    pub more: Vec<Part>,
    /// Why a target looks like production (deletion protection, a production tag), when
    /// `--allow-protected-target` lets the refresh replace it anyway: the plan's first words.
    pub protected_targets: Vec<String>,
}

/// One database pair of a plan with several (see `Plan::more`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub source: String,
    pub target: String,
    pub kind: Kind,
    pub path: ClonePath,
}

/// The database pair a step is about, borrowed from its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair<'a> {
    pub source: &'a str,
    pub target: &'a str,
    pub kind: Kind,
}

/// What a plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Replace the target with a clone of the source (`apply`).
    #[default]
    Refresh,
    /// Build a clone of the source under new names, like the template (`copy`).
    Copy,
    /// Delete a copy (`destroy`, `sweep`).
    Destroy,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Refresh => "refresh",
            Operation::Copy => "copy",
            Operation::Destroy => "destroy",
        }
    }
}

/// The two AWS accounts of a cross-account refresh (their ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    pub source: String,
    pub target: String,
}

impl Accounts {
    /// The id of the account a step is made in.
    pub fn of(&self, account: Account) -> &str {
        match account {
            Account::Source => &self.source,
            Account::Target => &self.target,
        }
    }
}

impl Plan {
    /// The one way a plan is made: what it does, to which database pair, in which run, with
    /// which steps; the rest (resuming, notes, accounts, a copy's prefix, further pairs, the
    /// protected targets, the ETA) starts empty and is set by the planner that knows it.
    pub fn new(operation: Operation, pair: Part, run_id: String, steps: Vec<Step>) -> Self {
        Plan {
            source: pair.source,
            target: pair.target,
            kind: pair.kind,
            path: pair.path,
            run_id,
            resuming: false,
            steps,
            eta: None,
            notes: Vec::new(),
            accounts: None,
            operation,
            copy_prefix: None,
            more: Vec::new(),
            protected_targets: Vec::new(),
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.is_pending())
    }

    /// True when something besides taking and releasing the lock remains to be done.
    pub fn has_work(&self) -> bool {
        self.pending().any(|s| s.phase != Phase::Lock)
    }

    /// The step with this id (as the flight plan shows it).
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == *id)
    }

    /// Every database pair of the plan, part 0 first.
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        let first = Pair {
            source: &self.source,
            target: &self.target,
            kind: self.kind,
        };
        std::iter::once(first)
            .chain(self.more.iter().map(|p| Pair {
                source: &p.source,
                target: &p.target,
                kind: p.kind,
            }))
            .collect()
    }

    /// The database pair `step` is about.
    pub fn pair(&self, step: &Step) -> Pair<'_> {
        let pairs = self.pairs();
        pairs.get(step.part).copied().unwrap_or(pairs[0])
    }
}

/// Expected duration and downtime of a plan (`super::eta`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eta {
    /// Critical path through the pending steps, in seconds.
    pub duration_seconds: f64,
    /// Longest time one endpoint has no instance behind it, in seconds.
    pub downtime_seconds: f64,
}
