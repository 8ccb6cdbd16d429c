//! What a plan is asked for: the request's types (the CLI and the Action build them).

/// Which snapshot the snapshot path restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotChoice {
    /// The source's newest snapshot whose status is `available`.
    Latest,
    /// A new snapshot of the source, taken first (current data, at the cost of its time).
    Fresh,
    /// This snapshot of the source.
    Id(String),
}

/// `--source-time`: the moment the clone's data is taken from, by a point-in-time restore of
/// the source's automated backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceTime {
    /// The source's latest restorable time (minutes ago).
    Latest,
    /// This moment, in epoch seconds.
    At(i64),
}

impl SourceTime {
    /// `latest`, or an RFC 3339 date and time (`2026-11-30T09:00:00Z`, offsets allowed).
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "latest" {
            return Ok(SourceTime::Latest);
        }
        super::time::parse_rfc3339(s.trim())
            .map(SourceTime::At)
            .ok_or_else(|| {
                format!("--source-time {s:?} is neither `latest` nor an RFC 3339 date and time such as 2026-11-30T09:00:00Z")
            })
    }

    /// The moment as RFC 3339 (UTC), for requests and messages.
    pub fn rfc3339(secs: i64) -> String {
        super::time::rfc3339(secs)
    }
}

impl std::fmt::Display for SourceTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceTime::Latest => f.write_str("latest"),
            SourceTime::At(t) => f.write_str(&SourceTime::rfc3339(*t)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub source: String,
    pub target: String,
    /// Shell command run after the swap, before anything is deleted.
    pub restart: Option<String>,
    /// Shell command run once the clone tree is built, before any rename: the place to scrub
    /// personal data or rotate passwords before anyone can reach the copy.
    pub before_swap: Option<String>,
    /// Show the commands redacted in the plan and the log (`--redact-commands`).
    pub redact_commands: bool,
    /// Keep a final snapshot of each old-* instance when deleting it.
    pub final_snapshot: bool,
    /// Clone through a snapshot even when source and target share a VPC.
    pub snapshot_path: bool,
    pub snapshot: SnapshotChoice,
    /// Identifier for a new run; ignored when the observed tags show a run in progress.
    pub run_id: String,
    /// Keep the snapshot `--snapshot fresh` takes (it is deleted once the clone exists).
    pub keep_snapshot: bool,
    /// Restore the source as of this moment instead of cloning or restoring a snapshot.
    pub source_time: Option<SourceTime>,
    /// The Secrets Manager secret holding the target's master password: the clone gets it
    /// before anyone uses it, so the application logs in as before.
    pub master_password_secret: Option<String>,
    /// Cross-account: the customer-managed key (shared with the target account) the source
    /// account's transfer copy is encrypted with.
    pub source_kms_key_id: Option<String>,
    /// Cross-account: the key the target account's copy is encrypted with (default: the
    /// target's own key).
    pub kms_key_id: Option<String>,
    /// A throwaway copy instead of a refresh: `target` is then the template (`--like`).
    pub copy: Option<CopySpec>,
    /// `--config`: the environment's buckets and groups (`crate::kinds::extend` adds their
    /// steps to the database plan).
    pub environment: Option<crate::config::EnvSpec>,
    /// An environment's further databases (`--config`), each planned like `source` and
    /// `target` with the same choices, then merged into one plan (`super::merge`).
    pub more: Vec<crate::config::DatabasePair>,
    /// `--allow-protected-target`: replace a target that looks like production (deletion
    /// protection on, a production tag) all the same.
    pub allow_protected_target: bool,
}

impl PlanRequest {
    /// A refresh of `target` from `source` with no hooks, on the path the VPCs decide, from
    /// the latest snapshot if a snapshot is needed.
    pub fn new(source: &str, target: &str, run_id: &str) -> Self {
        PlanRequest {
            source: source.to_string(),
            target: target.to_string(),
            restart: None,
            before_swap: None,
            redact_commands: false,
            final_snapshot: false,
            snapshot_path: false,
            snapshot: SnapshotChoice::Latest,
            run_id: run_id.to_string(),
            keep_snapshot: false,
            source_time: None,
            master_password_secret: None,
            source_kms_key_id: None,
            kms_key_id: None,
            copy: None,
            environment: None,
            more: Vec::new(),
            allow_protected_target: false,
        }
    }

    /// One request per database pair, the plan's own first: each with this request's
    /// choices and run id, without the environment's buckets and groups (added to the merged
    /// plan).
    pub fn pairs(&self) -> Vec<PlanRequest> {
        let one = PlanRequest {
            environment: None,
            more: Vec::new(),
            ..self.clone()
        };
        let mut out = vec![one.clone()];
        for pair in &self.more {
            out.push(PlanRequest {
                source: pair.source.clone(),
                target: pair.target.clone(),
                master_password_secret: pair.master_password_secret.clone(),
                ..one.clone()
            });
        }
        out
    }
}

/// What makes a plan a copy: the names' prefix and when the copy expires (epoch seconds;
/// None: never).
#[derive(Debug, Clone, PartialEq)]
pub struct CopySpec {
    pub prefix: String,
    pub expires: Option<i64>,
}
