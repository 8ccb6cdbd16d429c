//! Environments (`--config FILE`): what an environment is made of (databases, S3 buckets,
//! Auto Scaling groups, the secrets with its databases' master passwords), read from TOML,
//! and what a refresh of one environment from another covers. Pure: no AWS here.

use crate::aws::{EnvRead, GroupState, ObjectEntry, OwnedBucket};
use crate::error::MitosisError;
use crate::plan::SyncCounts;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
}

/// One environment. Databases, buckets and secrets pair by position with those of the
/// environment it is refreshed from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Environment {
    /// May never be a target, a copy's template or destroyed.
    #[serde(default)]
    pub protected: bool,
    /// Instance or cluster roots.
    #[serde(default)]
    pub databases: Vec<String>,
    #[serde(default)]
    pub buckets: Vec<String>,
    #[serde(default)]
    pub auto_scaling_groups: Vec<String>,
    /// The secret with each database's master password (ARN or name).
    #[serde(default)]
    pub master_password_secrets: Vec<String>,
}

/// What a refresh of one environment from another covers besides the database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvSpec {
    /// The environments' names, for the flight plan.
    pub source: String,
    pub target: String,
    /// (source bucket, target bucket).
    pub buckets: Vec<(String, String)>,
    /// The target's groups: in standby from the first retire until after the restart.
    pub target_groups: Vec<String>,
    /// `--quiesce-source`: the source's groups, in standby while its snapshot is taken.
    pub source_groups: Vec<String>,
}

/// What an environment refresh resolves to: the database pairs, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// In the config's order: the first is the plan's own pair, the others `Plan::more`.
    pub databases: Vec<DatabasePair>,
    pub spec: EnvSpec,
}

/// A database of the source environment and the one of the target it refreshes (an
/// instance tree's root or a cluster), with the secret of the target's master password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabasePair {
    pub source: String,
    pub target: String,
    pub master_password_secret: Option<String>,
}

/// What the other side of a refresh is to the target environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `apply`, `plan`, `rollback`: the target is replaced.
    Refresh,
    /// `copy --like`: the target is the template of a copy.
    Template,
}

