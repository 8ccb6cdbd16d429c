//! The user's commands (`--before-swap`, `--restart`): run with `bash -c`, output streamed live
//! to stderr, a timeout, and the exit status checked.

use super::ExecError;
use std::process::Stdio;
use std::time::Duration;

/// Runs `command`; `env` names the instance it concerns and its endpoint.
pub async fn run_hook(
    name: &str,
    command: &str,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<(), ExecError> {
    tracing::info!(hook = name, "running {name} command: {command}");
    let mut child = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        // The hook's output is part of the log, never of the results on stdout.
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::from(std::io::stderr()))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ExecError::Hook {
            name: name.to_string(),
            message: format!("cannot start bash: {e}"),
        })?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(ExecError::Hook {
            name: name.to_string(),
            message: match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            },
        }),
        Ok(Err(e)) => Err(ExecError::Hook {
            name: name.to_string(),
            message: format!("could not be waited for: {e}"),
        }),
        Err(_) => {
            let _ = child.kill().await;
            Err(ExecError::Hook {
                name: name.to_string(),
                message: format!(
                    "did not finish within {}s and was killed",
                    timeout.as_secs()
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exit_status_and_timeout_are_checked() {
        let env = vec![("STACK_MITOSIS_TARGET".to_string(), "demo".to_string())];
        let t = Duration::from_secs(10);
        assert!(
            run_hook("restart", "test \"$STACK_MITOSIS_TARGET\" = demo", &env, t)
                .await
                .is_ok()
        );
        let err = run_hook("restart", "exit 3", &env, t).await.unwrap_err();
        assert!(err.to_string().contains("exited with status 3"), "{err}");
        let err = run_hook("restart", "sleep 5", &env, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
    }
}
