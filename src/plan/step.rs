//! Steps: typed ids, phases and the step itself. A step's id is its kind and the resource it
//! is about (`create-temp-demo`, `retire-demo`); dependencies are the ids the builder returned,
//! so nothing downstream parses an id back out of a string.

use super::ops::Op;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a step does: the first part of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKind {
    /// The target's lock is taken (and renewed while the run lives).
    Lock,
    /// The target's lock is released.
    Unlock,
    /// The lock is put on the new root before the old root is deleted.
    MoveLock,
    /// `--snapshot fresh`: a new snapshot of the source.
    Snapshot,
    /// The fresh snapshot is deleted once the clone restored from it exists.
    DeleteSnapshot,
    /// `--keep-snapshot`: the fresh snapshot loses the tool's markers.
    KeepSnapshot,
    /// temp-X is created (a replica, or a restore on the snapshot path).
    Create,
    /// The root clone leaves the source's replication.
    Promote,
    /// temp-X gets X's post-creation attributes.
    Configure,
    BeforeSwap,
    /// The clone root is tagged: the before-swap command succeeded.
    Prepared,
    /// The guardrails are checked before the first retire.
    Guard,
    /// X is tagged as retired by this run, just before its rename.
    Mark,
    /// X -> old-X.
    Retire,
    /// temp-X -> X.
    Swap,
    Restart,
    /// The new X gets X's deletion protection.
    Protect,
    /// old-X loses its deletion protection, just before its delete.
    Unprotect,
    Delete,
    /// The tool's markers come off the new X.
    Unmark,
    /// Rollback: a swapped-in clone goes back to temp-X.
    Unswap,
    /// Rollback: old-X goes back to X.
    Unretire,
    /// Rollback: X loses its retirement markers.
    UnmarkOld,
    /// Rollback: a clone of this run is deleted.
    Discard,
    /// The clone root's master password is set from the target's secret.
    Password,
    /// The clone root is tagged: its password is set.
    PasswordSet,
    /// An Aurora custom endpoint is created on the cluster that now has the target's name.
    Endpoint,
    /// An Aurora custom endpoint is deleted from the cluster that had it, so that its name
    /// (unique in the region) can move.
    DropEndpoint,
    /// Cross-account: the source account copies the chosen snapshot to a manual transfer
    /// snapshot (automated snapshots cannot be shared), re-encrypted with a key the target
    /// account may use.
    Transfer,
    /// Cross-account: the transfer snapshot is shared with the target account.
    Share,
    /// Cross-account: the target account copies the shared snapshot into a snapshot of its own.
    Import,
    /// Cross-account: the transfer snapshot is no longer shared.
    Unshare,
    /// An environment's target bucket gets the source bucket's new and changed objects.
    SyncBucket,
    /// The target bucket loses what the source bucket lacks, once the restart succeeded.
    PruneBucket,
    /// A copy's bucket is created (`copy --config`).
    CreateBucket,
    /// A copy's bucket is emptied and deleted (`destroy`, `sweep`).
    DeleteBucket,
    /// An environment's Auto Scaling group goes into standby before the first retire.
    Standby,
    /// The group comes back in service after the restart (or the rollback).
    InService,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Lock => "lock",
            StepKind::Unlock => "unlock",
            StepKind::MoveLock => "move-lock",
            StepKind::Snapshot => "snapshot",
            StepKind::DeleteSnapshot => "delete-snapshot",
            StepKind::KeepSnapshot => "keep-snapshot",
            StepKind::Create => "create",
            StepKind::Promote => "promote",
            StepKind::Configure => "configure",
            StepKind::BeforeSwap => "before-swap",
            StepKind::Prepared => "prepared",
            StepKind::Guard => "guardrails",
            StepKind::Mark => "mark",
            StepKind::Retire => "retire",
            StepKind::Swap => "swap",
            StepKind::Restart => "restart",
            StepKind::Protect => "protect",
            StepKind::Unprotect => "unprotect",
            StepKind::Delete => "delete",
            StepKind::Unmark => "unmark",
            StepKind::Unswap => "unswap",
            StepKind::Unretire => "unretire",
            StepKind::UnmarkOld => "unmark-old",
            StepKind::Discard => "discard",
            StepKind::Password => "password",
            StepKind::PasswordSet => "password-set",
            StepKind::Endpoint => "endpoint",
            StepKind::DropEndpoint => "drop-endpoint",
            StepKind::Transfer => "transfer",
            StepKind::Share => "share",
            StepKind::Import => "import",
            StepKind::Unshare => "unshare",
            StepKind::SyncBucket => "sync-bucket",
            StepKind::PruneBucket => "prune-bucket",
            StepKind::CreateBucket => "create-bucket",
            StepKind::DeleteBucket => "delete-bucket",
            StepKind::Standby => "standby",
            StepKind::InService => "in-service",
        }
    }
}

