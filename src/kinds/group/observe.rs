//! What the planner needs to know of an environment's groups: each one's state and tags.
//! Read-only by type (`GroupRead`).

use super::autoscaling::GroupRead;
use super::Observed;
use crate::config::EnvSpec;
use crate::error::MitosisError;

/// The target's groups and (`--quiesce-source`) the source's; a group that does not exist is
/// bad input: nothing has been changed yet.
pub async fn observe(api: &dyn GroupRead, spec: &EnvSpec) -> Result<Observed, MitosisError> {
    let mut observed = Observed::default();
    let names: Vec<String> = spec
        .target_groups
        .iter()
        .chain(&spec.source_groups)
        .cloned()
        .collect();
    for group in api.describe_groups(&names).await? {
        observed.groups.insert(group.name.clone(), group);
    }
    if let Some(missing) = names.iter().find(|n| !observed.groups.contains_key(*n)) {
        return Err(MitosisError::bad_input(format!(
            "the Auto Scaling group {missing} does not exist in this region: check the environment's `auto-scaling-groups` in the config"
        )));
    }
    Ok(observed)
}
