//! Property tests over random source and target trees, both paths, random interruptions.
//!
//! The oracle is `predict`: the state the plan produces must have the target's names, shape and
//! carried attributes; the source tree must be untouched; only old-* the run retired are
//! deleted; and replanning after any prefix of the plan must lead to the same end state.

use proptest::prelude::*;
use stack_mitosis::fixtures::{account, primary};
use stack_mitosis::observed::Snapshot;
use stack_mitosis::observed::{tags, Instance, Observed, OLD_PREFIX, TEMP_PREFIX};
use stack_mitosis::plan::{plan, predict, ClonePath, Op, PlanRequest};

#[derive(Debug, Clone)]
struct Case {
    engine: &'static str,
    source_parents: Vec<usize>,
    target_parents: Vec<usize>,
    same_vpc: bool,
    protected: Vec<bool>,
    retention: Vec<i32>,
    interrupt_at: usize,
}

/// A tree as a list where entry i (i >= 1) is the index of node i's parent, always < i.
fn tree(max: usize) -> impl Strategy<Value = Vec<usize>> {
    (1..=max).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                if i == 0 {
                    Just(0).boxed()
                } else {
                    (0..i).boxed()
                }
            })
            .collect::<Vec<_>>()
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just("postgres"), Just("mysql")],
        tree(4),
        tree(6),
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 6),
        proptest::collection::vec(0..8i32, 6),
        0..64usize,
    )
        .prop_map(|(engine, s, t, same_vpc, protected, retention, k)| Case {
            engine,
            source_parents: s,
            target_parents: t,
            same_vpc,
            protected,
            retention,
            interrupt_at: k,
        })
}

fn name(prefix: &str, i: usize) -> String {
    if i == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}-r{i}")
    }
}

fn build(c: &Case) -> Observed {
    let mut obs = Observed::new(Vec::new(), Vec::new(), account());
    let vpc_t = if c.same_vpc { "shared" } else { "demo" };
    for (prefix, parents, vpc) in [
        ("src", &c.source_parents, "shared"),
        ("tgt", &c.target_parents, vpc_t),
    ] {
        for (i, p) in parents.iter().enumerate() {
            let id = name(prefix, i);
            let mut inst = primary(&id, c.engine, vpc);
            if prefix == "tgt" {
                inst.deletion_protection = c.protected[i];
                let has_children = parents.iter().skip(1).any(|q| *q == i) && i != 0;
                inst.backup_retention = if i == 0 || has_children {
                    c.retention[i].max(1)
                } else {
                    c.retention[i]
                };
            }
            if i > 0 {
                let parent = name(prefix, *p);
                inst.replica_source = Some(parent.clone());
                obs.instances
                    .get_mut(&parent)
                    .unwrap()
                    .replicas
                    .push(id.clone());
            }
            obs.instances.insert(id, inst);
        }
    }
    obs.snapshots.push(Snapshot {
        id: "rds:src-1".into(),
        arn: account().arn("snapshot:rds:src-1"),
        instance_id: "src".into(),
        status: "available".into(),
        kind: "automated".into(),
        created: Some(1),
        vpc_id: Some("vpc-shared".into()),
        tags: Default::default(),
    });
    obs
}

fn request(run: &str) -> PlanRequest {
    PlanRequest {
        restart: Some("true".into()),
        // Some targets have deletion protection on: replaced on purpose.
        allow_protected_target: true,
        ..PlanRequest::new("src", "tgt", run)
    }
}

