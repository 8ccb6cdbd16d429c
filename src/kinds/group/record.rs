//! What a group had before the tool put it in standby, kept in the group's own tags: a rerun or
//! a rollback always knows what to put back.

use std::collections::BTreeMap;

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
}
