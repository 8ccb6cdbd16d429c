//! The flow the command line and the Action share, and the plain options both build: what to
//! refresh (`RefreshOptions`) and how to apply it (`ApplyOptions`), each default written once
//! here. Read the account and plan; take the lock, execute, release. The clock is read here,
//! at the edge, for run ids and lock expiry.

use crate::aws::{observe, RdsRead, RdsWrite};
use crate::error::MitosisError;
use crate::exec::{EventSink, ExecConfig, ExecError, Executor, LockSettings, PollSettings};
use crate::kinds::bucket::OwnedBucket;
use crate::kinds::{Reads, Writes};
use crate::observed::Observed;
use crate::plan::{
    LatencyModel, OnFailure, Plan, PlanRequest, Removal, SnapshotChoice, SourceTime,
};
use crate::schema::{RunReport, RunResult, StepStatus};
use std::time::Duration;

/// The defaults of `apply`, for its flags and for the Action alike.
pub mod defaults {
    pub const STEP_TIMEOUT_SECONDS: u64 = 4 * 3600;
    pub const ROLLBACK_TIMEOUT_SECONDS: u64 = 4 * 3600;
    pub const MAX_REPLICA_LAG_SECONDS: u64 = 30;
    pub const SWAP_TIMEOUT_SECONDS: u64 = 900;
    pub const HOOK_TIMEOUT_SECONDS: u64 = 1800;
    pub const POLL_INTERVAL_SECONDS: f64 = 5.0;
    pub const MAX_POLL_INTERVAL_SECONDS: f64 = 60.0;
    pub const CONCURRENCY: usize = 8;
    /// A live run renews its lock every third of this; a dead run's lapses within it.
    pub const LOCK_TTL_SECONDS: u64 = 300;
    /// How much longer than the TTL a run waits for another run's lock by default.
    pub const LOCK_WAIT_MARGIN_SECONDS: u64 = 60;
    /// The longest any duration flag may be.
    pub const MAX_DURATION_SECONDS: u64 = 7 * 24 * 3600;
    /// How many times a run plans again after waiting for another run's lock.
    pub const REPLANS: usize = 3;
}

/// What to refresh: the source, the target and the choices that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct RefreshOptions {
    pub source: String,
    /// The target; for a copy, the template (`--like`).
    pub target: String,
    /// A copy (`copy --like T --prefix P`): what its names begin with.
    pub prefix: Option<String>,
    /// A copy's lifetime (`--expires`, default `DEFAULT_COPY_EXPIRY`).
    pub expires: Option<String>,
    pub restart: Option<String>,
    pub before_swap: Option<String>,
    pub restore_snapshot: bool,
    pub final_snapshot: bool,
    /// `latest`, `fresh` or a snapshot identifier; giving it selects the snapshot path.
    pub snapshot: Option<String>,
    /// Keep the snapshot `fresh` takes instead of deleting it once the clone exists.
    pub keep_snapshot: bool,
    /// `--source-time`: a point-in-time restore of the source as of this moment.
    pub source_time: Option<SourceTime>,
    /// `--master-password-secret`: the secret with the target's master password.
    pub master_password_secret: Option<String>,
    /// `--source-kms-key-id`: cross-account, the key of the source account's transfer copy.
    pub source_kms_key_id: Option<String>,
    /// `--kms-key-id`: cross-account, the key of the target account's copy.
    pub kms_key_id: Option<String>,
    /// `--config`: `source` and `target` name environments of this file.
    pub config: Option<std::path::PathBuf>,
    /// `--quiesce-source`: the source environment's groups in standby during its snapshot.
    pub quiesce_source: bool,
    /// `--redact-commands`: the hooks shown by their first word and a hash only.
    pub redact_commands: bool,
    /// `--allow-protected-target`: replace a target that looks like production all the same.
    pub allow_protected_target: bool,
}

/// How long a copy lives unless `--expires` says otherwise: a safety net, so that a copy of
/// production data nobody destroyed does not outlive a sweep by long.
pub const DEFAULT_COPY_EXPIRY: &str = "7d";

/// The longest lifetime `--expires` may give a copy: a year. A copy meant to stay says
/// `never` (and is destroyed by name); a bigger number is a typo, or would overflow a date.
pub const MAX_COPY_LIFETIME_SECONDS: i64 = 366 * 86_400;

