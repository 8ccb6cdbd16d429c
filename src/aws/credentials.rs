//! Credentials for the command line beyond the standard chain: a role assumed with an MFA
//! code, given on the command line (`--role-arn`, `--mfa-serial`) or read from an AWS profile's
//! `role_arn` / `mfa_serial` / `source_profile` (parsed by aws-config, which itself cannot ask
//! for the code).

use super::AwsSettings;
use crate::error::MitosisError;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use std::time::SystemTime;

/// The session name of a role the command line assumes.
pub const CLI_SESSION_NAME: &str = "stack-mitosis";
/// How long an assumed role's session lasts unless asked otherwise (the Action's default too).
pub const DEFAULT_ROLE_DURATION_SECONDS: i32 = 3600;

#[derive(Debug, Clone)]
pub struct RoleRequest {
    pub role_arn: String,
    pub mfa_serial: Option<String>,
    pub session_name: String,
    pub duration_seconds: i32,
    /// The profile whose credentials assume the role (None: the standard chain).
    pub source_profile: Option<String>,
}

/// The role and MFA device a profile names, when it names both (`role_arn` and `mfa_serial`).
pub async fn profile_role(profile: &str) -> Option<RoleRequest> {
    let profiles = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        None,
    )
    .await
    .ok()?;
    let p = profiles.get_profile(profile)?;
    Some(RoleRequest {
        role_arn: p.get("role_arn")?.to_string(),
        mfa_serial: Some(p.get("mfa_serial")?.to_string()),
        session_name: p
            .get("role_session_name")
            .unwrap_or(CLI_SESSION_NAME)
            .to_string(),
        duration_seconds: p
            .get("duration_seconds")
            .and_then(|d| d.parse().ok())
            .unwrap_or(DEFAULT_ROLE_DURATION_SECONDS),
        source_profile: p.get("source_profile").map(str::to_string),
    })
}

/// The shortest and longest session STS gives an assumed role (a role's own maximum may be
/// lower; STS says so).
pub const ROLE_DURATION_RANGE: std::ops::RangeInclusive<i64> = 900..=43_200;

/// A role ARN as STS takes it: `arn:PARTITION:iam::ACCOUNT:role/NAME`. `what` names the flag or
/// input in the message. Checked before any AWS call.
pub fn check_role_arn(what: &str, arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {arn:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        ))
    }
}

/// A session length STS accepts, in seconds. Checked before any AWS call.
pub fn check_role_duration(what: &str, seconds: i64) -> Result<(), String> {
    if ROLE_DURATION_RANGE.contains(&seconds) {
        Ok(())
    } else {
        Err(format!(
            "{what} {seconds} is out of range: a role session lasts {} to {} seconds",
            ROLE_DURATION_RANGE.start(),
            ROLE_DURATION_RANGE.end()
        ))
    }
}

/// An MFA code must be six digits; checked before any AWS call.
pub fn check_mfa_code(code: &str) -> Result<String, MitosisError> {
    let code = code.trim();
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        Ok(code.to_string())
    } else {
        Err(MitosisError::bad_input(
            "the MFA code must be the 6 digits your device shows",
        ))
    }
}

/// Assumes the role (with the MFA code when a device is named) and returns its credentials.
pub async fn assume_role(
    settings: &AwsSettings,
    role: &RoleRequest,
    mfa_code: Option<&str>,
) -> Result<SharedCredentialsProvider, MitosisError> {
    let mut settings = settings.clone();
    if role.source_profile.is_some() {
        settings.profile = role.source_profile.clone();
    }
    let config = super::load_config(&settings, true).await;
    let sts = aws_sdk_sts::Client::new(&config);
    let out = sts
        .assume_role()
        .role_arn(&role.role_arn)
        .role_session_name(&role.session_name)
        .duration_seconds(role.duration_seconds)
        .set_serial_number(role.mfa_serial.clone())
        .set_token_code(mfa_code.map(str::to_string))
        .send()
        .await
        .map_err(|e| MitosisError::Aws {
            operation: "AssumeRole".into(),
            message: format!(
                "{} {} (role {}{})",
                e.code().unwrap_or(""),
                e.message().unwrap_or(""),
                role.role_arn,
                if role.mfa_serial.is_some() {
                    ": check the MFA code and that the role's trust policy allows this user"
                } else {
                    ""
                }
            ),
        })?;
    let c = out.credentials().ok_or_else(|| MitosisError::Aws {
        operation: "AssumeRole".into(),
        message: "STS returned no credentials".into(),
    })?;
    Ok(SharedCredentialsProvider::new(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        SystemTime::try_from(*c.expiration()).ok(),
        "stack-mitosis-mfa",
    )))
}
