//! Checks that need no AWS call: identifier syntax.

use crate::error::MitosisError;

/// RDS DB instance identifiers: 1-63 letters, digits or hyphens; first a letter; no trailing
/// hyphen and no two consecutive hyphens. AWS stores them lower-case.
pub fn validate_identifier(what: &str, id: &str) -> Result<(), MitosisError> {
    let problem = if id.is_empty() {
        Some("is empty".to_string())
    } else if id.len() > 63 {
        Some(format!("is {} characters long (63 at most)", id.len()))
    } else if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must begin with a letter".to_string())
    } else if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        Some(format!(
            "contains {c:?}: only letters, digits and hyphens are allowed"
        ))
    } else if id.ends_with('-') {
        Some("must not end with a hyphen".to_string())
    } else if id.contains("--") {
        Some("must not contain two consecutive hyphens".to_string())
    } else {
        None
    };
    match problem {
        Some(p) => Err(MitosisError::bad_input(format!(
            "{what} {id:?} is not a valid DB instance identifier: it {p}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["demo", "mitosis-prod", "a", &"a".repeat(63), "qa-1-replica"] {
            assert!(validate_identifier("target", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_each_rule_with_a_reason() {
        let cases = [
            ("", "is empty"),
            ("1demo", "begin with a letter"),
            ("demo_1", "only letters, digits and hyphens"),
            ("demo-", "end with a hyphen"),
            ("de--mo", "two consecutive hyphens"),
        ];
        for (id, reason) in cases {
            let err = validate_identifier("target", id).unwrap_err().to_string();
            assert!(err.contains(reason), "{id}: {err}");
        }
        let long = "a".repeat(64);
        assert!(validate_identifier("target", &long)
            .unwrap_err()
            .to_string()
            .contains("64 characters"));
    }
}