/// `--expires`: `<n>` followed by `s`, `m`, `h`, `d` or `w` (seconds), or `never` (None).
pub fn parse_expires(value: &str) -> Result<Option<i64>, MitosisError> {
    let v = value.trim();
    if v == "never" {
        return Ok(None);
    }
    let bad = || {
        MitosisError::bad_input(format!(
            "--expires {value:?} is not a duration: give a number and a unit such as 30m, 12h, 7d or 2w (or `never`)"
        ))
    };
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit) {
        Some(secs) if secs > 0 && secs <= MAX_COPY_LIFETIME_SECONDS => Ok(Some(secs)),
        Some(secs) if secs > 0 => Err(MitosisError::bad_input(format!(
            "--expires {value:?} is longer than a copy may live (366d): give at most 366d, or `never` for a copy you destroy yourself"
        ))),
        _ => Err(bad()),
    }
}

/// Passes every event on, and keeps a copy's new master password for whoever asked for the
/// copy (a file, a masked Action output).
pub struct KeepPassword<'a> {
    inner: &'a dyn EventSink,
    password: std::sync::Mutex<Option<String>>,
}

impl<'a> KeepPassword<'a> {
    pub fn new(inner: &'a dyn EventSink) -> Self {
        KeepPassword {
            inner,
            password: Default::default(),
        }
    }

    pub fn password(&self) -> Option<String> {
        self.password.lock().ok().and_then(|p| p.clone())
    }
}

impl EventSink for KeepPassword<'_> {
    fn event(&self, event: &crate::exec::Event<'_>) {
        if let crate::exec::Event::NewPassword { password, .. } = event {
            if let Ok(mut p) = self.password.lock() {
                *p = Some(password.to_string());
            }
        }
        self.inner.event(event);
    }
}

/// Whether this copy plan creates the copy (its root does not exist yet) or reuses it.
pub fn creates_copy(plan: &Plan) -> bool {
    plan.steps.iter().any(|s| {
        s.id.kind == crate::plan::StepKind::Create && s.resource == plan.target && s.is_pending()
    })
}

/// A copy to destroy: the template database it was made like (none for a bucket swept on
/// its own), its prefix, and its buckets' names (with `--config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRef {
    pub like: Option<String>,
    pub prefix: String,
    pub buckets: Vec<String>,
}

impl CopyRef {
    /// How the copy is called in messages: its database's name, or its bucket's.
    pub fn name(&self) -> String {
        match &self.like {
            Some(like) => format!("{}{like}", self.prefix),
            None => self.buckets.join(", "),
        }
    }
}

/// What `destroy --like T --prefix P` would do (or a sweep, when `removal` says so): None
/// when no such copy exists. Every resource must be provably the copy's, or nothing is done.
pub async fn plan_destroy(
    api: &dyn RdsRead,
    env: Option<Reads<'_>>,
    copy: &CopyRef,
    removal: Removal,
) -> Result<Option<Plan>, MitosisError> {
    let prefix = copy.prefix.trim().to_ascii_lowercase();
    let database = match &copy.like {
        Some(like) => {
            let observed = observe(api, None, "", &format!("{prefix}{like}")).await?;
            crate::plan::plan_destroy(&observed, like, &prefix, removal)?
        }
        None => None,
    };
    let run = database.as_ref().map(|p| p.run_id.as_str());
    let mut found = Vec::new();
    let mut owner = String::new();
    if let (Some(env), false) = (env, copy.buckets.is_empty()) {
        owner = env.buckets.account().await?;
        for bucket in &copy.buckets {
            let tags = env
                .buckets
                .bucket_tags(&OwnedBucket::new(bucket, &owner))
                .await
                .map_err(|e| {
                    MitosisError::bad_input(format!(
                        "the bucket {bucket} cannot be read as account {owner}'s ({e}): nothing was deleted"
                    ))
                })?;
            found.push((bucket.clone(), tags));
        }
    }
    let buckets =
        crate::kinds::bucket::steps::destroy_buckets(&found, &prefix, run, &owner, removal)?;
    Ok(match (database, buckets.is_empty()) {
        (None, true) => None,
        (Some(mut plan), _) => {
            plan.steps.extend(buckets);
            Some(plan)
        }
        (None, false) => Some(crate::kinds::bucket::steps::buckets_plan(
            &copy.name(),
            &prefix,
            buckets,
        )),
    })
}