impl Config {
    /// Reads and parses the file; an error names the file and, for TOML, the line.
    pub fn load(path: &Path) -> Result<Self, MitosisError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            MitosisError::bad_input(format!(
                "cannot read the config {}: {e}: give the path of a TOML file with [environments.NAME] tables",
                path.display()
            ))
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, MitosisError> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            MitosisError::bad_input(format!(
                "the config {origin} is not valid{at}: {}; see the README, \"Whole environments\"",
                e.message()
            ))
        })
    }

    /// What a copy like `like` with `prefix` consists of besides its database (`destroy`):
    /// the database's name and the copy's buckets. A protected environment is refused.
    pub fn copy_of(&self, like: &str, prefix: &str) -> Result<(String, Vec<String>), MitosisError> {
        let env = self.environment(like)?;
        if env.protected {
            return Err(MitosisError::bad_input(format!(
                "the environment {like:?} is protected (protected = true in the config): it is never a copy's template, and its copies are not destroyed through it"
            )));
        }
        let database = match env.databases.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(MitosisError::bad_input(format!(
                    "the environment {like:?} lists {} databases: this version copies environments of one database",
                    env.databases.len()
                )))
            }
        };
        let buckets = env
            .buckets
            .iter()
            .map(|b| copy_bucket_name(prefix, b))
            .collect::<Result<_, _>>()?;
        Ok((database, buckets))
    }

    fn environment(&self, name: &str) -> Result<&Environment, MitosisError> {
        self.environments.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.environments.keys().map(String::as_str).collect();
            MitosisError::bad_input(format!(
                "no environment {name:?} in the config: it defines [{}]",
                known.join(", ")
            ))
        })
    }

    /// The refresh of `target` from `source`, checked: names, protection, and pairs that
    /// match. `quiesce_source` adds the source's groups.
    pub fn resolve(
        &self,
        source: &str,
        target: &str,
        use_: Use,
        quiesce_source: bool,
    ) -> Result<Resolved, MitosisError> {
        let (src, tgt) = (self.environment(source)?, self.environment(target)?);
        if source == target {
            return Err(MitosisError::bad_input(format!(
                "--source and --target both name the environment {source:?}: give two environments"
            )));
        }
        if tgt.protected {
            let what = match use_ {
                Use::Refresh => "a target",
                Use::Template => "a copy's template",
            };
            return Err(MitosisError::bad_input(format!(
                "the environment {target:?} is protected (protected = true in the config) and cannot be {what}: check --target/--like"
            )));
        }
        let count = |what: &str, s: usize, t: usize| {
            if s == t {
                Ok(())
            } else {
                Err(MitosisError::bad_input(format!(
                    "{source:?} has {s} {what} and {target:?} has {t}: {what} pair by position, so both environments list as many"
                )))
            }
        };
        count("databases", src.databases.len(), tgt.databases.len())?;
        count("buckets", src.buckets.len(), tgt.buckets.len())?;
        if tgt.databases.is_empty() {
            return Err(MitosisError::bad_input(format!(
                "the environment {target:?} lists no databases: give its database under `databases`"
            )));
        }
        let mut named = std::collections::BTreeSet::new();
        if let Some(twice) = src
            .databases
            .iter()
            .chain(&tgt.databases)
            .find(|d| !named.insert(d.to_ascii_lowercase()))
        {
            return Err(MitosisError::bad_input(format!(
                "the database {twice} is listed twice in {source:?} and {target:?}: each database is in one environment, once (a target is replaced, a source never written)"
            )));
        }
        if !tgt.master_password_secrets.is_empty()
            && tgt.master_password_secrets.len() != tgt.databases.len()
        {
            return Err(MitosisError::bad_input(format!(
                "{target:?} lists {} master-password-secrets for {} databases: give one secret per database, in the same order",
                tgt.master_password_secrets.len(),
                tgt.databases.len()
            )));
        }
        let buckets: Vec<(String, String)> = src
            .buckets
            .iter()
            .cloned()
            .zip(tgt.buckets.iter().cloned())
            .collect();
        if let Some((same, _)) = buckets.iter().find(|(s, t)| s == t) {
            return Err(MitosisError::bad_input(format!(
                "the bucket {same} is in both {source:?} and {target:?}: a target bucket is emptied of what the source lacks, so it must be another bucket"
            )));
        }
        if let Some(b) = tgt.buckets.iter().find(|b| src.buckets.contains(b)) {
            return Err(MitosisError::bad_input(format!(
                "the bucket {b} is one of {source:?}'s buckets and a target of {target:?}: the source is never written"
            )));
        }
        if let Some(g) = tgt
            .auto_scaling_groups
            .iter()
            .find(|g| src.auto_scaling_groups.contains(g))
        {
            return Err(MitosisError::bad_input(format!(
                "the Auto Scaling group {g} is in both {source:?} and {target:?}: give each environment its own groups"
            )));
        }
        let databases = src
            .databases
            .iter()
            .zip(&tgt.databases)
            .enumerate()
            .map(|(i, (s, t))| DatabasePair {
                source: s.clone(),
                target: t.clone(),
                master_password_secret: tgt.master_password_secrets.get(i).cloned(),
            })
            .collect();
        Ok(Resolved {
            databases,
            spec: EnvSpec {
                source: source.to_string(),
                target: target.to_string(),
                buckets,
                target_groups: tgt.auto_scaling_groups.clone(),
                source_groups: if quiesce_source {
                    src.auto_scaling_groups.clone()
                } else {
                    Vec::new()
                },
            },
        })
    }
}

/// What the planner needs to know of an environment's buckets and groups.
#[derive(Debug, Clone, Default)]
pub struct ObservedEnv {
    /// The account that owns the target buckets (the target's), and the one that owns the
    /// source buckets (the source's: the same one unless the source is in another account).
    pub owner: String,
    pub source_owner: String,
    /// What each target bucket lacks or has too much of, by target bucket.
    pub syncs: BTreeMap<String, SyncCounts>,
    /// A copy's buckets: their tags, None for one that does not exist yet.
    pub copies: BTreeMap<String, Option<BTreeMap<String, String>>>,
    /// A copy's other buckets of the account whose names begin with its prefix, with their
    /// tags: each must be one of the prefix's copies.
    pub prefixed: BTreeMap<String, BTreeMap<String, String>>,
    pub groups: BTreeMap<String, GroupState>,
}

