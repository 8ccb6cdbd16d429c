//! Hand-built observed states for tests and examples: realistic instances without AWS.

use crate::observed::{AccountInfo, Cluster, ClusterMember, Instance, Membership, Observed};

/// The latest restorable time of every fixture source (epoch seconds).
pub const LATEST_RESTORABLE: i64 = 1_795_000_000;

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
        // 2026-11-17 about midday: any moment of the week before is restorable.
        latest_restorable: Some(LATEST_RESTORABLE),
        created: Some(LATEST_RESTORABLE - 400 * 86_400),
        managed_secret: None,
        promotion_tier: None,
        availability_zone: None,
        ca_certificate: None,
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

/// An Aurora cluster with distinctive settings derived from its name, and its members
/// (`members`: identifier and class; the first is the writer), in `vpc`.
pub fn cluster(
    id: &str,
    engine: &str,
    vpc: &str,
    members: &[(&str, &str)],
) -> (Cluster, Vec<Instance>) {
    let n = id.len() as i32;
    let mysql = engine == "aurora-mysql";
    let cluster = Cluster {
        id: id.into(),
        arn: account().arn(&format!("cluster:{id}")),
        resource_id: Some(format!("cluster-{id}")),
        status: "available".into(),
        engine: engine.into(),
        engine_version: if mysql {
            "8.0.mysql_aurora.3.05.2"
        } else {
            "16.2"
        }
        .into(),
        engine_mode: Some("provisioned".into()),
        members: members
            .iter()
            .enumerate()
            .map(|(i, (m, _))| ClusterMember {
                id: m.to_string(),
                writer: i == 0,
            })
            .collect(),
        address: Some(format!("{id}.cluster-abc.us-east-1.rds.amazonaws.com")),
        port: Some(if mysql { 3306 } else { 5432 }),
        subnet_group: Some(format!("subnets-{vpc}")),
        vpc_security_groups: vec![Membership::new(&format!("sg-{id}"), "active")],
        parameter_group: Some(format!("cpg-{id}")),
        backup_retention: 1 + n % 7,
        backup_window: Some("03:00-03:30".into()),
        maintenance_window: Some("sun:05:00-sun:05:30".into()),
        iam_auth: n % 2 == 0,
        cloudwatch_logs_exports: if mysql {
            vec!["error".into()]
        } else {
            vec!["postgresql".into()]
        },
        deletion_protection: n % 3 == 0,
        copy_tags_to_snapshot: true,
        backtrack_window: mysql.then_some(3600),
        serverless_v2: None,
        storage_encrypted: true,
        kms_key_id: Some(format!("arn:aws:kms:us-east-1:123456789012:key/key-{id}")),
        global_cluster: None,
        clone_group_id: None,
        managed_secret: None,
        earliest_restorable: Some(LATEST_RESTORABLE - 7 * 86_400),
        latest_restorable: Some(LATEST_RESTORABLE),
        pending_modifications: Vec::new(),
        endpoints: Vec::new(),
        created: Some(LATEST_RESTORABLE - 400 * 86_400),
        tags: [("team".to_string(), format!("team-{id}"))].into(),
    };
    let instances = members
        .iter()
        .enumerate()
        .map(|(i, (m, class))| {
            let mut inst = primary(m, engine, vpc);
            inst.class = class.to_string();
            inst.cluster = Some(id.to_string());
            inst.promotion_tier = Some(i as i32);
            inst.availability_zone = Some(format!("us-east-1{}", ["a", "b", "c"][i % 3]));
            inst.backup_retention = cluster.backup_retention;
            inst.deletion_protection = false;
            inst.multi_az = false;
            inst
        })
        .collect();
    (cluster, instances)
}