/// The copies whose expiry has passed, as their tags say: databases (template, prefix), and
/// with `env` the buckets of copies (each on its own: it carries its own expiry). Candidates
/// only: a sweep plans each with `Removal::Sweep`, which proves it a copy or skips it. A role
/// that may not list the account's buckets sweeps databases only, and says so.
pub async fn expired_copies(
    api: &dyn RdsRead,
    env: Option<Reads<'_>>,
) -> Result<Vec<CopyRef>, MitosisError> {
    let observed = observe(api, None, "", "").await?;
    let now = now_epoch();
    let mut copies: Vec<CopyRef> = crate::plan::expired_copies(&observed, now)
        .into_iter()
        .map(|(like, prefix)| CopyRef {
            like: Some(like),
            prefix,
            buckets: Vec::new(),
        })
        .collect();
    let Some(env) = env else {
        return Ok(copies);
    };
    let buckets = match env.buckets.list_buckets().await {
        Ok(buckets) => buckets,
        Err(e) => {
            tracing::warn!("buckets not swept: {e}");
            return Ok(copies);
        }
    };
    let owner = env.buckets.account().await?;
    for bucket in buckets {
        let found = env
            .buckets
            .bucket_tags(&OwnedBucket::new(&bucket, &owner))
            .await?;
        let Some(tags) = found else {
            continue;
        };
        if let Some(prefix) = crate::kinds::bucket::expired_bucket_copy(&tags, now) {
            copies.push(CopyRef {
                like: None,
                prefix,
                buckets: vec![bucket],
            });
        }
    }
    Ok(copies)
}

/// Carries out a plan that takes no lock (a destroy) and is not planned again.
pub async fn execute_unlocked(
    api: &dyn RdsWrite,
    env: Option<Writes<'_>>,
    plan: &Plan,
    options: &ApplyOptions,
    latency: LatencyModel,
    sink: &dyn EventSink,
) -> (Option<RunReport>, Result<(), MitosisError>) {
    let mut executor = Executor::new(api, options.exec_config(latency), sink);
    if let Some(env) = env {
        executor = executor.with_environment(env);
    }
    finish(executor.apply(plan).await)
}

impl RefreshOptions {
    /// The copy `destroy` (or `copy --reset`) deletes: `target` is the template, a database
    /// or, with `--config`, an environment whose buckets the copy has too.
    pub fn copy_to_destroy(&self) -> Result<CopyRef, MitosisError> {
        let prefix = self
            .prefix
            .clone()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let like = self.target.trim().to_string();
        let Some(path) = &self.config else {
            return Ok(CopyRef {
                like: Some(like),
                prefix,
                buckets: Vec::new(),
            });
        };
        let (database, templates) = crate::config::Config::load(path)?.copy_of(&like)?;
        let buckets = templates
            .iter()
            .map(|b| crate::kinds::bucket::copy_bucket_name(&prefix, b))
            .collect::<Result<_, _>>()?;
        Ok(CopyRef {
            like: Some(database),
            prefix,
            buckets,
        })
    }

