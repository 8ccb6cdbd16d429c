//! The names the tool gives its own snapshots (and the patterns that match them, for the
//! IAM policy and for finding them again).

/// How the tool's own snapshots begin.
pub const FRESH_SNAPSHOT_PREFIX: &str = "stack-mitosis-";

/// One of the tool's own snapshots: `stack-mitosis-<kind><name>-<run>`.
fn own_snapshot_id(kind: &str, name: &str, run_id: &str) -> String {
    snapshot_id(&format!("{FRESH_SNAPSHOT_PREFIX}{kind}{name}-{run_id}"))
}

/// Every snapshot of that kind and name, whatever the run (the IAM policy grants by it).
fn own_snapshot_pattern(kind: &str, name: &str) -> String {
    format!(
        "{}-*",
        snapshot_id(&format!("{FRESH_SNAPSHOT_PREFIX}{kind}{name}"))
    )
}

/// The snapshot `--snapshot fresh` takes of the source.
pub fn fresh_snapshot_id(source: &str, run_id: &str) -> String {
    own_snapshot_id("", source, run_id)
}

/// Every fresh snapshot of `source`, whatever the run.
pub fn fresh_snapshot_pattern(source: &str) -> String {
    own_snapshot_pattern("", source)
}

/// The source account's shareable copy in a cross-account refresh of `target`.
pub fn transfer_snapshot_id(target: &str, run_id: &str) -> String {
    own_snapshot_id("transfer-", target, run_id)
}

/// Every transfer snapshot for `target`, whatever the run.
pub fn transfer_snapshot_pattern(target: &str) -> String {
    own_snapshot_pattern("transfer-", target)
}

/// The target account's copy of the shared transfer snapshot.
pub fn import_snapshot_id(target: &str, run_id: &str) -> String {
    own_snapshot_id("import-", target, run_id)
}

/// Every import snapshot for `target`, whatever the run.
pub fn import_snapshot_pattern(target: &str) -> String {
    own_snapshot_pattern("import-", target)
}

/// The snapshot `--final-snapshot` keeps of an old-* instance.
pub fn final_snapshot_id(old: &str, run_id: &str) -> String {
    snapshot_id(&format!("stack-mitosis-final-{old}-{run_id}"))
}

/// Snapshot identifiers follow the instance identifier rules (255 characters at most).
fn snapshot_id(raw: &str) -> String {
    let id: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut id: String = id.chars().take(255).collect();
    while id.ends_with('-') || id.contains("--") {
        id = id.replace("--", "-").trim_end_matches('-').to_string();
    }
    id
}
