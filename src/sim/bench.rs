//! The benchmark: refreshes of given tree shapes on the simulator, measured in virtual time.

use super::SimRds;
use crate::exec::{ExecConfig, Executor, PollSettings, Silent};
use crate::fixtures::{add_replica, cluster, primary, state};
use crate::observed::Observed;
use crate::plan::{estimate, plan, LatencyModel, OnFailure, PlanRequest};
use serde::Serialize;
use std::time::Duration;

/// A target tree shape: entry i is the parent index of replica i+1 (0 is the primary). For an
/// Aurora engine, the target is a cluster with a writer and one reader per entry.
#[derive(Debug, Clone)]
pub struct Shape {
    pub name: &'static str,
    pub engine: &'static str,
    pub parents: Vec<usize>,
    /// A throwaway copy like the target tree (`copy`) instead of a refresh.
    pub copy: bool,
}

impl Shape {
    pub fn is_cluster(&self) -> bool {
        self.engine.starts_with("aurora")
    }
}

pub fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "primary only",
            engine: "postgres",
            parents: vec![],
            copy: false,
        },
        Shape {
            name: "primary + 1",
            engine: "postgres",
            parents: vec![0],
            copy: false,
        },
        Shape {
            name: "primary + 3",
            engine: "postgres",
            parents: vec![0, 0, 0],
            copy: false,
        },
        Shape {
            name: "mysql cascade depth 3",
            engine: "mysql",
            parents: vec![0, 1, 2],
            copy: false,
        },
        Shape {
            name: "primary + 10",
            engine: "postgres",
            parents: vec![0; 10],
            copy: false,
        },
        Shape {
            name: "aurora writer only",
            engine: "aurora-postgresql",
            parents: vec![],
            copy: false,
        },
        Shape {
            name: "aurora writer + 2",
            engine: "aurora-postgresql",
            parents: vec![0, 0],
            copy: false,
        },
        Shape {
            name: "aurora-mysql writer + 5",
            engine: "aurora-mysql",
            parents: vec![0; 5],
            copy: false,
        },
        Shape {
            name: "copy of primary + 3",
            engine: "postgres",
            parents: vec![0, 0, 0],
            copy: true,
        },
        Shape {
            name: "aurora copy writer + 2",
            engine: "aurora-postgresql",
            parents: vec![0, 0],
            copy: true,
        },
    ]
}

pub fn environment(shape: &Shape) -> Observed {
    if shape.is_cluster() {
        let readers: Vec<String> = (1..=shape.parents.len())
            .map(|i| format!("demo-r{i}"))
            .collect();
        let mut members = vec![("demo-w", "db.t4g.medium")];
        members.extend(readers.iter().map(|r| (r.as_str(), "db.t4g.large")));
        let (prod, mut instances) = cluster(
            "prod",
            shape.engine,
            "shared",
            &[("prod-1", "db.r6g.4xlarge")],
        );
        let (demo, demo_members) = cluster("demo", shape.engine, "shared", &members);
        instances.extend(demo_members);
        return Observed::new(instances, Vec::new(), crate::fixtures::account())
            .with_clusters(vec![prod, demo]);
    }
    let mut obs = state(vec![
        primary("prod", shape.engine, "shared"),
        primary("demo", shape.engine, "shared"),
    ]);
    for (i, p) in shape.parents.iter().enumerate() {
        let parent = if *p == 0 {
            "demo".to_string()
        } else {
            format!("demo-r{p}")
        };
        add_replica(&mut obs, &format!("demo-r{}", i + 1), &parent);
        // A replica with replicas of its own has backups (RDS requires it).
        if shape.parents.contains(&(i + 1)) {
            obs.instances
                .get_mut(&format!("demo-r{}", i + 1))
                .unwrap()
                .backup_retention = 1;
        }
    }
    obs
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub makespan_seconds: f64,
    pub longest_swap_window_seconds: f64,
    pub api_calls: u64,
    pub describe_calls: u64,
    pub describes_per_minute: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub shape: String,
    pub steps: usize,
    pub critical_path_seconds: f64,
    pub expected_downtime_seconds: f64,
    pub executor: Run,
    pub sequential: Run,
}

/// The executor as shipped: concurrent, adaptive polling (5 s to 60 s).
pub fn concurrent_options(latency: &LatencyModel) -> ExecConfig {
    ExecConfig {
        poll: PollSettings {
            min_tick: Duration::from_secs(5),
            max_tick: Duration::from_secs(60),
            step_timeout: Duration::from_secs(6 * 3600),
        },
        hook_timeout: Duration::from_secs(60),
        hook_env: Vec::new(),
        rollback_timeout: Duration::from_secs(6 * 3600),
        until: None,
        max_replica_lag: 30.0,
        // The sequential baseline has no outage bound (the original tool had none).
        swap_timeout: Duration::from_secs(24 * 3600),
        on_failure: OnFailure::Rollback,
        concurrency: 16,
        latency: latency.clone(),
        lock: crate::exec::LockSettings {
            ttl: Duration::from_secs(300),
            wait: Duration::from_secs(360),
            settle: Duration::from_secs(1),
            force_unlock: None,
            clock: crate::refresh::now_epoch,
        },
    }
}

/// The baseline: one step at a time, looking every 60 s.
pub fn sequential_options(latency: &LatencyModel) -> ExecConfig {
    ExecConfig {
        poll: PollSettings {
            min_tick: Duration::from_secs(60),
            max_tick: Duration::from_secs(60),
            step_timeout: Duration::from_secs(24 * 3600),
        },
        concurrency: 1,
        ..concurrent_options(latency)
    }
}

fn request(shape: &Shape) -> PlanRequest {
    let mut req = PlanRequest::new("prod", "demo", "bench");
    if shape.copy {
        req.copy = Some(crate::plan::CopySpec {
            prefix: "pr-1-".into(),
            expires: None,
        });
    }
    req
}

/// Runs one refresh of `shape` on the simulator in virtual time.
pub fn run(shape: &Shape, latency: &LatencyModel, config: ExecConfig) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let env = environment(shape);
        let p = plan(&env, &request(shape)).expect("plan");
        let sim = SimRds::new(env, latency.clone());
        let start = tokio::time::Instant::now();
        let outcome = Executor::new(&sim, config, &Silent).apply(&p).await;
        assert!(
            outcome.error.is_none(),
            "{:?}",
            outcome.error.map(|e| e.to_string())
        );
        let makespan = start.elapsed().as_secs_f64();
        let calls = sim.calls();
        Run {
            makespan_seconds: makespan,
            longest_swap_window_seconds: sim
                .swap_windows()
                .values()
                .map(Duration::as_secs_f64)
                .fold(0.0, f64::max),
            api_calls: calls.values().sum(),
            describe_calls: calls.get("DescribeDBInstances").copied().unwrap_or(0),
            describes_per_minute: sim.describes_per_minute(),
        }
    })
}

pub fn measure(shape: &Shape, latency: &LatencyModel) -> Figures {
    let env = environment(shape);
    let p = plan(&env, &request(shape)).expect("plan");
    let eta = estimate(&p, latency);
    Figures {
        shape: shape.name.to_string(),
        steps: p.steps.len(),
        critical_path_seconds: eta.duration_seconds,
        expected_downtime_seconds: eta.downtime_seconds,
        executor: run(shape, latency, concurrent_options(latency)),
        sequential: run(shape, latency, sequential_options(latency)),
    }
}