    /// The planner's request, for a new run `run_id` (a resumed run keeps its own). A point in
    /// time and a snapshot are two sources: asking for both is bad input.
    pub fn request(&self, run_id: &str) -> Result<PlanRequest, MitosisError> {
        let Some(path) = &self.config else {
            if self.quiesce_source {
                return Err(MitosisError::bad_input(
                    "--quiesce-source puts the source environment's Auto Scaling groups in standby: give --config with the environments",
                ));
            }
            return self.database_request(run_id);
        };
        let config = crate::config::Config::load(path)?;
        let use_ = match self.prefix {
            Some(_) => crate::config::Use::Template,
            None => crate::config::Use::Refresh,
        };
        let resolved = config.resolve(
            self.source.trim(),
            self.target.trim(),
            use_,
            self.quiesce_source,
        )?;
        let mut databases = resolved.databases.into_iter();
        let first = databases
            .next()
            .expect("resolve refuses an environment without databases");
        let more: Vec<_> = databases.collect();
        if self.master_password_secret.is_some() && first.master_password_secret.is_some() {
            return Err(MitosisError::bad_input(format!(
                "--master-password-secret and the config's master-password-secrets for {:?} both give the target's secret: give one of them",
                self.target.trim()
            )));
        }
        if !more.is_empty() {
            let several = |what: &str| {
                Err(MitosisError::bad_input(format!(
                    "the environment {:?} has {} databases: {what}",
                    self.target.trim(),
                    more.len() + 1
                )))
            };
            if self.prefix.is_some() {
                return several("a copy is made of an environment of one database; copy the others with one environment each");
            }
            if self.master_password_secret.is_some() {
                return several("--master-password-secret gives one database's secret; list each database's under master-password-secrets in the config");
            }
            if matches!(self.snapshot.as_deref(), Some(id) if id != "latest" && id != "fresh") {
                return several("--snapshot ID names one database's snapshot; use latest or fresh (or --source-time for one moment for all)");
            }
        }
        let mut spec = resolved.spec;
        if let Some(prefix) = &self.prefix {
            // A copy replaces nothing: no standby; its buckets are new ones named for it.
            if self.quiesce_source {
                return Err(MitosisError::bad_input(
                    "--quiesce-source is for refreshes: a copy leaves the source in service",
                ));
            }
            let prefix = prefix.trim().to_ascii_lowercase();
            spec.target_groups.clear();
            for (_, target) in spec.buckets.iter_mut() {
                *target = crate::kinds::bucket::copy_bucket_name(&prefix, target)?;
            }
        }
        let mut database = self.clone();
        database.config = None;
        database.source = first.source;
        database.target = first.target;
        database.master_password_secret = self
            .master_password_secret
            .clone()
            .or(first.master_password_secret);
        let mut request = database.database_request(run_id)?;
        request.environment = Some(spec);
        request.more = more
            .into_iter()
            .map(|mut pair| {
                pair.source = pair.source.trim().to_ascii_lowercase();
                pair.target = pair.target.trim().to_ascii_lowercase();
                pair
            })
            .collect();
        Ok(request)
    }

    /// The request for one database pair (`source` and `target` name databases).
    fn database_request(&self, run_id: &str) -> Result<PlanRequest, MitosisError> {
        if self.source_time.is_some() && (self.snapshot.is_some() || self.restore_snapshot) {
            return Err(MitosisError::bad_input(
                "--source-time and --snapshot/--restore-snapshot each choose where the data comes from: give one of them",
            ));
        }
        let snapshot = match self.snapshot.as_deref() {
            None | Some("latest") => SnapshotChoice::Latest,
            Some("fresh") => SnapshotChoice::Fresh,
            Some(id) => SnapshotChoice::Id(id.to_string()),
        };
        let mut request = PlanRequest::new(
            &self.source.trim().to_ascii_lowercase(),
            &self.target.trim().to_ascii_lowercase(),
            run_id,
        );
        request.restart = self.restart.clone().filter(|c| !c.trim().is_empty());
        request.before_swap = self.before_swap.clone().filter(|c| !c.trim().is_empty());
        request.redact_commands = self.redact_commands;
        request.allow_protected_target = self.allow_protected_target;
        request.final_snapshot = self.final_snapshot;
        request.snapshot_path = self.restore_snapshot || self.snapshot.is_some();
        request.snapshot = snapshot;
        request.keep_snapshot = self.keep_snapshot;
        request.source_time = self.source_time;
        request.master_password_secret = self
            .master_password_secret
            .clone()
            .filter(|s| !s.trim().is_empty());
        if let Some(prefix) = self.prefix.as_deref().map(str::trim) {
            let lifetime = parse_expires(self.expires.as_deref().unwrap_or(DEFAULT_COPY_EXPIRY))?;
            request.copy = Some(crate::plan::CopySpec {
                prefix: prefix.to_ascii_lowercase(),
                expires: lifetime.map(|secs| now_epoch() + secs),
            });
        }
        let key = |k: &Option<String>| {
            k.clone()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
        };
        request.source_kms_key_id = key(&self.source_kms_key_id);
        request.kms_key_id = key(&self.kms_key_id);
        Ok(request)
    }
}

