//! The Action's inputs, read from `INPUT_*` exactly as the runner sets them (upper case,
//! spaces to `_`, hyphens kept), and validated before anything touches AWS.

use crate::aws::credentials::{check_role_arn, DEFAULT_ROLE_DURATION_SECONDS, ROLE_DURATION_RANGE};
use crate::plan::OnFailure;
use crate::plan::SourceTime;
use crate::refresh::{ApplyOptions, RefreshOptions};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Apply,
    Rollback,
    IamPolicy,
    /// A throwaway copy (`like`, `prefix`, `expires`).
    Copy,
    /// Delete a copy (`like`, `prefix`).
    Destroy,
    /// Delete every expired copy.
    Sweep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentMode {
    /// On pull_request events only.
    Auto,
    Always,
    Never,
}

#[derive(Clone)]
pub struct ActionInputs {
    pub mode: Mode,
    /// What to refresh, as the command line's flags would give it.
    pub refresh: RefreshOptions,
    /// How to apply, with the command line's defaults for what the Action does not expose.
    pub apply: ApplyOptions,
    pub role_to_assume: Option<String>,
    /// The source account's role (cross-account), assumed with the same OIDC token.
    pub source_role_to_assume: Option<String>,
    pub role_session_name: String,
    pub role_duration_seconds: i32,
    pub aws_region: Option<String>,
    pub comment: CommentMode,
    pub github_token: Option<String>,
    /// The webhook for notifications (`notify-url`; it may hold a secret: it is masked).
    pub notify_url: Option<String>,
    /// `mode: copy`: destroy an existing copy first, then make it anew (`reset`).
    pub reset: bool,
}

/// Never the token or the webhook, whatever prints the inputs.
impl std::fmt::Debug for ActionInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("ActionInputs")
            .field("mode", &self.mode)
            .field("refresh", &self.refresh)
            .field("apply", &self.apply)
            .field("role_to_assume", &self.role_to_assume)
            .field("source_role_to_assume", &self.source_role_to_assume)
            .field("role_session_name", &self.role_session_name)
            .field("role_duration_seconds", &self.role_duration_seconds)
            .field("aws_region", &self.aws_region)
            .field("comment", &self.comment)
            .field("github_token", &redacted(&self.github_token))
            .field("notify_url", &redacted(&self.notify_url))
            .field("reset", &self.reset)
            .finish()
    }
}

/// The session name of the role the Action assumes, unless `role-session-name` says otherwise.
pub const DEFAULT_SESSION_NAME: &str = "GitHubActions";

/// An input that cannot be used, by name, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input '{}': {}", self.input, self.message)
    }
}

fn key(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// The inputs as the runner set them, trimmed, with typed readers that name the input when a
/// value cannot be used.
struct Raw<'a>(&'a BTreeMap<String, String>);

impl Raw<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .get(&key(name))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn bad(name: &str, message: String) -> InputError {
        InputError {
            input: name.to_string(),
            message,
        }
    }

    fn required(&self, name: &str) -> Result<String, InputError> {
        self.get(name)
            .ok_or_else(|| Self::bad(name, "is required: give the DB instance identifier".into()))
    }

    /// The runner's booleans: true|True|TRUE|false|False|FALSE.
    /// A list input: names separated by commas, spaces or new lines.
    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn boolean(&self, name: &str) -> Result<bool, InputError> {
        match self.get(name).as_deref() {
            None | Some("false") | Some("False") | Some("FALSE") => Ok(false),
            Some("true") | Some("True") | Some("TRUE") => Ok(true),
            Some(other) => Err(Self::bad(
                name,
                format!("{other:?} is not a boolean: use true or false"),
            )),
        }
    }

    fn number(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, InputError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(Self::bad(
                    name,
                    format!("{v:?} is not a whole number from {min} to {max}"),
                )),
            },
        }
    }

    /// One of `choices` (the first is the default), parsed into its type.
    fn choice<T>(&self, name: &str, choices: &[(&str, T)]) -> Result<T, InputError>
    where
        T: Copy,
    {
        let value = self.get(name);
        let wanted = value.as_deref().unwrap_or(choices[0].0);
        choices
            .iter()
            .find(|(n, _)| *n == wanted)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                Self::bad(
                    name,
                    format!("{wanted:?} is not valid: use {}", names.join(", ")),
                )
            })
    }
}

