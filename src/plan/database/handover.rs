//! Cross-account: the source's snapshot handed over to the target account (copied with a
//! shareable key, shared, copied again in the target account), its keys checked up front.

use super::builder::{Builder, HandOver};
use super::snapshot::{Release, Restorable};
use crate::error::MitosisError;
use crate::observed::{tags, Observed};
use crate::plan::names::{import_snapshot_id, transfer_snapshot_id};
use crate::plan::ops::{CopyFor, SnapshotOp};
use crate::plan::request::PlanRequest;
use crate::plan::step::{Phase, StepId, StepKind};

/// The hand-over's keys, checked before anything runs (None in a single account).
pub(in crate::plan) fn hand_over(
    obs: &Observed,
    req: &PlanRequest,
    source_encrypted: bool,
    target_key: Option<&str>,
) -> Result<Option<HandOver>, MitosisError> {
    let Some(src) = obs.source_account.as_deref() else {
        return Ok(None);
    };
    if req.source_time.is_some() {
        return Err(MitosisError::bad_input(format!(
            "--source-time cannot reach a source in another account ({}): a point-in-time restore happens in the source's own account; use --snapshot fresh for current data",
            src.account.account
        )));
    }
    let (source_key, target_key) = if source_encrypted {
        let Some(source_key) = req.source_kms_key_id.clone() else {
            return Err(MitosisError::bad_input(format!(
                "source {:?} is encrypted: give --source-kms-key-id, a customer-managed KMS key in account {} whose key policy allows account {} (a snapshot encrypted with the default aws/rds key can never be shared); `iam-policy` prints the key-policy statement",
                req.source, src.account.account, obs.account.account
            )));
        };
        let Some(target_key) = req.kms_key_id.clone().or(target_key.map(str::to_string)) else {
            return Err(MitosisError::bad_input(format!(
                "source {:?} is encrypted but target {:?} is not: give --kms-key-id, a KMS key of account {} for the target's copy of the shared snapshot",
                req.source, req.target, obs.account.account
            )));
        };
        (Some(source_key), Some(target_key))
    } else {
        (None, None)
    };
    Ok(Some(HandOver {
        target_account: obs.account.account.clone(),
        source_key,
        target_key,
    }))
}

impl Builder<'_> {
    /// Cross-account: the chosen snapshot of the source is copied in the source account (a
    /// manual copy, shareable, with a key the target account may use), shared with the target
    /// account, and copied there; the source account's copy is then unshared and deleted.
    pub(super) fn hand_over_steps(
        &mut self,
        obs: &Observed,
        source: &str,
        restore_done: bool,
        h: HandOver,
    ) -> Result<Restorable, MitosisError> {
        let src = obs.source_view();
        let target = self.req.target.clone();
        let transfer_id = transfer_snapshot_id(&target, &self.run_id);
        let import_id = import_snapshot_id(&target, &self.run_id);
        let transfer = src.snapshots.iter().find(|s| s.id == transfer_id);
        let import = obs.snapshots.iter().find(|s| s.id == import_id);
        // The import exists, or has served its restore and been deleted.
        let imported = import.is_some() || restore_done;
        let transferred = transfer.is_some() || imported;
        let in_source = self.steps.len();
        let (chosen, chosen_step) = self.choose_snapshot(src, source, transferred)?;
        let fresh = chosen_step.as_ref().and(chosen.clone());
        let tags = self.marker_tags(tags::ROLE_SNAPSHOT, &target);
        let copy = SnapshotOp::Copy {
            from: chosen.clone().unwrap_or_default(),
            snapshot_id: transfer_id.clone(),
            kms_key_id: h.source_key.clone(),
            tags: tags.clone(),
            purpose: CopyFor::Transfer,
        };
        let transfer_skip = if imported {
            Some(format!("{import_id} is already in the target account"))
        } else {
            transfer.map(|_| format!("{transfer_id} already exists"))
        };
        let op = self.snapshot_op(copy);
        let transferred_step = self.push(
            StepId::new(StepKind::Transfer, &target),
            Phase::Clone,
            &transfer_id,
            op,
            chosen_step.into_iter().collect(),
            transfer_skip,
        );
        if let Some(id) = fresh {
            let keep = self.req.keep_snapshot;
            self.release_snapshot_step(src, &id, transferred_step.clone(), transferred, keep);
        }
        let share = |share: bool| SnapshotOp::Share {
            snapshot_id: transfer_id.clone(),
            account: h.target_account.clone(),
            share,
        };
        let op = self.snapshot_op(share(true));
        let shared = self.push(
            StepId::new(StepKind::Share, &target),
            Phase::Clone,
            &transfer_id,
            op,
            vec![transferred_step],
            imported.then(|| format!("{import_id} is already in the target account")),
        );
        let in_target = self.steps.len();
        let snapshot = self.snapshots_of.arn_kinds().0;
        let transfer_arn = transfer
            .map(|t| t.arn.clone())
            .unwrap_or_else(|| src.account.arn(&format!("{snapshot}:{transfer_id}")));
        let copy = SnapshotOp::Copy {
            from: transfer_arn,
            snapshot_id: import_id.clone(),
            kms_key_id: h.target_key.clone(),
            tags,
            purpose: CopyFor::Import,
        };
        let import_skip = if restore_done {
            Some("the clone is already restored".to_string())
        } else {
            import.map(|_| format!("{import_id} already exists"))
        };
        let op = self.snapshot_op(copy);
        let imported_step = self.push(
            StepId::new(StepKind::Import, &target),
            Phase::Clone,
            &import_id,
            op,
            vec![shared],
            import_skip,
        );
        let after_target = self.steps.len();
        let gone =
            (transfer.is_none() && imported).then(|| format!("{transfer_id} already deleted"));
        let op = self.snapshot_op(share(false));
        let unshared = self.push(
            StepId::new(StepKind::Unshare, &target),
            Phase::Clone,
            &transfer_id,
            op,
            vec![imported_step.clone()],
            gone,
        );
        self.release_snapshot_step(src, &transfer_id, unshared, imported, false);
        for (i, step) in self.steps.iter_mut().enumerate().skip(in_source) {
            if !(in_target..after_target).contains(&i) {
                step.account = crate::plan::Account::Source;
            }
        }
        Ok(Restorable {
            snapshot_id: Some(import_id.clone()),
            after: Some(imported_step),
            release: Release::Import(import_id),
        })
    }
}