/// A copy's bucket name: the prefix and the template bucket's, checked against S3's rules.
pub fn copy_bucket_name(prefix: &str, bucket: &str) -> Result<String, MitosisError> {
    let name = format!("{prefix}{bucket}");
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..");
    if valid {
        Ok(name)
    } else {
        Err(MitosisError::bad_input(format!(
            "--prefix {prefix:?} does not make a valid bucket name of {bucket:?} ({name:?}: 3 to 63 lowercase letters, digits, hyphens and dots): use a shorter prefix of lowercase letters, digits and hyphens"
        )))
    }
}

/// Why the bucket `name` with `tags` is not provably a copy made with `prefix` (by `run`,
/// when known): see `crate::plan::proof`; its owner is checked by S3 on every call. None when
/// it is one.
pub fn bucket_copy_refusal(
    name: &str,
    tags: &BTreeMap<String, String>,
    prefix: &str,
    run: Option<&str>,
) -> Option<String> {
    crate::plan::proof::copy_refusal(
        crate::plan::proof::Found {
            name,
            tags,
            created: None,
        },
        prefix,
        run,
    )
}

/// The prefix a bucket's tags give, when they say it is a copy whose expiry is before `now`
/// (epoch seconds): a candidate for a sweep, which then proves it a copy or skips it.
pub fn expired_bucket_copy(tags: &BTreeMap<String, String>, now: i64) -> Option<String> {
    use crate::observed::tags as t;
    let expired = tags
        .get(t::EXPIRES)
        .and_then(|e| crate::plan::SourceTime::parse(e).ok())
        .is_some_and(|at| matches!(at, crate::plan::SourceTime::At(at) if at < now));
    let copy = tags.get(t::ROLE).map(String::as_str) == Some(t::ROLE_COPY);
    (expired && copy).then(|| tags.get(t::COPY_PREFIX).cloned().unwrap_or_default())
}

/// The tags a group in standby carries: the run, and what to put back.
pub mod group_tags {
    /// The run that put the group in standby.
    pub const STANDBY_RUN: &str = "stack-mitosis:standby-run";
    pub const MIN_SIZE: &str = "stack-mitosis:standby-min-size";
    /// The instances this run put in standby, space-separated (over several numbered tags
    /// when they do not fit in one tag's 256 characters).
    pub const INSTANCES: &str = "stack-mitosis:standby-instances";
    /// The processes this run suspended (those already suspended stay so).
    pub const SUSPENDED: &str = "stack-mitosis:standby-suspended";
}

/// The longest value a tag may have.
const TAG_VALUE_MAX: usize = 256;

/// What a group had before the tool put it in standby, as its tags keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub run: String,
    pub min_size: i32,
    pub instances: Vec<String>,
    pub suspended: Vec<String>,
}

