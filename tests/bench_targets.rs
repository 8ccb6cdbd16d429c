//! The performance targets, checked on the simulator in virtual time (deterministic: no wall
//! clock involved). The benchmark (`cargo run --example bench`) prints the same figures.

use stack_mitosis::plan::LatencyModel;
use stack_mitosis::sim::bench::{measure, shapes};

#[test]
fn every_shape_meets_the_targets() {
    let model = LatencyModel::default();
    let tick = 5.0;
    let mut cluster_paths = Vec::new();
    for shape in shapes() {
        let f = measure(&shape, &model);
        let ratio = f.executor.makespan_seconds / f.critical_path_seconds;
        assert!(
            ratio <= 1.05,
            "{}: makespan {ratio:.3} x the critical path",
            f.shape
        );
        assert!(
            ratio >= 1.0,
            "{}: faster than the lower bound: the bound is wrong",
            f.shape
        );
        let window = f.executor.longest_swap_window_seconds;
        if shape.copy {
            // A copy takes nothing out of service.
            assert_eq!(window, 0.0, "{}", f.shape);
            assert_eq!(f.expected_downtime_seconds, 0.0, "{}", f.shape);
            continue;
        }
        assert!(
            window <= 2.0 * model.rename + tick,
            "{}: swap window {window}s",
            f.shape
        );
        assert!(
            window >= 2.0 * model.rename,
            "{}: swap window {window}s below two renames",
            f.shape
        );
        assert!(
            f.executor.describes_per_minute <= 12.0,
            "{}: {} describes/min",
            f.shape,
            f.executor.describes_per_minute
        );
        assert!(
            (f.expected_downtime_seconds - 2.0 * model.rename).abs() < 1.0,
            "{}",
            f.shape
        );
        if shape.is_cluster() && !shape.parents.is_empty() {
            cluster_paths.push((f.shape.clone(), f.critical_path_seconds));
        }
        if f.shape == "primary + 3" {
            let speedup = f.sequential.makespan_seconds / f.executor.makespan_seconds;
            assert!(
                speedup >= 2.0,
                "only {speedup:.2}x faster than one step at a time"
            );
        }
    }
    // An Aurora refresh's critical path is one clone and one wave of members, whatever the
    // number of readers (and the data size, which the clone does not copy).
    assert!(cluster_paths.len() >= 2);
    for (shape, path) in &cluster_paths {
        assert_eq!(*path, cluster_paths[0].1, "{shape}");
    }
}