/// A step's identity: its kind and the resource name it is about (none for the hooks, which
/// happen once per run). Shown as `kind-subject`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId {
    pub kind: StepKind,
    pub subject: Option<String>,
}

impl StepId {
    pub fn new(kind: StepKind, subject: &str) -> Self {
        StepId {
            kind,
            subject: Some(subject.to_string()),
        }
    }

    /// A step that happens once per run (the hooks).
    pub fn once(kind: StepKind) -> Self {
        StepId {
            kind,
            subject: None,
        }
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that widths in format strings apply (the flight plan aligns ids).
        match &self.subject {
            Some(s) => f.pad(&format!("{}-{s}", self.kind.as_str())),
            None => f.pad(self.kind.as_str()),
        }
    }
}

impl PartialEq<str> for StepId {
    fn eq(&self, other: &str) -> bool {
        let kind = self.kind.as_str();
        match &self.subject {
            None => other == kind,
            Some(s) => other
                .strip_prefix(kind)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| rest == s),
        }
    }
}

impl PartialEq<&str> for StepId {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<String> for StepId {
    fn eq(&self, other: &String) -> bool {
        self == other.as_str()
    }
}

/// Which part of the refresh a step belongs to; used for grouping in reports and for the
/// safety rules (nothing in `Cleanup` runs before `Restart` succeeded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Taking and releasing the target's lock.
    Lock,
    Clone,
    /// The before-swap hook: the clone is complete, nothing is renamed yet.
    Prepare,
    Retire,
    Swap,
    Restart,
    Cleanup,
    /// Putting the original names back after a failure.
    Rollback,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Lock => "lock",
            Phase::Clone => "clone",
            Phase::Prepare => "prepare",
            Phase::Retire => "retire",
            Phase::Swap => "swap",
            Phase::Restart => "restart",
            Phase::Cleanup => "cleanup",
            Phase::Rollback => "rollback",
        }
    }
}

/// Where `apply --until` stops: after the clone (and the before-swap command), or right after
/// the swap (before the restart command). A later `apply` continues from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Clone,
    Swap,
}

impl Until {
    /// The last phase that runs.
    pub fn last_phase(self) -> Phase {
        match self {
            Until::Clone => Phase::Prepare,
            Until::Swap => Phase::Swap,
        }
    }
}

impl std::str::FromStr for Until {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "clone" => Ok(Until::Clone),
            "swap" => Ok(Until::Swap),
            other => Err(format!(
                "{other:?} is not a phase to stop at: use clone or swap"
            )),
        }
    }
}

/// Which AWS account a step is made in. Only a cross-account refresh has steps in the source
/// account: preparing and sharing its snapshot, and removing it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Account {
    #[default]
    Target,
    Source,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Target => "target",
            Account::Source => "source",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: StepId,
    pub phase: Phase,
    /// The identifier of the resource acted on (a DB instance; for a hook, the instance whose
    /// endpoint it is given).
    pub resource: String,
    pub op: Op,
    pub depends_on: Vec<StepId>,
    /// Why this step is already done, when it is.
    pub skip: Option<String>,
    /// The account whose credentials make the call.
    pub account: Account,
    /// Which database pair of the plan the step is about (`Plan::pair`): 0 unless an
    /// environment has several databases.
    pub part: usize,
}

impl Step {
    pub fn is_pending(&self) -> bool {
        self.skip.is_none()
    }
}

/// Appends a step and returns its id, for the next steps to depend on: the one way the
/// planner and the rollback build steps.
pub fn push(
    steps: &mut Vec<Step>,
    id: StepId,
    phase: Phase,
    resource: &str,
    op: Op,
    depends_on: Vec<StepId>,
    skip: Option<String>,
) -> StepId {
    steps.push(Step {
        id: id.clone(),
        phase,
        resource: resource.to_string(),
        op,
        depends_on,
        skip,
        account: Account::Target,
        part: 0,
    });
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_show_and_compare_as_kind_dash_subject() {
        let id = StepId::new(StepKind::UnmarkOld, "demo");
        assert_eq!(id.to_string(), "unmark-old-demo");
        assert!(id == "unmark-old-demo");
        assert!(id != "unmark-demo");
        assert!(StepId::new(StepKind::Unmark, "old-demo") != id);
        assert_eq!(
            StepId::once(StepKind::BeforeSwap).to_string(),
            "before-swap"
        );
        assert!(StepId::once(StepKind::Restart) == "restart");
    }
}