/// How to apply a plan.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub on_failure: OnFailure,
    pub step_timeout_seconds: u64,
    /// The longest wait of a rollback step (its own bound, not `step_timeout_seconds`).
    pub rollback_timeout_seconds: u64,
    pub hook_timeout_seconds: u64,
    pub poll_interval_seconds: f64,
    pub max_poll_interval_seconds: f64,
    pub concurrency: usize,
    pub force_unlock: Option<String>,
    pub lock_ttl_seconds: u64,
    /// How long to wait for another run's lock; None: the TTL plus a margin.
    pub lock_wait_seconds: Option<u64>,
    /// Stop after the clone or the swap; a later apply continues.
    pub until: Option<crate::plan::Until>,
    /// The most a cloned replica may lag for the swap to go ahead.
    pub max_replica_lag_seconds: u64,
    /// The longest the retire and swap-in renames may take before the run rolls back.
    pub swap_timeout_seconds: u64,
    /// Variables kept from hooks that the user passes to them on purpose (`--hook-env`).
    pub hook_env: Vec<String>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            on_failure: OnFailure::Rollback,
            step_timeout_seconds: defaults::STEP_TIMEOUT_SECONDS,
            rollback_timeout_seconds: defaults::ROLLBACK_TIMEOUT_SECONDS,
            hook_timeout_seconds: defaults::HOOK_TIMEOUT_SECONDS,
            poll_interval_seconds: defaults::POLL_INTERVAL_SECONDS,
            max_poll_interval_seconds: defaults::MAX_POLL_INTERVAL_SECONDS,
            concurrency: defaults::CONCURRENCY,
            force_unlock: None,
            lock_ttl_seconds: defaults::LOCK_TTL_SECONDS,
            lock_wait_seconds: None,
            until: None,
            max_replica_lag_seconds: defaults::MAX_REPLICA_LAG_SECONDS,
            swap_timeout_seconds: defaults::SWAP_TIMEOUT_SECONDS,
            hook_env: Vec::new(),
        }
    }
}

impl ApplyOptions {
    /// Every duration must be positive and at most seven days: a zero step timeout fails the
    /// first wait, and an absurd one hides a typo. Checked before any AWS call.
    pub fn validate(&self) -> Result<(), MitosisError> {
        let max = defaults::MAX_DURATION_SECONDS as f64;
        let durations = [
            ("--step-timeout", self.step_timeout_seconds as f64),
            ("--rollback-timeout", self.rollback_timeout_seconds as f64),
            ("--hook-timeout", self.hook_timeout_seconds as f64),
            ("--poll-interval", self.poll_interval_seconds),
            ("--max-poll-interval", self.max_poll_interval_seconds),
            ("--lock-ttl", self.lock_ttl_seconds as f64),
            ("--lock-wait", self.lock_wait().as_secs_f64()),
            ("--max-replica-lag", self.max_replica_lag_seconds as f64),
            ("--swap-timeout", self.swap_timeout_seconds as f64),
        ];
        for (flag, seconds) in durations {
            if !(seconds > 0.0 && seconds <= max) {
                return Err(MitosisError::bad_input(format!(
                    "{flag} {seconds} is out of range: give a number of seconds above 0 and at most {max} (seven days)"
                )));
            }
        }
        if self.concurrency == 0 {
            return Err(MitosisError::bad_input(
                "--concurrency 0 would run nothing: give at least 1",
            ));
        }
        Ok(())
    }

    fn lock_wait(&self) -> Duration {
        Duration::from_secs(
            self.lock_wait_seconds
                .unwrap_or(self.lock_ttl_seconds + defaults::LOCK_WAIT_MARGIN_SECONDS),
        )
    }

    /// The executor's configuration, with the expected timings of `latency`.
    pub fn exec_config(&self, latency: LatencyModel) -> ExecConfig {
        let min_tick = Duration::from_secs_f64(self.poll_interval_seconds.max(0.01));
        ExecConfig {
            poll: PollSettings {
                min_tick,
                max_tick: Duration::from_secs_f64(self.max_poll_interval_seconds.max(0.01))
                    .max(min_tick),
                step_timeout: Duration::from_secs(self.step_timeout_seconds),
            },
            hook_timeout: Duration::from_secs(self.hook_timeout_seconds),
            hook_env: self.hook_env.clone(),
            rollback_timeout: Duration::from_secs(self.rollback_timeout_seconds),
            until: self.until,
            max_replica_lag: self.max_replica_lag_seconds as f64,
            swap_timeout: Duration::from_secs(self.swap_timeout_seconds),
            on_failure: self.on_failure,
            concurrency: self.concurrency.max(1),
            latency,
            lock: LockSettings {
                ttl: Duration::from_secs(self.lock_ttl_seconds),
                wait: self.lock_wait(),
                settle: Duration::from_secs_f64(
                    (self.poll_interval_seconds / 3.0).clamp(0.05, 5.0),
                ),
                force_unlock: self.force_unlock.clone(),
                clock: now_epoch,
            },
        }
    }
}