/// Reads the inputs from an environment (a map, so tests need no process environment).
pub fn read_inputs(env: &BTreeMap<String, String>) -> Result<ActionInputs, InputError> {
    let raw = Raw(env);
    let mode = raw.choice(
        "mode",
        &[
            ("plan", Mode::Plan),
            ("apply", Mode::Apply),
            ("rollback", Mode::Rollback),
            ("iam-policy", Mode::IamPolicy),
            ("copy", Mode::Copy),
            ("destroy", Mode::Destroy),
            ("sweep", Mode::Sweep),
        ],
    )?;
    let comment = raw.choice(
        "comment",
        &[
            ("auto", CommentMode::Auto),
            ("always", CommentMode::Always),
            ("never", CommentMode::Never),
        ],
    )?;
    Ok(ActionInputs {
        mode,
        refresh: refresh_options(&raw, mode)?,
        apply: apply_options(&raw)?,
        role_to_assume: role_arn(&raw, "role-to-assume")?,
        source_role_to_assume: role_arn(&raw, "source-role-to-assume")?,
        role_session_name: session_name(&raw)?,
        role_duration_seconds: raw.number(
            "role-duration-seconds",
            i64::from(DEFAULT_ROLE_DURATION_SECONDS),
            *ROLE_DURATION_RANGE.start(),
            *ROLE_DURATION_RANGE.end(),
        )? as i32,
        aws_region: raw.get("aws-region"),
        comment,
        github_token: raw.get("github-token"),
        notify_url: raw.get("notify-url"),
        reset: raw.boolean("reset")?,
    })
}

fn refresh_options(raw: &Raw<'_>, mode: Mode) -> Result<RefreshOptions, InputError> {
    // A copy names its template (`like`) and prefix instead of a target; destroy and sweep
    // need no source.
    let copying = matches!(mode, Mode::Copy | Mode::Destroy);
    let (target, prefix) = if copying {
        (raw.required("like")?, Some(raw.required("prefix")?))
    } else if mode == Mode::Sweep {
        (String::new(), None)
    } else {
        (raw.required("target")?, None)
    };
    let source = match mode {
        Mode::Destroy | Mode::Sweep => raw.get("source").unwrap_or_default(),
        _ => raw.required("source")?,
    };
    let expires = raw.get("expires");
    if let Some(e) = &expires {
        crate::refresh::parse_expires(e).map_err(|err| Raw::bad("expires", err.to_string()))?;
    }
    Ok(RefreshOptions {
        source,
        target,
        prefix,
        expires,
        restart: raw.get("restart"),
        before_swap: raw.get("before-swap"),
        restore_snapshot: raw.boolean("restore-snapshot")?,
        final_snapshot: raw.boolean("final-snapshot")?,
        snapshot: raw.get("snapshot"),
        keep_snapshot: raw.boolean("keep-snapshot")?,
        source_time: raw
            .get("source-time")
            .map(|t| SourceTime::parse(&t).map_err(|e| Raw::bad("source-time", e)))
            .transpose()?,
        master_password_secret: raw.get("master-password-secret"),
        source_kms_key_id: raw.get("source-kms-key-id"),
        kms_key_id: raw.get("kms-key-id"),
        config: raw.get("config").map(std::path::PathBuf::from),
        quiesce_source: raw.boolean("quiesce-source")?,
        redact_commands: raw.boolean("redact-commands")?,
        allow_protected_target: raw.boolean("allow-protected-target")?,
    })
}

