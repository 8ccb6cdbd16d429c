//! What every database planner shares: the builder that emits a plan's steps, and the steps
//! an instance tree and a cluster both take (markers, passwords, the before-swap command,
//! retiring, the restart command).

use crate::observed::{tags, Observed};
use crate::plan::attributes::{ModifyAttrs, Tag};
use crate::plan::ops::{CommandOp, Hook, InstanceOp, Op, SnapshotOf};
use crate::plan::request::PlanRequest;
use crate::plan::step::{Phase, Step, StepId, StepKind};
use crate::plan::tree::Node;

/// Emits the steps of one plan: the instance tree's here, the cluster's in `cluster.rs`.
pub(in crate::plan) struct Builder<'a> {
    pub(in crate::plan) steps: Vec<Step>,
    pub(in crate::plan) req: &'a PlanRequest,
    pub(in crate::plan) run_id: String,
    /// Whose snapshots the snapshot path takes and restores.
    pub(in crate::plan) snapshots_of: SnapshotOf,
    /// A cross-account refresh: how the snapshot travels.
    pub(in crate::plan) hand_over: Option<HandOver>,
    /// The role a clone is marked with: `temp` (a refresh) or `copy`.
    pub(in crate::plan) clone_role: &'static str,
    /// More markers on every clone (a copy's prefix and expiry).
    pub(in crate::plan) copy_tags: Vec<Tag>,
}

/// How a cross-account refresh hands the source's snapshot over to the target account.
#[derive(Debug, Clone)]
pub(in crate::plan) struct HandOver {
    /// The target account, which the transfer snapshot is shared with.
    pub(in crate::plan) target_account: String,
    /// The source account's transfer copy is encrypted with this key (encrypted sources).
    pub(in crate::plan) source_key: Option<String>,
    /// The target account's copy is encrypted with this key (encrypted sources).
    pub(in crate::plan) target_key: Option<String>,
}

/// " (account N)" when the source lives in another account.
pub(in crate::plan) fn in_account(obs: &Observed) -> String {
    match &obs.source_account {
        Some(src) => format!(" (account {})", src.account.account),
        None => String::new(),
    }
}

/// The two accounts of a cross-account plan.
pub(in crate::plan) fn accounts(obs: &Observed) -> Option<crate::plan::Accounts> {
    obs.source_account
        .as_ref()
        .map(|src| crate::plan::Accounts {
            source: src.account.account.clone(),
            target: obs.account.account.clone(),
        })
}

/// What a cross-account plan should say up front.
pub(in crate::plan) fn accounts_note(obs: &Observed) -> Option<String> {
    let src = obs.source_account.as_ref()?;
    Some(format!(
        "the source is in account {} and the target in account {}: the snapshot is copied in each account (full copies of the data, which take longer than a restore in one account), shared in between, and both copies are deleted once the clone exists",
        src.account.account, obs.account.account
    ))
}

/// What happens to a target's RDS-managed master password (`ManageMasterUserPassword`): the
/// clone has the source's password, and the managed secret belongs to the retired original.
pub(in crate::plan) fn managed_password_note(
    target: &str,
    managed_secret: Option<&str>,
    req: &PlanRequest,
) -> Vec<String> {
    let Some(secret) = managed_secret else {
        return Vec::new();
    };
    let then = match &req.master_password_secret {
        Some(own) => format!("the clone's master password is set from {own} instead"),
        None => "the clone keeps the source's master password: give --master-password-secret with a secret of your own, or turn managed passwords on again after the refresh".to_string(),
    };
    vec![format!(
        "{target} manages its master password in Secrets Manager ({secret}); that secret belongs to the retired {target} and is deleted with it: {then}"
    )]
}