/// Reads a latency model file, or the defaults.
pub fn load_latency(path: Option<&std::path::Path>) -> Result<LatencyModel, MitosisError> {
    let Some(path) = path else {
        return Ok(LatencyModel::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        MitosisError::bad_input(format!(
            "cannot read the latency model {}: {e}",
            path.display()
        ))
    })?;
    let model: LatencyModel = serde_json::from_str(&text).map_err(|e| {
        MitosisError::bad_input(format!(
            "the latency model {} is not valid: {e} (fields are seconds, see the README)",
            path.display()
        ))
    })?;
    model.check().map_err(|e| {
        MitosisError::bad_input(format!("the latency model {}: {e}", path.display()))
    })?;
    Ok(model)
}

/// The AWS access of a refresh: the target's account, and the source's when the source lives
/// in another one (`--source-role-arn`). `ReadApis` for planning (read-only by type),
/// `WriteApis` for applying.
pub struct Apis<'a, T: ?Sized, W> {
    pub target: &'a T,
    pub source: Option<&'a T>,
    /// An environment's buckets and groups (`--config`), in the target's account.
    pub env: Option<W>,
}

/// What planning is given: reads only.
pub type ReadApis<'a> = Apis<'a, dyn RdsRead, Reads<'a>>;
/// What applying is given.
pub type WriteApis<'a> = Apis<'a, dyn RdsWrite, Writes<'a>>;

impl<T: ?Sized, W: Copy> Clone for Apis<'_, T, W> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized, W: Copy> Copy for Apis<'_, T, W> {}

impl<'a> WriteApis<'a> {
    /// The same accounts, for reading.
    pub fn read(self) -> ReadApis<'a> {
        Apis {
            target: self.target,
            source: self.source.map(|s| s as &dyn RdsRead),
            env: self.env.map(Writes::read),
        }
    }
}

/// Reads the account(s) and plans, with the expected duration under `latency`: the one path
/// `plan`, `apply`, `iam-policy` and the Action share. Read-only by type.
pub async fn observe_and_plan(
    apis: ReadApis<'_>,
    request: &PlanRequest,
    latency: &LatencyModel,
) -> Result<(Observed, Plan), MitosisError> {
    if apis.source.is_none()
        && (request.source_kms_key_id.is_some() || request.kms_key_id.is_some())
    {
        return Err(MitosisError::bad_input(
            "--source-kms-key-id and --kms-key-id encrypt the snapshot copies of a cross-account refresh: give --source-role-arn or --source-profile for the source's account, or leave them out",
        ));
    }
    let (mut observed, mut plan) = plan_databases(apis, request).await?;
    resolve_keys(apis, &mut observed, &plan).await?;
    if let Some(spec) = &request.environment {
        if apis.source.is_some() && !spec.source_groups.is_empty() {
            return Err(MitosisError::bad_input(
                "--quiesce-source with a source in another account: the source's groups are in that account, which this tool only reads and shares snapshots in; quiesce them there",
            ));
        }
        let env = apis.env.ok_or_else(|| {
            MitosisError::bad_input(
                "this command does not refresh environments: leave out --config",
            )
        })?;
        // The buckets must be the accounts' own: the target's, and the source's (the same
        // one unless the source is in another account).
        let owner = env.buckets.account().await?;
        let source_owner = observed
            .source_account
            .as_ref()
            .map_or(owner.clone(), |s| s.account.account.clone());
        let prefix = request.copy.as_ref().map(|c| c.prefix.as_str());
        let found = crate::kinds::observe(env, spec, prefix, &owner, &source_owner).await?;
        plan = crate::kinds::extend(plan, request, &found)?;
    }
    let mut plan = plan.with_eta(latency);
    if apis.source.is_some() && observed.source_account.is_none() {
        plan.notes.push(format!(
            "the source role's account is the target's ({}): --source-role-arn is not needed, and the refresh runs within the one account",
            observed.account.account
        ));
    }
    Ok((observed, plan))
}

