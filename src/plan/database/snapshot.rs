//! The snapshot path: which snapshot a clone is restored from (the latest, a named one, a
//! fresh one the run takes, or one handed over from another account), and letting go of the
//! tool's own snapshot once the restore exists.

use super::builder::Builder;
use crate::error::MitosisError;
use crate::observed::{tags, Observed, Snapshot};
use crate::plan::names::fresh_snapshot_id;
use crate::plan::ops::{Op, SnapshotOf, SnapshotOp};
use crate::plan::request::SnapshotChoice;
use crate::plan::step::{Phase, StepId, StepKind};

/// What the snapshot path restores: the snapshot, the step after which it is available, and
/// the tool's own snapshot to let go of once the restore exists.
pub(in crate::plan) struct Restorable {
    pub(in crate::plan) snapshot_id: Option<String>,
    pub(in crate::plan) after: Option<StepId>,
    pub(super) release: Release,
}

pub(super) enum Release {
    Nothing,
    /// The fresh snapshot (`--keep-snapshot` keeps it, unmarked).
    Fresh(String),
    /// The target account's copy of a shared snapshot: always deleted.
    Import(String),
}

impl Builder<'_> {
    /// The snapshot the restore starts from: the source's (taken first when fresh), or in a
    /// cross-account refresh the target account's copy of it.
    pub(in crate::plan) fn snapshot_to_restore(
        &mut self,
        obs: &Observed,
        source: &str,
        restore_done: bool,
    ) -> Result<Restorable, MitosisError> {
        if let Some(h) = self.hand_over.clone() {
            return self.hand_over_steps(obs, source, restore_done, h);
        }
        let (snapshot_id, after) = self.choose_snapshot(obs, source, restore_done)?;
        // A snapshot taken by this run (`--snapshot fresh`) goes once the clone exists.
        let release = match (&after, &snapshot_id) {
            (Some(_), Some(id)) => Release::Fresh(id.clone()),
            _ => Release::Nothing,
        };
        Ok(Restorable {
            snapshot_id,
            after,
            release,
        })
    }

    /// Once the restore exists, the tool's own snapshot it started from goes.
    pub(in crate::plan) fn release_restored(
        &mut self,
        obs: &Observed,
        restorable: Restorable,
        restored: StepId,
        restore_done: bool,
    ) {
        match restorable.release {
            Release::Nothing => {}
            Release::Fresh(id) => {
                let keep = self.req.keep_snapshot;
                self.release_snapshot_step(obs, &id, restored, restore_done, keep);
            }
            Release::Import(id) => {
                self.release_snapshot_step(obs, &id, restored, restore_done, false);
            }
        }
    }

    /// Once what was made from one of the tool's snapshots exists (`made`; `made_done` when
    /// a plan made before saw it), the snapshot goes, or with `keep` (`--keep-snapshot`, for
    /// the fresh snapshot) loses the markers that would make a later run adopt it.
    pub(in crate::plan) fn release_snapshot_step(
        &mut self,
        obs: &Observed,
        snapshot_id: &str,
        made: StepId,
        made_done: bool,
        keep: bool,
    ) -> StepId {
        let exists = obs.snapshots.iter().find(|s| s.id == snapshot_id);
        let (kind, op, skip) = if keep {
            let keys: Vec<String> = tags::MARKERS.iter().map(|k| k.to_string()).collect();
            let skip = match exists {
                Some(s) if !s.tags.contains_key(tags::ROLE) => {
                    Some(format!("{snapshot_id} is kept without markers"))
                }
                None if made_done => Some(format!("{snapshot_id} no longer exists")),
                _ => None,
            };
            let op = SnapshotOp::Unmark {
                snapshot_id: snapshot_id.to_string(),
                keys,
            };
            (StepKind::KeepSnapshot, op, skip)
        } else {
            let skip =
                (exists.is_none() && made_done).then(|| format!("{snapshot_id} already deleted"));
            let op = SnapshotOp::Delete {
                snapshot_id: snapshot_id.to_string(),
            };
            (StepKind::DeleteSnapshot, op, skip)
        };
        let op = self.snapshot_op(op);
        self.push(
            StepId::new(kind, snapshot_id),
            Phase::Clone,
            snapshot_id,
            op,
            vec![made],
            skip,
        )
    }

    /// A snapshot operation on the source's kind of snapshot.
    pub(in crate::plan) fn snapshot_op(&self, op: SnapshotOp) -> Op {
        match self.snapshots_of {
            SnapshotOf::Instance => Op::Snapshot(op),
            SnapshotOf::Cluster => Op::ClusterSnapshot(op),
        }
    }

    /// The snapshot to restore (None only when the restore is done and its snapshot is no
    /// longer listed), and the step that takes it when it is fresh.
    pub(in crate::plan) fn choose_snapshot(
        &mut self,
        obs: &Observed,
        source: &str,
        restore_done: bool,
    ) -> Result<(Option<String>, Option<StepId>), MitosisError> {
        let available = |s: &&Snapshot| s.status == "available" && s.instance_id == source;
        match &self.req.snapshot {
            SnapshotChoice::Fresh => {
                let snapshot_id = fresh_snapshot_id(source, &self.run_id);
                let exists = obs.snapshots.iter().any(|s| s.id == snapshot_id);
                // Resuming after the delete: nothing left to take.
                let skip = if restore_done {
                    Some("the clone is already restored".to_string())
                } else {
                    exists.then(|| format!("snapshot {snapshot_id} already exists"))
                };
                let op = SnapshotOp::Create {
                    snapshot_id: snapshot_id.clone(),
                    tags: self.marker_tags(tags::ROLE_SNAPSHOT, &self.req.target.clone()),
                };
                let id = self.push(
                    StepId::new(StepKind::Snapshot, source),
                    Phase::Clone,
                    source,
                    self.snapshot_op(op),
                    Vec::new(),
                    skip,
                );
                Ok((Some(snapshot_id), Some(id)))
            }
            SnapshotChoice::Id(wanted) => {
                if restore_done {
                    return Ok((Some(wanted.clone()), None));
                }
                match obs.snapshots.iter().find(|s| &s.id == wanted) {
                    Some(s) if available(&s) => Ok((Some(wanted.clone()), None)),
                    Some(s) if s.instance_id != source => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} is of {:?}, not of the source {source:?}: pick a snapshot of the source",
                        s.instance_id
                    ))),
                    Some(s) => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} is {:?}, not available: wait for it or pick another with --snapshot",
                        s.status
                    ))),
                    None => Err(MitosisError::bad_input(format!(
                        "snapshot {wanted:?} of {source:?} was not found: list them with `{}`",
                        match self.snapshots_of {
                            SnapshotOf::Instance => format!("aws rds describe-db-snapshots --db-instance-identifier {source}"),
                            SnapshotOf::Cluster => format!("aws rds describe-db-cluster-snapshots --db-cluster-identifier {source}"),
                        }
                    ))),
                }
            }
            SnapshotChoice::Latest => {
                let newest = obs
                    .snapshots
                    .iter()
                    .filter(available)
                    .max_by_key(|s| (s.created, s.id.clone()));
                match newest {
                    Some(s) => Ok((Some(s.id.clone()), None)),
                    // Resuming after the restore: the snapshot no longer matters.
                    None if restore_done => Ok((None, None)),
                    None => Err(MitosisError::bad_input(format!(
                        "the source {source:?} has no available snapshot to restore: use --snapshot fresh to take one first"
                    ))),
                }
            }
        }
    }
}
