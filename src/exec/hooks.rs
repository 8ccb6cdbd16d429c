//! The user's commands (`--before-swap`, `--restart`): run with `bash -c`, output streamed live
//! to stderr, a timeout, and the exit status checked.
//!
//! A hook gets what it needs and no more. It inherits the user's variables (a restart command
//! often calls the AWS CLI with the caller's credentials), but not the tool's own secrets: the
//! Action's GitHub token input, the runner's `ACTIONS_*` tokens (the OIDC request token can mint
//! credentials for any role that trusts the workflow), the webhook URL and the MFA code.
//! `--hook-env NAME` passes one of those on purpose. A hook runs in its own process group, and
//! the whole group is ended on timeout, when the hook's future is dropped, and when the tool
//! is stopped by a signal (`end_all`): no child of a hook outlives the run that started it.

use super::ExecError;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

/// How long a hook's group has between SIGTERM and SIGKILL once its time is up.
const GRACE: Duration = Duration::from_secs(5);

/// Whether the process's variable `name` is kept from hooks unless `--hook-env` names it.
pub fn withheld(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("ACTIONS_")
        || matches!(
            upper.as_str(),
            "INPUT_GITHUB-TOKEN"
                | "INPUT_GITHUB_TOKEN"
                | "INPUT_NOTIFY-URL"
                | "INPUT_NOTIFY_URL"
                | "STACK_MITOSIS_NOTIFY_URL"
                | "STACK_MITOSIS_MFA_CODE"
        )
}

/// The process groups of the hooks running now, for `end_all`.
static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Ends every running hook's process group (SIGKILL): the tool is stopping.
pub fn end_all() {
    if let Ok(groups) = RUNNING.lock() {
        for group in groups.iter() {
            signal_group(*group, libc::SIGKILL);
        }
    }
}

fn signal_group(group: i32, signal: i32) {
    // Group 0 (or less) would be the tool's own group, or every process it may signal.
    if group <= 0 {
        return;
    }
    // SAFETY: killpg only sends a signal; a group that is gone answers ESRCH, which is fine.
    unsafe {
        libc::killpg(group, signal);
    }
}

/// A hook's process group while the hook runs: registered for `end_all`, and killed when
/// dropped before the hook finished (the run was cut short, or the hook's time was up). A hook
/// that finished may leave a process behind on purpose (a daemon it restarted): that one stays.
struct Group {
    id: i32,
    finished: bool,
}

impl Group {
    fn new(id: i32) -> Self {
        if let Ok(mut groups) = RUNNING.lock() {
            groups.insert(id);
        }
        Group {
            id,
            finished: false,
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.finished {
            signal_group(self.id, libc::SIGKILL);
        }
        if let Ok(mut groups) = RUNNING.lock() {
            groups.remove(&self.id);
        }
    }
}

/// Runs `command`; `env` names the instance it concerns and its endpoint; `pass` names the
/// withheld variables the user gives the hook on purpose (`--hook-env`).
pub async fn run_hook(
    name: &str,
    command: &str,
    shown: &str,
    env: &[(String, String)],
    pass: &[String],
    timeout: Duration,
) -> Result<(), ExecError> {
    // Quoted: a command of several lines cannot start a line of the log (where a runner would
    // read `::` as one of its commands).
    tracing::info!(hook = name, "running {name} command: {shown:?}");
    let failed = |message: String| ExecError::Hook {
        name: name.to_string(),
        message,
    };
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c").arg(command);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if withheld(&key) && !pass.iter().any(|p| p == key.as_ref()) {
            cmd.env_remove(key.as_ref());
        }
    }
    let mut child = cmd
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        // The hook's output is part of the log, never of the results on stdout.
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::from(std::io::stderr()))
        // Its own group: ended as a whole, whatever the hook started.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot start bash: {e}")))?;
    let mut group = Group::new(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(0),
    );
    let status = tokio::time::timeout(timeout, child.wait()).await;
    group.finished = matches!(status, Ok(Ok(_)));
    match status {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(failed(match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        })),
        Ok(Err(e)) => Err(failed(format!("could not be waited for: {e}"))),
        Err(_) => {
            // Ask the whole group to stop, then make it.
            signal_group(group.id, libc::SIGTERM);
            if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
            Err(failed(format!(
                "did not finish within {}s and was killed (with every process it started)",
                timeout.as_secs()
            )))
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
        assert!(run_hook(
            "restart",
            "test \"$STACK_MITOSIS_TARGET\" = demo",
            "",
            &env,
            &[],
            t
        )
        .await
        .is_ok());
        let err = run_hook("restart", "exit 3", "", &env, &[], t)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("exited with status 3"), "{err}");
        let err = run_hook(
            "restart",
            "sleep 5",
            "",
            &env,
            &[],
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
    }

    /// Whether the process `pid` still runs: it exists and is not a zombie waiting for its
    /// new parent to reap it.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim().to_string()))
            .is_some_and(|rest| !rest.starts_with('Z'))
    }

    #[tokio::test]
    async fn a_hook_out_of_time_is_ended_with_everything_it_started() {
        let dir = std::env::temp_dir().join(format!("mitosis-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("child");
        // A child in the background (as `app restart &` would be), then a wait for it.
        let command = format!("sleep 60 & echo $! > {}; wait", file.display());
        let err = run_hook(
            "restart",
            &command,
            "",
            &[],
            &[],
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
        let pid: i32 = std::fs::read_to_string(&file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        // The child is gone (reaped by init once killed), not left running.
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !alive(pid)
        });
        assert!(gone, "the hook's child {pid} outlived it");
    }

    #[test]
    fn the_tools_own_secrets_are_withheld() {
        for name in [
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_RUNTIME_TOKEN",
            "INPUT_GITHUB-TOKEN",
            "STACK_MITOSIS_NOTIFY_URL",
            "STACK_MITOSIS_MFA_CODE",
        ] {
            assert!(withheld(name), "{name}");
        }
        for name in ["AWS_ACCESS_KEY_ID", "PATH", "GITHUB_SHA", "DATABASE_URL"] {
            assert!(!withheld(name), "{name}");
        }
    }
}
