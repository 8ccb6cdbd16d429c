//! Reading the target tree from what is observed: which original and which clone stand for
//! each instance of the target tree right now, whatever point an earlier run reached.

use crate::error::MitosisError;
use crate::observed::{tags, Instance, Observed, OLD_PREFIX, TEMP_PREFIX};

/// One instance of the target tree, by its original name, with what stands for it now.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub parent: Option<String>,
    pub children: Vec<String>,
    /// The instance with the old data: `name` itself, or `old-name` once retired.
    pub original: Option<Instance>,
    /// The clone: `temp-name`, or `name` itself once swapped in.
    pub replacement: Option<Instance>,
}

impl Node {
    pub fn temp(&self) -> String {
        format!("{TEMP_PREFIX}{}", self.name)
    }
    pub fn old(&self) -> String {
        format!("{OLD_PREFIX}{}", self.name)
    }
    /// Where the target's own attributes are read from: the original while it exists,
    /// otherwise the clone that was built with them.
    pub fn attributes(&self) -> &Instance {
        self.original
            .as_ref()
            .or(self.replacement.as_ref())
            .expect("a node is built from an instance")
    }
    pub fn swapped(&self) -> bool {
        self.replacement.as_ref().is_some_and(|c| c.id == self.name)
    }
    pub fn retired(&self) -> bool {
        self.original.as_ref().is_none_or(|o| o.id != self.name)
    }
}

/// The original target tree, as logical nodes, parents first.
///
/// Two trees may stand for it: the original one (rooted at the target, or at old-target once
/// retired) and the clone (rooted at temp-target, or at the target once swapped in). The
/// original is whole until cleanup starts, and the clone is whole by then, so the larger of
/// the two has the shape.
pub fn target_nodes(obs: &Observed, target: &str) -> Result<Vec<Node>, MitosisError> {
    let old_target = format!("{OLD_PREFIX}{target}");
    let temp_target = format!("{TEMP_PREFIX}{target}");
    let target_inst = obs.get(target);
    let is_clone = |i: &Instance| i.is_marked(tags::ROLE_TEMP, target);

    let original_root = match target_inst {
        Some(t) if !is_clone(t) => Some(t),
        _ => obs
            .get(&old_target)
            .filter(|o| o.is_marked(tags::ROLE_OLD, target)),
    };
    let clone_root = match target_inst {
        Some(t) if is_clone(t) => Some(t),
        _ => obs.get(&temp_target).filter(|t| is_clone(t)),
    };
    if original_root.or(clone_root).is_none() {
        return Err(MitosisError::bad_input(format!(
            "target instance {target:?} was not found in {}: check --target and the region",
            obs.account.region
        )));
    };
    if let Some(t) = target_inst {
        if t.replica_source.is_some() && original_root.is_some_and(|o| o.id == t.id) {
            let root = obs.root_of(target);
            return Err(MitosisError::bad_input(format!(
                "target {target:?} is a read replica of {root:?}: give the root of the target tree as --target ({root:?})"
            )));
        }
    }

    let index = |root: Option<&Instance>| -> Vec<(String, Instance)> {
        root.map(|r| obs.tree(&r.id))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| obs.get(&id))
            .map(|i| (i.logical_name(), i.clone()))
            .collect()
    };
    let originals = index(original_root);
    let clones = index(clone_root);
    // The original tree is whole until its first delete; by then the clone tree is whole.
    let shape = if clones.len() > originals.len() {
        clones.clone()
    } else {
        originals.clone()
    };

    let mut nodes = Vec::new();
    for (name, inst) in &shape {
        let parent = obs
            .parent(&inst.id)
            .and_then(|p| shape.iter().find(|(_, i)| i.id == p))
            .map(|(n, _)| n.clone());
        let children = obs
            .children(&inst.id)
            .iter()
            .filter_map(|c| shape.iter().find(|(_, i)| &i.id == c))
            .map(|(n, _)| n.clone())
            .collect();
        let find = |list: &[(String, Instance)]| {
            list.iter().find(|(n, _)| n == name).map(|(_, i)| i.clone())
        };
        nodes.push(Node {
            name: name.clone(),
            parent: if nodes.is_empty() { None } else { parent },
            children,
            original: find(&originals),
            replacement: find(&clones),
        });
    }
    Ok(nodes)
}
