//! Reading the target tree from what is observed: which original and which clone stand for
//! each instance of the target tree right now, whatever point an earlier run reached.

use crate::error::MitosisError;
use crate::observed::{tags, Cluster, Instance, Observed, OLD_PREFIX, TEMP_PREFIX};

/// What a node stands on: an instance or an Aurora cluster, known by its identifier and the
/// tool's markers.
pub trait Resource {
    fn id(&self) -> &str;
    fn is_marked(&self, role: &str, original: &str) -> bool;
    fn tag(&self, key: &str) -> Option<&str>;
    /// What `super::proof` reads of it.
    fn found(&self) -> super::proof::Found<'_>;
}

impl Resource for Instance {
    fn id(&self) -> &str {
        &self.id
    }
    fn found(&self) -> super::proof::Found<'_> {
        super::proof::Found {
            name: &self.id,
            tags: &self.tags,
            created: self.created,
        }
    }
    fn tag(&self, key: &str) -> Option<&str> {
        Instance::tag(self, key)
    }
    fn is_marked(&self, role: &str, original: &str) -> bool {
        Instance::is_marked(self, role, original)
    }
}

impl Resource for Cluster {
    fn id(&self) -> &str {
        &self.id
    }
    fn found(&self) -> super::proof::Found<'_> {
        super::proof::Found {
            name: &self.id,
            tags: &self.tags,
            created: self.created,
        }
    }
    fn tag(&self, key: &str) -> Option<&str> {
        Cluster::tag(self, key)
    }
    fn is_marked(&self, role: &str, original: &str) -> bool {
        Cluster::is_marked(self, role, original)
    }
}

/// One resource of the target (an instance of its tree, or its cluster), by its original
/// name, with what stands for it now.
#[derive(Debug)]
pub struct Node<R = Instance> {
    pub name: String,
    pub parent: Option<String>,
    pub children: Vec<String>,
    /// The resource with the old data: `name` itself, or `old-name` once retired.
    pub original: Option<R>,
    /// The clone: `temp-name`, or `name` itself once swapped in.
    pub replacement: Option<R>,
    /// What the clone's name begins with: `temp-` for a refresh, the prefix for a copy.
    pub clone_prefix: String,
}

/// Which resources stand for `target` now, found by `get` under the target's three names: the
/// original (the target, or old-target marked as its retiree) and the clone (temp-target, or
/// the target once swapped in, marked as its clone).
pub fn stand_ins<'a, R: Resource>(
    target: &str,
    get: impl Fn(&str) -> Option<&'a R>,
) -> (Option<&'a R>, Option<&'a R>) {
    let is_clone = |r: &R| r.is_marked(tags::ROLE_TEMP, target);
    let at_target = get(target);
    let original = match at_target {
        Some(t) if !is_clone(t) => Some(t),
        _ => get(&format!("{OLD_PREFIX}{target}")).filter(|o| o.is_marked(tags::ROLE_OLD, target)),
    };
    let clone = match at_target {
        Some(t) if is_clone(t) => Some(t),
        _ => get(&format!("{TEMP_PREFIX}{target}")).filter(|c| is_clone(c)),
    };
    (original, clone)
}

impl<R: Resource> Node<R> {
    /// The clone's name: `temp-name` (a refresh), or the copy's prefix and the name.
    pub fn temp(&self) -> String {
        format!("{}{}", self.clone_prefix, self.name)
    }
    pub fn old(&self) -> String {
        format!("{OLD_PREFIX}{}", self.name)
    }
    /// Where the target's own attributes are read from: the original while it exists,
    /// otherwise the clone that was built with them.
    pub fn attributes(&self) -> &R {
        self.original
            .as_ref()
            .or(self.replacement.as_ref())
            .expect("a node is built from a resource")
    }
    pub fn swapped(&self) -> bool {
        self.replacement
            .as_ref()
            .is_some_and(|c| c.id() == self.name)
    }
    pub fn retired(&self) -> bool {
        self.original.as_ref().is_none_or(|o| o.id() != self.name)
    }
}

/// The original target tree, as logical nodes, parents first.
///
/// Two trees may stand for it: the original one (rooted at the target, or at old-target once
/// retired) and the clone (rooted at temp-target, or at the target once swapped in). The
/// original is whole until cleanup starts, and the clone is whole by then, so the larger of
/// the two has the shape.
pub fn target_nodes(obs: &Observed, target: &str) -> Result<Vec<Node>, MitosisError> {
    let target_inst = obs.get(target);
    let (original_root, clone_root) = stand_ins(target, |id| obs.get(id));
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
            clone_prefix: TEMP_PREFIX.to_string(),
        });
    }
    Ok(nodes)
}