impl Builder<'_> {
    pub(in crate::plan) fn push(
        &mut self,
        id: StepId,
        phase: Phase,
        resource: &str,
        op: Op,
        depends_on: Vec<StepId>,
        skip: Option<String>,
    ) -> StepId {
        crate::plan::step::push(&mut self.steps, id, phase, resource, op, depends_on, skip)
    }

    pub(in crate::plan) fn marker_tags(&self, role: &str, original: &str) -> Vec<Tag> {
        [
            (tags::ROLE, role),
            (tags::ORIGINAL, original),
            (tags::RUN, self.run_id.as_str()),
            (tags::SOURCE, self.req.source.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| Tag::new(k, v))
        .collect()
    }

    /// A clone's tags: the user's own tags of what it stands for (`original`), and the run's
    /// markers.
    pub(in crate::plan) fn clone_tags(
        &self,
        user: std::collections::BTreeMap<String, String>,
        original: &str,
    ) -> Vec<Tag> {
        let mut list: Vec<Tag> = user
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect();
        list.extend(self.marker_tags(self.clone_role, original));
        list.extend(self.copy_tags.iter().cloned());
        list
    }

    /// `--master-password-secret`: the clone root (`temp_root`) gets the target's master
    /// password from the secret, then a tag that says so; `done` when an earlier attempt of
    /// this run did it or the swap has begun. Before the before-swap command, which may log in
    /// with it. Returns what comes next waits for.
    pub(in crate::plan) fn password_steps(
        &mut self,
        temp_root: &str,
        done: bool,
        set: impl FnOnce(String) -> Op,
        mark: impl FnOnce(Vec<Tag>) -> Op,
        after: Vec<StepId>,
    ) -> Vec<StepId> {
        let Some(secret) = self.req.master_password_secret.clone() else {
            return after;
        };
        let skip = done.then(|| format!("{temp_root} already has the target's password"));
        let set = self.push(
            StepId::new(StepKind::Password, temp_root),
            Phase::Prepare,
            temp_root,
            set(secret),
            after,
            skip.clone(),
        );
        let tags = vec![Tag::new(tags::PASSWORD, &self.run_id)];
        vec![self.push(
            StepId::new(StepKind::PasswordSet, temp_root),
            Phase::Prepare,
            temp_root,
            mark(tags),
            vec![set],
            skip,
        )]
    }

    /// The before-swap command on the complete clone (whose root is `temp_root`), then the
    /// root's `prepared` tag (`mark` makes the tagging step for the root's kind). Returns what
    /// the guardrails wait for.
    pub(in crate::plan) fn prepare_steps(
        &mut self,
        temp_root: &str,
        started: bool,
        prepared: bool,
        mark: impl FnOnce(Vec<Tag>) -> Op,
        clone_done: Vec<StepId>,
    ) -> Vec<StepId> {
        let Some(command) = &self.req.before_swap else {
            return clone_done;
        };
        let skip = if started {
            Some("the swap has already begun".to_string())
        } else {
            prepared.then(|| "the before-swap command already succeeded".to_string())
        };
        let op = CommandOp {
            hook: Hook::BeforeSwap,
            command: command.clone(),
            redacted: self.req.redact_commands,
        };
        let hook = self.push(
            StepId::once(StepKind::BeforeSwap),
            Phase::Prepare,
            temp_root,
            Op::Command(op),
            clone_done,
            skip.clone(),
        );
        let tags = vec![Tag::new(tags::PREPARED, &self.run_id)];
        vec![self.push(
            StepId::new(StepKind::Prepared, temp_root),
            Phase::Prepare,
            temp_root,
            mark(tags),
            vec![hook],
            skip,
        )]
    }

    /// Mark X as retired by this run, then rename it to old-X.
    pub(in crate::plan) fn retire_steps(&mut self, node: &Node, clone_done: Vec<StepId>) -> StepId {
        let marked = node
            .original
            .as_ref()
            .is_none_or(|o| o.is_marked(tags::ROLE_OLD, &node.name));
        let skip = marked.then(|| format!("{} already marked for retirement", node.name));
        let tags = self.marker_tags(tags::ROLE_OLD, &node.name);
        let mark = self.push(
            StepId::new(StepKind::Mark, &node.name),
            Phase::Retire,
            &node.name,
            Op::Instance(InstanceOp::AddTags { tags }),
            clone_done,
            skip,
        );
        let skip = node
            .retired()
            .then(|| format!("{} already retired as {}", node.name, node.old()));
        self.push(
            StepId::new(StepKind::Retire, &node.name),
            Phase::Retire,
            &node.name,
            Op::Instance(InstanceOp::Modify(ModifyAttrs::rename(&node.old()))),
            vec![mark],
            skip,
        )
    }

    /// The restart command, when given: what every delete waits for.
    pub(in crate::plan) fn restart_step(
        &mut self,
        cleanup_started: bool,
        swaps: Vec<StepId>,
    ) -> Vec<StepId> {
        let Some(command) = &self.req.restart else {
            return swaps;
        };
        let skip = cleanup_started.then(|| "old instances are already being deleted".to_string());
        let op = CommandOp {
            hook: Hook::Restart,
            command: command.clone(),
            redacted: self.req.redact_commands,
        };
        let target = self.req.target.clone();
        vec![self.push(
            StepId::once(StepKind::Restart),
            Phase::Restart,
            &target,
            Op::Command(op),
            swaps,
            skip,
        )]
    }
}