fn apply_options(raw: &Raw<'_>) -> Result<ApplyOptions, InputError> {
    let defaults = ApplyOptions::default();
    let on_failure = raw.choice(
        "on-failure",
        &[("rollback", OnFailure::Rollback), ("keep", OnFailure::Keep)],
    )?;
    let step_timeout = raw.number(
        "step-timeout",
        defaults.step_timeout_seconds as i64,
        1,
        7 * 24 * 3600,
    )?;
    let until = match raw.get("until") {
        None => None,
        Some(u) => Some(u.parse().map_err(|e: String| Raw::bad("until", e))?),
    };
    Ok(ApplyOptions {
        on_failure,
        step_timeout_seconds: step_timeout as u64,
        until,
        hook_env: raw.list("hook-env"),
        ..defaults
    })
}

fn session_name(raw: &Raw<'_>) -> Result<String, InputError> {
    let session = raw
        .get("role-session-name")
        .unwrap_or_else(|| DEFAULT_SESSION_NAME.into());
    let ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(session)
    } else {
        Err(Raw::bad(
            "role-session-name",
            format!("{session:?} must be 2-64 characters of letters, digits and _+=,.@-"),
        ))
    }
}

fn role_arn(raw: &Raw<'_>, input: &str) -> Result<Option<String>, InputError> {
    match raw.get(input) {
        Some(role) => match check_role_arn("the value", &role) {
            Ok(()) => Ok(Some(role)),
            Err(e) => Err(Raw::bad(input, e)),
        },
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hyphens_are_kept_and_values_trimmed() {
        let e = env(&[
            ("INPUT_SOURCE", " prod "),
            ("INPUT_TARGET", "demo"),
            (
                "INPUT_ROLE-TO-ASSUME",
                "arn:aws:iam::123456789012:role/refresh",
            ),
            ("INPUT_RESTORE-SNAPSHOT", "TRUE"),
            ("INPUT_MODE", "apply"),
            ("INPUT_SOURCE-TIME", "2026-11-30T09:00:00Z"),
        ]);
        let i = read_inputs(&e).unwrap();
        assert_eq!(
            i.refresh.source_time,
            Some(crate::plan::SourceTime::At(1_796_029_200))
        );
        assert_eq!(i.refresh.source, "prod");
        assert_eq!(i.mode, Mode::Apply);
        assert!(i.refresh.restore_snapshot);
        assert_eq!(
            i.role_to_assume.as_deref(),
            Some("arn:aws:iam::123456789012:role/refresh")
        );
        assert_eq!(i.role_session_name, "GitHubActions");
    }

    #[test]
    fn bad_values_name_the_input() {
        let base = [("INPUT_SOURCE", "prod"), ("INPUT_TARGET", "demo")];
        let cases: &[(&str, &str, &str)] = &[
            ("INPUT_MODE", "obliterate", "mode"),
            ("INPUT_RESTORE-SNAPSHOT", "yes", "restore-snapshot"),
            ("INPUT_COMMENT", "sometimes", "comment"),
            ("INPUT_ROLE-DURATION-SECONDS", "60", "role-duration-seconds"),
            ("INPUT_ROLE-TO-ASSUME", "refresh-role", "role-to-assume"),
            (
                "INPUT_SOURCE-ROLE-TO-ASSUME",
                "prod-role",
                "source-role-to-assume",
            ),
            ("INPUT_ROLE-SESSION-NAME", "has space", "role-session-name"),
            ("INPUT_ON-FAILURE", "panic", "on-failure"),
            ("INPUT_UNTIL", "restart", "until"),
            ("INPUT_SOURCE-TIME", "last tuesday", "source-time"),
        ];
        for (k, v, input) in cases {
            let mut e = env(&base);
            e.insert(k.to_string(), v.to_string());
            assert_eq!(read_inputs(&e).unwrap_err().input, *input, "{k}={v}");
        }
        let err = read_inputs(&env(&[("INPUT_TARGET", "demo")])).unwrap_err();
        assert_eq!(err.input, "source");
    }
}