/// The attributes a refresh promises to keep, as a comparable tuple.
fn carried(i: &Instance, with_subnet: bool) -> String {
    format!(
        "{} {:?} {:?} {:?} {} {} {} {} {:?} {:?} {:?} {:?} {} {:?} {} {:?} {:?} {:?} {:?} {} {:?} {:?}",
        i.class, i.port, i.storage_type, i.iops, i.multi_az, i.publicly_accessible,
        i.auto_minor_version_upgrade, i.copy_tags_to_snapshot, i.processor_features,
        i.active_security_groups(), i.option_group(), i.parameter_group(), i.iam_auth,
        i.cloudwatch_logs_exports, i.performance_insights, i.monitoring_interval,
        i.monitoring_role_arn, i.backup_window, i.maintenance_window, i.deletion_protection,
        i.tags, if with_subnet { i.subnet_group.clone() } else { None },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_refresh_keeps_the_target_and_never_touches_the_source(c in case()) {
        let before = build(&c);
        let p = plan(&before, &request("run1")).unwrap();
        prop_assert_eq!(p.path, if c.same_vpc { ClonePath::Replica } else { ClonePath::Snapshot });
        let source_tree = before.tree("src");

        let mut state = before.clone();
        for step in p.pending() {
            // No step changes an instance of the source tree.
            prop_assert!(!(source_tree.contains(&step.resource) && step.op.mutates_resource()),
                "{} acts on the source tree", step.id);
            // Nothing is deleted but an old-* this run retired.
            if step.op.action() == "DeleteDBInstance" {
                let victim = state.get(&step.resource).unwrap();
                let original = step.resource.strip_prefix(OLD_PREFIX).unwrap();
                prop_assert!(victim.is_marked(tags::ROLE_OLD, original));
                prop_assert_eq!(victim.tag(tags::RUN), Some("run1"));
            }
            predict(&mut state, step).map_err(TestCaseError::fail)?;
        }

        // The source tree is exactly as it was.
        for id in &source_tree {
            prop_assert_eq!(state.get(id), before.get(id));
        }
        // The target tree has its names, shape and attributes; no temp-* or old-* remain.
        let target_tree = before.tree("tgt");
        prop_assert_eq!(state.tree("tgt"), target_tree.clone());
        for id in &target_tree {
            let (was, now) = (before.get(id).unwrap(), state.get(id).unwrap());
            prop_assert_eq!(before.parent(id), state.parent(id));
            let root_restored = id == "tgt" && !c.same_vpc;
            let mut expect = was.clone();
            if !before.children(id).is_empty() && id != "tgt" {
                expect.backup_retention = expect.backup_retention.max(1);
            }
            prop_assert_eq!(carried(now, root_restored), carried(&expect, root_restored));
            prop_assert_eq!(now.backup_retention, expect.backup_retention, "{}", id);
        }
        prop_assert!(state.instances.keys().all(|k| !k.starts_with(TEMP_PREFIX) && !k.starts_with(OLD_PREFIX)));
        prop_assert_eq!(state.instances.len(), before.instances.len());

        // The IAM policy allows no mutation of the source tree except as the replication or
        // snapshot source, and deletes only old-*.
        let policy = stack_mitosis::iam::policy(&p, &account());
        for st in policy["Statement"].as_array().unwrap() {
            let action = st["Action"][0].as_str().unwrap();
            if action.starts_with("rds:Describe") || action == "rds:ListTagsForResource" {
                continue;
            }
            for r in st["Resource"].as_array().unwrap() {
                let r = r.as_str().unwrap();
                let id = r.rsplit_once(":db:").map(|(_, id)| id);
                if let Some(id) = id.filter(|id| source_tree.iter().any(|s| s == id)) {
                    prop_assert!(
                        ["rds:CreateDBInstanceReadReplica", "rds:CreateDBSnapshot"].contains(&action),
                        "{} on source-tree {}", action, id
                    );
                }
                if action == "rds:DeleteDBInstance" {
                    prop_assert!(id.is_some_and(|id| id.starts_with(OLD_PREFIX)), "delete on {}", r);
                }
            }
        }

        // Interrupted after any prefix, the rerun finishes in the same state.
        let k = c.interrupt_at % (p.steps.len() + 1);
        let mut mid = before.clone();
        for step in &p.steps[..k] {
            predict(&mut mid, step).map_err(TestCaseError::fail)?;
        }
        let again = plan(&mid, &request("run2")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // The lock's steps (the first, the last, and its move to the new root) belong to a
        // run, not to the state. Once only the release is left the refresh is complete, and a rerun is
        // a new refresh.
        if k < p.steps.len() - 1 {
            prop_assert_eq!(again.run_id.as_str(), if k <= 1 { "run2" } else { "run1" });
            let done_by_state = |s: &&stack_mitosis::plan::Step| {
                !matches!(s.op, Op::Command(_) | Op::Lock(_) | Op::Guard(_))
            };
            for step in p.steps[..k].iter().filter(done_by_state) {
                prop_assert!(again.step(&step.id.to_string()).is_none_or(|s| s.skip.is_some()), "{} not skipped after {} steps", step.id, k);
            }
            let mut end = mid.clone();
            for step in again.pending() {
                predict(&mut end, step).map_err(TestCaseError::fail)?;
            }
            prop_assert_eq!(end, state);
        }
    }
}
