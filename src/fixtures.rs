//! Hand-built observed states for tests and examples: realistic instances without AWS.

use crate::observed::{AccountInfo, Instance, Membership, Observed};

pub fn account() -> AccountInfo {
    AccountInfo {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
    }
}

/// A standalone primary with distinctive attributes derived from its name.
pub fn primary(id: &str, engine: &str, vpc: &str) -> Instance {
    let n = id.len() as i32;
    Instance {
        id: id.into(),
        arn: account().arn(&format!("db:{id}")),
        resource_id: Some(format!("db-{id}")),
        status: "available".into(),
        engine: engine.into(),
        engine_version: if engine == "mysql" { "8.0.35" } else { "16.3" }.into(),
        class: format!("db.t3.size{n}"),
        address: Some(format!("{id}.abc.us-east-1.rds.amazonaws.com")),
        port: Some(5000 + n),
        storage_type: Some("gp3".into()),
        iops: None,
        multi_az: n % 2 == 0,
        publicly_accessible: false,
        auto_minor_version_upgrade: true,
        copy_tags_to_snapshot: n % 3 == 0,
        processor_features: Vec::new(),
        vpc_security_groups: vec![
            Membership::new(&format!("sg-{id}"), "active"),
            Membership::new("sg-leaving", "removing"),
        ],
        option_groups: vec![Membership::new(&format!("og-{id}"), "in-sync")],
        parameter_groups: vec![Membership::new(&format!("pg-{id}"), "in-sync")],
        iam_auth: n % 2 == 1,
        cloudwatch_logs_exports: vec!["postgresql".into()],
        performance_insights: n % 2 == 0,
        performance_insights_kms_key_id: None,
        performance_insights_retention: Some(7),
        monitoring_interval: Some(60),
        monitoring_role_arn: Some("arn:aws:iam::123456789012:role/rds-monitoring".into()),
        subnet_group: Some(format!("{vpc}-subnets")),
        vpc_id: Some(format!("vpc-{vpc}")),
        backup_retention: 7,
        backup_window: Some(format!("0{}:00-0{}:30", n % 9, n % 9)),
        maintenance_window: Some(format!("sun:0{}:00-sun:0{}:30", n % 9, n % 9)),
        deletion_protection: false,
        storage_encrypted: true,
        kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/prod".into()),
        replica_source: None,
        replicas: Vec::new(),
        cluster: None,
        pending_modifications: Vec::new(),
        tags: [("env".to_string(), id.to_string())].into_iter().collect(),
    }
}

/// A read replica of `parent`, linked both ways.
pub fn add_replica(obs: &mut Observed, id: &str, parent: &str) {
    let p = obs.instances.get_mut(parent).expect("parent exists");
    p.replicas.push(id.into());
    let engine = p.engine.clone();
    let vpc = p.vpc_id.clone();
    let subnet = p.subnet_group.clone();
    let mut r = primary(id, &engine, "x");
    r.vpc_id = vpc;
    r.subnet_group = subnet;
    r.replica_source = Some(parent.into());
    r.backup_retention = 0;
    obs.instances.insert(id.into(), r);
}

pub fn state(instances: Vec<Instance>) -> Observed {
    Observed::new(instances, Vec::new(), account())
}

/// prod -> prod-replica and demo -> demo-replica, in one VPC, PostgreSQL.
pub fn two_pairs() -> Observed {
    let mut obs = state(vec![
        primary("prod", "postgres", "shared"),
        primary("demo", "postgres", "shared"),
    ]);
    add_replica(&mut obs, "prod-replica", "prod");
    add_replica(&mut obs, "demo-replica", "demo");
    obs
}
