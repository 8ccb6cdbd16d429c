//! The refresh benchmark: each tree shape refreshed on the simulated RDS (virtual time, the
//! latency model's durations), by this executor and by a sequential baseline that runs one
//! step at a time and looks every 60 s. Prints a table, then one JSON line with the figures.
//!
//! `cargo run --example bench [-- --latency-model FILE]`

use stack_mitosis::plan::LatencyModel;
use stack_mitosis::sim::bench::{measure, shapes};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = match args.iter().position(|a| a == "--latency-model") {
        Some(i) => stack_mitosis::refresh::load_latency(args.get(i + 1).map(std::path::Path::new))
            .unwrap_or_else(|e| {
                eprintln!("error: {e}");
                std::process::exit(2)
            }),
        None => LatencyModel::default(),
    };
    let figures: Vec<_> = shapes().iter().map(|s| measure(s, &model)).collect();
    let min = |s: f64| s / 60.0;
    println!(
        "{:<22} {:>6} {:>9} {:>9} {:>7} {:>9} {:>7} {:>10} {:>10} {:>7} {:>7} {:>8}",
        "shape",
        "steps",
        "critical",
        "makespan",
        "ratio",
        "baseline",
        "speed",
        "window",
        "base win",
        "calls",
        "base",
        "desc/min"
    );
    for f in &figures {
        println!(
            "{:<22} {:>6} {:>7.1}m {:>7.1}m {:>7.3} {:>7.1}m {:>6.1}x {:>9.0}s {:>9.0}s {:>7} {:>7} {:>8.1}",
            f.shape,
            f.steps,
            min(f.critical_path_seconds),
            min(f.executor.makespan_seconds),
            f.executor.makespan_seconds / f.critical_path_seconds,
            min(f.sequential.makespan_seconds),
            f.sequential.makespan_seconds / f.executor.makespan_seconds,
            f.executor.longest_swap_window_seconds,
            f.sequential.longest_swap_window_seconds,
            f.executor.api_calls,
            f.sequential.api_calls,
            f.executor.describes_per_minute,
        );
    }
    let swap_bound = model.rename * 2.0 + 5.0;
    println!(
        "targets: makespan <= 1.05 x critical path; >= 2x the baseline on primary + 3; window <= {swap_bound:.0}s (retire + swap-in rename + one 5 s tick, the cluster's and its members' renames in parallel); <= 12 DescribeDBInstances per minute; an Aurora clone's critical path independent of the data size (one clone step)"
    );
    println!(
        "{}",
        serde_json::json!({ "latency_model": model, "swap_window_bound_seconds": swap_bound, "shapes": figures })
    );
}
