//! The Action's inputs, read from `INPUT_*` exactly as the runner sets them (upper case,
//! spaces to `_`, hyphens kept), and validated before anything touches AWS.

use crate::plan::OnFailure;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Apply,
    IamPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentMode {
    /// On pull_request events only.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct ActionInputs {
    pub mode: Mode,
    pub source: String,
    pub target: String,
    pub restart: Option<String>,
    pub before_swap: Option<String>,
    pub restore_snapshot: bool,
    pub snapshot: Option<String>,
    pub final_snapshot: bool,
    pub role_to_assume: Option<String>,
    pub role_session_name: String,
    pub role_duration_seconds: i32,
    pub aws_region: Option<String>,
    pub comment: CommentMode,
    pub github_token: Option<String>,
    pub step_timeout: u64,
    pub on_failure: OnFailure,
}

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

/// Reads the inputs from an environment (a map, so tests need no process environment).
pub fn read_inputs(env: &BTreeMap<String, String>) -> Result<ActionInputs, InputError> {
    let get = |name: &str| -> Option<String> {
        env.get(&key(name))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let bad = |name: &str, message: String| InputError {
        input: name.to_string(),
        message,
    };
    let required = |name: &str| {
        get(name).ok_or_else(|| bad(name, "is required: give the DB instance identifier".into()))
    };
    let boolean = |name: &str| -> Result<bool, InputError> {
        match get(name).as_deref() {
            None | Some("false") | Some("False") | Some("FALSE") => Ok(false),
            Some("true") | Some("True") | Some("TRUE") => Ok(true),
            Some(other) => Err(bad(
                name,
                format!("{other:?} is not a boolean: use true or false"),
            )),
        }
    };
    let number = |name: &str, default: i64, min: i64, max: i64| -> Result<i64, InputError> {
        match get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(bad(
                    name,
                    format!("{v:?} is not a whole number from {min} to {max}"),
                )),
            },
        }
    };

    let mode = match get("mode").as_deref() {
        None | Some("plan") => Mode::Plan,
        Some("apply") => Mode::Apply,
        Some("iam-policy") => Mode::IamPolicy,
        Some(other) => {
            return Err(bad(
                "mode",
                format!("{other:?} is not a mode: use plan, apply or iam-policy"),
            ))
        }
    };
    let comment = match get("comment").as_deref() {
        None | Some("auto") => CommentMode::Auto,
        Some("always") => CommentMode::Always,
        Some("never") => CommentMode::Never,
        Some(other) => {
            return Err(bad(
                "comment",
                format!("{other:?} is not valid: use auto, always or never"),
            ))
        }
    };
    let on_failure = match get("on-failure").as_deref() {
        None | Some("rollback") => OnFailure::Rollback,
        Some("keep") => OnFailure::Keep,
        Some(other) => {
            return Err(bad(
                "on-failure",
                format!("{other:?} is not valid: use rollback or keep"),
            ))
        }
    };
    let session = get("role-session-name").unwrap_or_else(|| "GitHubActions".into());
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !session_ok {
        return Err(bad(
            "role-session-name",
            format!("{session:?} must be 2-64 characters of letters, digits and _+=,.@-"),
        ));
    }
    if let Some(role) = get("role-to-assume") {
        if !role.starts_with("arn:") || !role.contains(":role/") {
            return Err(bad(
                "role-to-assume",
                format!("{role:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            ));
        }
    }
    Ok(ActionInputs {
        mode,
        source: required("source")?,
        target: required("target")?,
        restart: get("restart"),
        before_swap: get("before-swap"),
        restore_snapshot: boolean("restore-snapshot")?,
        snapshot: get("snapshot"),
        final_snapshot: boolean("final-snapshot")?,
        role_to_assume: get("role-to-assume"),
        role_session_name: session,
        role_duration_seconds: number("role-duration-seconds", 3600, 900, 43_200)? as i32,
        aws_region: get("aws-region"),
        comment,
        github_token: get("github-token"),
        step_timeout: number("step-timeout", 4 * 3600, 1, 7 * 24 * 3600)? as u64,
        on_failure,
    })
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
        ]);
        let i = read_inputs(&e).unwrap();
        assert_eq!(i.source, "prod");
        assert_eq!(i.mode, Mode::Apply);
        assert!(i.restore_snapshot);
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
            ("INPUT_MODE", "destroy", "mode"),
            ("INPUT_RESTORE-SNAPSHOT", "yes", "restore-snapshot"),
            ("INPUT_COMMENT", "sometimes", "comment"),
            ("INPUT_ROLE-DURATION-SECONDS", "60", "role-duration-seconds"),
            ("INPUT_ROLE-TO-ASSUME", "refresh-role", "role-to-assume"),
            ("INPUT_ROLE-SESSION-NAME", "has space", "role-session-name"),
            ("INPUT_ON-FAILURE", "panic", "on-failure"),
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