impl Recorded {
    /// From the group's tags; None when the tool has not put it in standby.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Option<Self> {
        let run = tags.get(group_tags::STANDBY_RUN)?.clone();
        let words = |key: &str| -> Vec<String> {
            tags.iter()
                .filter(|(k, _)| {
                    *k == key || k.strip_prefix(key).is_some_and(|r| r.starts_with('-'))
                })
                .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
                .collect()
        };
        Some(Recorded {
            run,
            min_size: tags
                .get(group_tags::MIN_SIZE)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            instances: words(group_tags::INSTANCES),
            suspended: words(group_tags::SUSPENDED),
        })
    }

    /// The tags that keep it (lists over numbered tags when one tag's value is too short).
    pub fn to_tags(&self) -> Vec<(String, String)> {
        let mut tags = vec![
            (group_tags::STANDBY_RUN.to_string(), self.run.clone()),
            (group_tags::MIN_SIZE.to_string(), self.min_size.to_string()),
        ];
        for (key, list) in [
            (group_tags::INSTANCES, &self.instances),
            (group_tags::SUSPENDED, &self.suspended),
        ] {
            let mut chunks: Vec<String> = vec![String::new()];
            for word in list {
                let last = chunks.last_mut().expect("one chunk at least");
                if !last.is_empty() && last.len() + 1 + word.len() > TAG_VALUE_MAX {
                    chunks.push(String::new());
                }
                let last = chunks.last_mut().expect("one chunk at least");
                if !last.is_empty() {
                    last.push(' ');
                }
                last.push_str(word);
            }
            for (i, chunk) in chunks.into_iter().enumerate() {
                let key = if i == 0 {
                    key.to_string()
                } else {
                    format!("{key}-{i}")
                };
                tags.push((key, chunk));
            }
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[environments.production]
protected = true
databases = ["mitosis-prod"]
buckets = ["acme-prod-uploads"]
auto-scaling-groups = ["prod-web"]

[environments.demo]
databases = ["mitosis-demo"]
buckets = ["acme-demo-uploads"]
auto-scaling-groups = ["demo-web"]
master-password-secrets = ["arn:aws:secretsmanager:eu-west-1:1:secret:demo-db-master"]
"#;

    #[test]
    fn recorded_values_survive_their_tags_even_when_long() {
        let recorded = Recorded {
            run: "r1".into(),
            min_size: 2,
            instances: (0..40).map(|i| format!("i-{i:017}")).collect(),
            suspended: vec!["Launch".into(), "Terminate".into()],
        };
        let tags = recorded.to_tags();
        assert!(tags.iter().all(|(_, v)| v.len() <= TAG_VALUE_MAX));
        assert!(tags.len() > 5, "the instances need several tags: {tags:?}");
        let back = Recorded::from_tags(&tags.into_iter().collect()).unwrap();
        assert_eq!(back, recorded);
        assert_eq!(Recorded::from_tags(&BTreeMap::new()), None);
    }

    #[test]
    fn an_environment_refresh_pairs_by_position() {
        let config = Config::parse(FILE, "f").unwrap();
        let r = config
            .resolve("production", "demo", Use::Refresh, false)
            .unwrap();
        assert_eq!(r.databases.len(), 1);
        assert_eq!(r.databases[0].source, "mitosis-prod");
        assert_eq!(r.databases[0].target, "mitosis-demo");
        assert_eq!(
            r.spec.buckets,
            vec![("acme-prod-uploads".into(), "acme-demo-uploads".into())]
        );
        assert_eq!(r.spec.target_groups, vec!["demo-web".to_string()]);
        assert!(r.spec.source_groups.is_empty());
        assert!(r.databases[0]
            .master_password_secret
            .clone()
            .unwrap()
            .ends_with("demo-db-master"));
        let q = config
            .resolve("production", "demo", Use::Refresh, true)
            .unwrap();
        assert_eq!(q.spec.source_groups, vec!["prod-web".to_string()]);
    }

    #[test]
    fn bad_configs_say_what_and_where() {
        let e = Config::parse(
            "[environments.demo]\ndatabases = [\"a\"]\nbukets = []\n",
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 3") && e.contains("bukets"), "{e}");
        let e = Config::parse("[environments.demo\n", "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
        let config = Config::parse(FILE, "f").unwrap();
        let refuse = |s: &str, t: &str| {
            config
                .resolve(s, t, Use::Refresh, false)
                .unwrap_err()
                .to_string()
        };
        assert!(refuse("production", "staging").contains("no environment \"staging\""));
        assert!(refuse("demo", "production").contains("protected"));
        assert!(refuse("demo", "demo").contains("two environments"));
        let e = config
            .resolve("demo", "production", Use::Template, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("copy's template"), "{e}");
    }

    #[test]
    fn pairs_must_match() {
        let file = |extra: &str| {
            format!(
                "[environments.a]\ndatabases = [\"a\"]\nbuckets = [\"a1\", \"a2\"]\n[environments.b]\ndatabases = [\"b\"]\n{extra}"
            )
        };
        let refuse = |text: String| {
            Config::parse(&text, "f")
                .unwrap()
                .resolve("a", "b", Use::Refresh, false)
                .unwrap_err()
                .to_string()
        };
        assert!(refuse(file("buckets = [\"b1\"]")).contains("2 buckets"));
        assert!(refuse(file("buckets = [\"a1\", \"b2\"]")).contains("a1"));
        assert!(refuse(file(
            "buckets = [\"b1\", \"b2\"]\nmaster-password-secrets = [\"x\", \"y\"]"
        ))
        .contains("one secret per database"));
        let two = |a: &str, b: &str| {
            format!("[environments.a]\ndatabases = {a}\n[environments.b]\ndatabases = {b}\n")
        };
        assert!(refuse(two("[\"a1\", \"a2\"]", "[\"b1\"]")).contains("2 databases"));
        assert!(refuse(two("[\"a1\", \"a2\"]", "[\"b1\", \"b1\"]")).contains("b1 is listed twice"));
        assert!(refuse(two("[\"a1\", \"a2\"]", "[\"b1\", \"a1\"]")).contains("a1 is listed twice"));
    }

    #[test]
    fn an_environment_of_several_databases_pairs_them_with_their_secrets() {
        let text = "[environments.prod]\ndatabases = [\"p-main\", \"p-orders\"]\n[environments.demo]\ndatabases = [\"d-main\", \"d-orders\"]\nmaster-password-secrets = [\"s-main\", \"s-orders\"]\n";
        let r = Config::parse(text, "f")
            .unwrap()
            .resolve("prod", "demo", Use::Refresh, false)
            .unwrap();
        let pairs: Vec<(&str, &str, Option<&str>)> = r
            .databases
            .iter()
            .map(|d| {
                (
                    d.source.as_str(),
                    d.target.as_str(),
                    d.master_password_secret.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("p-main", "d-main", Some("s-main")),
                ("p-orders", "d-orders", Some("s-orders"))
            ]
        );
    }
}

/// One difference between two buckets' listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The source's object, missing from the target or different there (size or ETag).
    Copy(ObjectEntry),
    /// A key the target has and the source does not.
    Delete(String),
}

/// The differences between two buckets, found by walking both listings side by side (S3 lists
/// keys in UTF-8 binary order, which is `String`'s order): at most one page of each bucket is
/// held, however large the buckets are.
pub struct Diff<'a> {
    api: &'a dyn EnvRead,
    source: Listing,
    target: Listing,
}

struct Listing {
    bucket: OwnedBucket,
    page: std::collections::VecDeque<ObjectEntry>,
    token: Option<String>,
    done: bool,
}

impl Listing {
    fn new(bucket: &OwnedBucket) -> Self {
        Listing {
            bucket: bucket.clone(),
            page: Default::default(),
            token: None,
            done: false,
        }
    }

    /// The next key, reading the next page when this one is used up.
    async fn front(&mut self, api: &dyn EnvRead) -> Result<Option<&ObjectEntry>, MitosisError> {
        while self.page.is_empty() && !self.done {
            let page = api.list_objects(&self.bucket, self.token.take()).await?;
            self.page = page.objects.into();
            self.done = page.next.is_none();
            self.token = page.next;
        }
        Ok(self.page.front())
    }
}

impl<'a> Diff<'a> {
    /// The difference of two buckets; `target_exists: false` for a bucket yet to be made
    /// (everything is to be copied).
    pub fn new(
        api: &'a dyn EnvRead,
        source: &OwnedBucket,
        target: &OwnedBucket,
        target_exists: bool,
    ) -> Self {
        let mut target = Listing::new(target);
        target.done = !target_exists;
        Diff {
            api,
            source: Listing::new(source),
            target,
        }
    }

    /// The next difference, or None when the target holds what the source holds.
    pub async fn next(&mut self) -> Result<Option<Change>, MitosisError> {
        loop {
            let s = self.source.front(self.api).await?.cloned();
            let t = self.target.front(self.api).await?;
            let order = match (&s, t) {
                (None, None) => return Ok(None),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(s), Some(t)) => s.key.cmp(&t.key),
            };
            match order {
                std::cmp::Ordering::Less => {
                    self.source.page.pop_front();
                    return Ok(s.map(Change::Copy));
                }
                std::cmp::Ordering::Greater => {
                    let gone = self.target.page.pop_front().map(|t| t.key);
                    return Ok(gone.map(Change::Delete));
                }
                std::cmp::Ordering::Equal => {
                    let t = self.target.page.pop_front();
                    self.source.page.pop_front();
                    let (s, t) = (s.expect("compared"), t.expect("compared"));
                    // A multipart object is copied part for part, so that its ETag is the
                    // source's too and a rerun finds nothing to do.
                    if s.size != t.size || s.etag != t.etag {
                        return Ok(Some(Change::Copy(s)));
                    }
                }
            }
        }
    }

    /// Walks the whole difference: what a sync would copy and delete now.
    pub async fn count(mut self) -> Result<SyncCounts, MitosisError> {
        let mut counts = SyncCounts::default();
        while let Some(change) = self.next().await? {
            match change {
                Change::Copy(o) => {
                    counts.copy += 1;
                    counts.copy_bytes += o.size;
                }
                Change::Delete(_) => counts.delete += 1,
            }
        }
        Ok(counts)
    }
}
