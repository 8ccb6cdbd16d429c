//! The flow the command line and the Action share: read the account and plan; take the lock,
//! execute, release. The clock is read here, at the edge, for run ids and lock expiry.

use crate::aws::{observe, Rds};
use crate::error::MitosisError;
use crate::exec::{ApplyOptions, ExecError, Executor, LockSettings, Reporter};
use crate::model::Observed;
use crate::plan::{plan, LatencyModel, Plan, PlanRequest};
use crate::schema::RunReport;

/// Reads a latency model file, or the defaults.
pub fn load_model(path: Option<&std::path::Path>) -> Result<LatencyModel, MitosisError> {
    let Some(path) = path else {
        return Ok(LatencyModel::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        MitosisError::bad_input(format!(
            "cannot read the latency model {}: {e}",
            path.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        MitosisError::bad_input(format!(
            "the latency model {} is not valid: {e} (fields are seconds, see the README)",
            path.display()
        ))
    })
}

/// Reads the account and plans, with the expected duration under `model`: the one path
/// `plan`, `apply`, `iam-policy` and the Action share.
pub async fn observe_and_plan(
    api: &dyn Rds,
    request: &PlanRequest,
    model: &LatencyModel,
) -> Result<(Observed, Plan), MitosisError> {
    let observed = observe(api, &request.source, &request.target).await?;
    let plan = plan(&observed, request)?.with_eta(model);
    Ok((observed, plan))
}

/// How `apply` runs, from the command line or the Action's inputs.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    pub options: ApplyOptions,
    pub lock: LockSettings,
}

/// Takes the lock, runs the plan, releases the lock. The report is there whenever the run
/// started; the error says how it ended otherwise.
pub async fn execute(
    api: &dyn Rds,
    plan: &Plan,
    settings: &ApplySettings,
    reporter: &dyn Reporter,
) -> (Option<RunReport>, Result<(), MitosisError>) {
    if plan.pending().next().is_none() {
        return (None, Ok(()));
    }
    if let Err(e) =
        crate::exec::lock::acquire(api, &plan.target, &plan.run_id, &settings.lock).await
    {
        return (None, Err(exec_error(e)));
    }
    let outcome = Executor::new(api, settings.options.clone(), reporter)
        .apply(plan)
        .await;
    if let Err(e) = crate::exec::lock::release(api, &plan.target, &plan.run_id).await {
        tracing::warn!("could not release the lock: {e}");
    }
    let result = match outcome.error {
        None => Ok(()),
        Some(e) if outcome.report.result == "rolled-back" => {
            Err(MitosisError::RolledBack(e.to_string()))
        }
        Some(e) => Err(MitosisError::Stopped(format!(
            "{}; rerun the same command to resume",
            outcome
                .report
                .error
                .clone()
                .unwrap_or_else(|| e.to_string())
        ))),
    };
    (Some(outcome.report), result)
}

fn exec_error(e: ExecError) -> MitosisError {
    match e {
        ExecError::Locked(m) => MitosisError::Locked(m),
        ExecError::Aws(e) => e,
        other => MitosisError::Stopped(other.to_string()),
    }
}

pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new run id from the clock: sortable and readable in tags (`20261121T224300Z-1a2b`). The
/// suffix tells apart two runs started in the same second.
pub fn new_run_id() -> String {
    let secs = now_epoch();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let suffix = (nanos ^ std::process::id().wrapping_mul(2_654_435_761)) & 0xffff;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{suffix:04x}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
