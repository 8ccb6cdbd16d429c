//! Environments (`--config FILE`): what an environment is made of (databases, S3 buckets,
//! Auto Scaling groups, the secrets with its databases' master passwords), read from TOML,
//! and what a refresh of one environment from another covers. Pure: no AWS, and nothing of
//! the tool but its error type.

use crate::error::MitosisError;
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

    /// What a copy like `like` consists of (`destroy`): the database it was made like and the
    /// template buckets of its own (the copy's are named from them with its prefix). A
    /// protected environment is refused.
    pub fn copy_of(&self, like: &str) -> Result<(String, Vec<String>), MitosisError> {
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
        Ok((database, env.buckets.clone()))
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