/// The KMS keys the plan names by alias, resolved to their key ARNs (DescribeKey) in the
/// account each is used in, for the policy: an alias ARN authorizes no use of the key.
async fn resolve_keys(
    apis: ReadApis<'_>,
    observed: &mut Observed,
    plan: &Plan,
) -> Result<(), MitosisError> {
    for step in &plan.steps {
        for key in step.op.kms_keys() {
            if !key.contains("alias/") {
                continue;
            }
            let (reader, in_account) = match (step.account, apis.source) {
                (crate::plan::Account::Source, Some(source)) => (
                    source,
                    observed
                        .source_account
                        .as_ref()
                        .map_or(observed.account.clone(), |s| s.account.clone()),
                ),
                _ => (apis.target, observed.account.clone()),
            };
            // An alias ARN names the account it is in.
            let account = crate::observed::AccountInfo::from_arn(key)
                .map_or(in_account.account.clone(), |a| a.account);
            if observed
                .key_arns
                .contains_key(&(account.clone(), key.to_string()))
            {
                continue;
            }
            let arn = reader.key_arn(key).await.map_err(|e| {
                MitosisError::bad_input(format!(
                    "the KMS key {key} ({}) cannot be described in account {account} ({e}): check --kms-key-id or --source-kms-key-id, and that this role may kms:DescribeKey it",
                    step.id
                ))
            })?;
            let alias_arn = crate::plan::ops::kms_arn(key, &in_account);
            for given in [key.to_string(), alias_arn] {
                observed
                    .key_arns
                    .insert((account.clone(), given), arn.clone());
            }
        }
    }
    Ok(())
}

/// Reads one database pair's state, and its secret (a secret the run could not use stops it
/// before any change).
async fn observe_database(
    apis: ReadApis<'_>,
    request: &PlanRequest,
) -> Result<Observed, MitosisError> {
    let api = apis.target;
    let observed = observe(api, apis.source, &request.source, &request.target).await?;
    if let Some(arn) = &request.master_password_secret {
        let value = api.secret_value(arn).await.map_err(|e| {
            MitosisError::bad_input(format!(
                "the secret {arn} cannot be read ({e}): check --master-password-secret, the region, and that this role may secretsmanager:GetSecretValue it"
            ))
        })?;
        crate::aws::password_of(&value).map_err(|e| {
            MitosisError::bad_input(format!(
                "{arn}: {e}: store the master password as the secret's plain string or under \"password\""
            ))
        })?;
    }
    Ok(observed)
}

/// Reads and plans every database pair of the request (`crate::plan::plan_pairs`: one pair,
/// or an environment's several in one run); the state returned is the first pair's.
async fn plan_databases(
    apis: ReadApis<'_>,
    request: &PlanRequest,
) -> Result<(Observed, Plan), MitosisError> {
    let mut states = Vec::new();
    for r in request.pairs() {
        states.push((observe_database(apis, &r).await?, r));
    }
    let plan = crate::plan::plan_pairs(&states)?;
    Ok((states.swap_remove(0).0, plan))
}

/// Runs the plan: the executor takes the lock (its first step), runs the steps with the lock
/// renewed, and releases it. When the lock could only be taken after another run's, the plan
/// may be stale: plan again (a few times at most) before anything runs. The report is there
/// whenever the run started; the error says how it ended otherwise.
pub async fn execute(
    apis: WriteApis<'_>,
    request: &PlanRequest,
    plan: &Plan,
    options: &ApplyOptions,
    latency: LatencyModel,
    sink: &dyn EventSink,
) -> (Option<RunReport>, Result<(), MitosisError>) {
    if !plan.has_work() {
        return (None, Ok(()));
    }
    let mut plan = plan.clone();
    for _ in 0..defaults::REPLANS {
        let outcome = executor(apis, options.exec_config(latency.clone()), sink)
            .apply(&plan)
            .await;
        if !matches!(outcome.error, Some(ExecError::Replan)) {
            return finish(outcome);
        }
        // The executor gave the lock back: plan from what the other run left, then take it.
        tracing::warn!("another run held the lock until now: planning again");
        plan = match observe_and_plan(apis.read(), request, &latency).await {
            Ok((_, p)) => p,
            Err(e) => return (None, Err(e)),
        };
        if !plan.has_work() {
            return (None, Ok(()));
        }
        sink.event(&crate::exec::Event::Replanned { plan: &plan });
    }
    (
        None,
        Err(MitosisError::Locked(format!(
            "{} kept being refreshed by other runs: try again later",
            plan.target
        ))),
    )
}

