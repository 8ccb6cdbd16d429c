//! The three flight-plan formats and the IAM policy, pinned with snapshots.

use stack_mitosis::fixtures::{account, two_pairs};
use stack_mitosis::plan::{plan, predict, Plan, PlanRequest};
use stack_mitosis::render::{plan_json, plan_markdown, plan_text};
use stack_mitosis::schema::PlanDoc;

fn example() -> Plan {
    let mut obs = two_pairs();
    obs.instances.get_mut("demo").unwrap().deletion_protection = true;
    let req = PlanRequest {
        restart: Some("kubectl rollout restart deploy/app".into()),
        // demo has deletion protection on: replaced on purpose, and the plan says so first.
        allow_protected_target: true,
        ..PlanRequest::new("prod", "demo", "20261121T030000Z")
    };
    let full = plan(&obs, &req).unwrap();
    // Half-way through the clone (after the lock and the root clone's three steps), so
    // skipped steps show too.
    for step in &full.steps[..4] {
        predict(&mut obs, step).unwrap();
    }
    plan(&obs, &req)
        .unwrap()
        .with_eta(&stack_mitosis::plan::LatencyModel::default())
}

#[test]
fn text_format() {
    insta::assert_snapshot!(plan_text(&example()));
}

#[test]
fn markdown_format() {
    insta::assert_snapshot!(plan_markdown(&example()));
}

#[test]
fn json_format() {
    let json = plan_json(&example());
    let doc: PlanDoc = serde_json::from_str(&json).unwrap();
    assert_eq!(doc.version, 1);
    insta::assert_json_snapshot!(doc, { ".run_id" => "[run]" });
}

#[test]
fn iam_policy() {
    let policy = stack_mitosis::iam::policy(&example(), &account());
    insta::assert_json_snapshot!(policy);
}