/// What `rollback` would do, from what is observed now: None when nothing of an unfinished
/// refresh is on the target. Refused once the old instances are being deleted (the new
/// environment is in place: finish it with `apply`) or while an instance is mid-change.
pub async fn plan_rollback(
    apis: ReadApis<'_>,
    request: &PlanRequest,
    latency: &LatencyModel,
) -> Result<Option<Plan>, MitosisError> {
    // A rollback puts the target back, never deletes it: a target that looks like production
    // needs no --allow-protected-target to be restored.
    let request = &PlanRequest {
        allow_protected_target: true,
        ..request.clone()
    };
    let (observed, forward) = observe_and_plan(apis, request, latency).await?;
    if !forward.resuming {
        return Ok(None);
    }
    let deleted: Vec<&str> = forward
        .steps
        .iter()
        .filter(|s| s.id.kind == crate::plan::StepKind::Delete && s.skip.is_some())
        .map(|s| s.resource.as_str())
        .collect();
    if !deleted.is_empty() {
        return Err(MitosisError::bad_input(format!(
            "the cleanup of run {} has begun ({} already deleted): the new environment is in place and cannot be rolled back; finish it with `apply`",
            forward.run_id,
            deleted.join(", ")
        )));
    }
    // Each database pair's rollback, from its own state (the first pair's is at hand).
    let mut rollbacks = Vec::new();
    for (part, pair) in forward.pairs().into_iter().enumerate() {
        let observed = match part {
            0 => observed.clone(),
            _ => observe(apis.target, apis.source, pair.source, pair.target).await?,
        };
        let busy: Vec<String> = observed
            .instances
            .values()
            .filter(|i| i.mitosis_role().is_some() || i.id == pair.target)
            .filter(|i| !crate::exec::settled(i))
            .map(|i| format!("{} is {}", i.id, i.status))
            .collect();
        if !busy.is_empty() {
            return Err(MitosisError::bad_input(format!(
                "the target tree is changing ({}): wait until it is available and run rollback again",
                busy.join(", ")
            )));
        }
        rollbacks.push(crate::plan::rollback(
            &observed,
            pair.source,
            pair.target,
            &forward.run_id,
            OnFailure::Rollback,
        )?);
    }
    let rollback = crate::kinds::bring_back(
        crate::plan::with_lock(crate::plan::combine(rollbacks)?, &request.run_id),
        &forward,
    );
    Ok(Some(rollback.with_eta(latency)))
}

/// Carries out a rollback plan (`plan_rollback`) under the lock.
pub async fn execute_rollback(
    apis: WriteApis<'_>,
    rollback: &Plan,
    options: &ApplyOptions,
    latency: LatencyModel,
    sink: &dyn EventSink,
) -> (Option<RunReport>, Result<(), MitosisError>) {
    let outcome = executor(apis, options.exec_config(latency), sink)
        .apply(rollback)
        .await;
    match (&outcome.error, outcome.report.result) {
        (None, _) => (Some(outcome.report), Ok(())),
        (Some(ExecError::Replan), _) => (
            Some(outcome.report),
            Err(MitosisError::Locked(
                "another run held the target's lock until now: run rollback again to see what is left to roll back".into(),
            )),
        ),
        _ => finish(outcome),
    }
}

/// The executor over the refresh's account(s).
fn executor<'a>(apis: WriteApis<'a>, config: ExecConfig, sink: &'a dyn EventSink) -> Executor<'a> {
    let mut executor = Executor::new(apis.target, config, sink);
    if let Some(source) = apis.source {
        executor = executor.with_source_account(source);
    }
    if let Some(env) = apis.env {
        executor = executor.with_environment(env);
    }
    executor
}

fn finish(outcome: crate::exec::Outcome) -> (Option<RunReport>, Result<(), MitosisError>) {
    let result = match (outcome.error, outcome.report.result) {
        (None, _) => Ok(()),
        (Some(ExecError::Locked(m)), _) => Err(MitosisError::Locked(m)),
        (Some(ExecError::Aws(e)), RunResult::Failed)
            if outcome
                .report
                .steps
                .iter()
                .all(|s| s.status != StepStatus::Done) =>
        {
            Err(e)
        }
        (Some(e), RunResult::RolledBack) => Err(MitosisError::RolledBack(e.to_string())),
        (Some(e), _) => Err(MitosisError::Stopped(format!(
            "{}; rerun the same command to resume",
            outcome
                .report
                .error
                .clone()
                .unwrap_or_else(|| e.to_string())
        ))),
    };
    (Some(outcome.report), result)
}

pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new run id from the clock: sortable and readable in tags (`20261121T224300Z-1a2b`). The
/// suffix tells apart two runs started in the same second.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let suffix = (nanos ^ std::process::id().wrapping_mul(2_654_435_761)) & 0xffff;
    format!("{}-{suffix:04x}", crate::plan::time::compact(now_epoch()))
}
