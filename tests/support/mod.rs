//! The emulator harness: starts the moto-based emulator on a free loopback port, seeds
//! scenarios, reads its request record, runs the CLI against it, and stops it by PID.

#![allow(dead_code)]

use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `apply` flags for the emulator's compressed time: confirmed, polling every few hundredths
/// of a second, a minute per step at most.
pub const FAST: &[&str] = &[
    "--yes",
    "--poll-interval",
    "0.02",
    "--max-poll-interval",
    "0.05",
    "--step-timeout",
    "60",
];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let p = std::env::var_os("EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "the emulator's Python ({}) is missing: run scripts/setup-emulator (scripts/test does)",
        p.display()
    );
    p
}

pub struct Emulator {
    /// The emulator's process: a child of this one, or forked by the run's zygote.
    process: Process,
    pub endpoint: String,
    port: u16,
}

enum Process {
    Child(Child),
    Forked(i32),
}

/// The servers.json of one PostgreSQL and one MariaDB server (tests/emulator/databases.py):
/// those of `STACK_MITOSIS_TEST_DATABASES` (scripts/test starts one pair for the whole suite),
/// else a pair started once for this test process. That starter holds a pipe from this
/// process and stops both servers (by PID) when the pipe closes, that is when the tests are
/// over.
fn database_servers() -> &'static str {
    static SERVERS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SERVERS.get_or_init(|| {
        if let Some(file) = std::env::var_os("STACK_MITOSIS_TEST_DATABASES") {
            return file.to_string_lossy().into_owned();
        }
        let mut child = Command::new(python())
            .arg(repo().join("tests/emulator/databases.py"))
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the database servers (scripts/setup-databases installs them)");
        let file = first_line(&mut child);
        assert!(
            !file.is_empty(),
            "the database servers did not start: run scripts/setup-databases"
        );
        // The child (and its stdin) live as long as this process.
        std::mem::forget(child);
        file
    })
}

/// The line a helper process prints once it is ready (trimmed; empty if it printed none).
fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read a helper's first line");
    line.trim().to_string()
}

/// A database endpoint's address and port, as the emulator reports it.
pub struct Login<'a> {
    pub address: &'a str,
    pub port: u64,
    pub engine: &'a str,
}

/// Runs `sql` as `admin` with `password` through the real client of the engine (psql or
/// mariadb): its output (tab-separated rows), or the client's error.
pub fn sql(login: &Login, password: &str, sql: &str) -> Result<String, String> {
    let mut cmd = if login.engine.contains("postgres") {
        let mut c = Command::new("psql");
        c.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            "admin",
        ])
        .args([
            "-d",
            "app",
            "-h",
            login.address,
            "-p",
            &login.port.to_string(),
        ])
        .args(["-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10");
        c
    } else {
        let mut c = Command::new("mariadb");
        c.args([
            "--batch",
            "--skip-column-names",
            "-u",
            "admin",
            "-h",
            login.address,
        ])
        .args(["-P", &login.port.to_string(), "-e", sql])
        .env("MYSQL_PWD", password);
        c
    };
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run the database client");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Emulator {
    pub fn start() -> Self {
        Self::launch(&[])
    }

    /// An emulator whose instances and clusters hold real data (tests/emulator/data.py).
    pub fn with_data() -> Self {
        Self::launch(&["--databases", database_servers()])
    }

    /// Runs `query` on an instance (`id`) or a cluster (`cluster:ID` for its writer endpoint,
    /// `reader:ID` for its reader endpoint), through the endpoint the emulator reports.
    pub fn sql(&self, id: &str, password: &str, query: &str) -> Result<String, String> {
        self.sql_in(None, id, password, query)
    }

    /// `sql` in another emulated account (an instance `id` there).
    pub fn sql_in(
        &self,
        account: Option<&str>,
        id: &str,
        password: &str,
        query: &str,
    ) -> Result<String, String> {
        let (address, port, engine) = match id.split_once(':') {
            Some((kind, cluster)) => {
                let c = &self.clusters()[cluster];
                let key = if kind == "reader" {
                    "ReaderEndpoint"
                } else {
                    "Endpoint"
                };
                (c[key].clone(), c["Port"].clone(), c["Engine"].clone())
            }
            None => {
                let all = match account {
                    Some(account) => self.in_account(account, &[]),
                    None => self.describe(),
                };
                let i = &all[id];
                (
                    i["Endpoint"]["Address"].clone(),
                    i["Endpoint"]["Port"].clone(),
                    i["Engine"].clone(),
                )
            }
        };
        let login = Login {
            address: address.as_str().expect("an endpoint address"),
            port: port.as_u64().expect("an endpoint port"),
            engine: engine.as_str().expect("an engine"),
        };
        sql(&login, password, query)
    }

    /// With real data: every real database belongs to a live instance, cluster or snapshot
    /// of the emulator, and no database of its is left on the servers (deletes dropped theirs).
    pub fn assert_no_stray_data(&self) {
        let v: Value = serde_json::from_str(&self.control("/_emulator/data", "")).unwrap();
        assert_eq!(
            v["orphans"],
            Value::Array(vec![]),
            "data of deleted resources: {v}"
        );
        assert_eq!(v["server"], v["owned"], "databases on the servers: {v}");
    }

    fn launch(extra: &[&str]) -> Self {
        let mut args = vec!["--host", "127.0.0.1", "--port", "0", "--scale", "0.01"];
        args.extend_from_slice(extra);
        let (process, line) = match std::env::var_os("STACK_MITOSIS_TEST_EMULATOR") {
            // scripts/run-tests' zygote forks an emulator with moto already imported.
            Some(socket) => {
                let request = serde_json::json!({"args": args, "pid": std::process::id()});
                let mut conn = std::os::unix::net::UnixStream::connect(&socket)
                    .expect("reach the emulator zygote (STACK_MITOSIS_TEST_EMULATOR)");
                writeln!(conn, "{request}").expect("ask the zygote for an emulator");
                let mut line = String::new();
                BufReader::new(conn)
                    .read_line(&mut line)
                    .expect("read the zygote's answer");
                let (line, pid) = line
                    .trim()
                    .rsplit_once(" pid ")
                    .unwrap_or_else(|| panic!("unexpected zygote answer: {line:?}"));
                (Process::Forked(pid.parse().unwrap()), line.to_string())
            }
            None => {
                let mut child = Command::new(python())
                    .arg(repo().join("tests/emulator/server.py"))
                    .args(&args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start the emulator");
                let line = first_line(&mut child);
                (Process::Child(child), line)
            }
        };
        let endpoint = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected emulator output: {line:?}"))
            .to_string();
        let port = endpoint.rsplit(':').next().unwrap().parse().unwrap();
        Emulator {
            process,
            endpoint,
            port,
        }
    }

    /// Creates a scenario (`tests/scenarios/NAME.json`, see seed.py, run by the emulator
    /// itself) and empties the request record.
    pub fn seed(&self, scenario: &str) {
        let path = repo().join(format!("tests/scenarios/{scenario}.json"));
        let body = serde_json::json!({ "scenario": path }).to_string();
        let answer = self.http("POST", "/_emulator/seed", &body);
        assert!(
            answer.contains("\"seeded\""),
            "seeding {scenario} failed: {answer}"
        );
    }

    /// Every AWS action the emulator received since the last seed, in order.
    pub fn actions(&self) -> Vec<String> {
        let v: Value = serde_json::from_str(&self.http("GET", "/_emulator/requests", "")).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect()
    }

    /// The actions that would change something (anything but Describe*/List*/Get*, hook
    /// notes, and the exchange of credentials for a role's).
    pub fn mutating_actions(&self) -> Vec<String> {
        self.actions().into_iter().filter(|a| changes(a)).collect()
    }

    /// The record's changing calls made in `account`.
    pub fn mutating_in(&self, account: &str) -> Vec<Value> {
        self.record()
            .into_iter()
            .filter(|r| r["account"] == account && r.get("fault").is_none())
            .filter(|r| changes(r["action"].as_str().unwrap_or("")))
            .collect()
    }

    /// Every instance with its tags, as DescribeDBInstances reports it (JSON by identifier).
    pub fn describe(&self) -> serde_json::Map<String, Value> {
        self.describe_py(&[])
    }

    /// Every DB cluster with its tags, as DescribeDBClusters reports it (JSON by identifier).
    pub fn clusters(&self) -> serde_json::Map<String, Value> {
        self.describe_py(&["--clusters"])
    }

    /// Every manual DB snapshot with its status and tags (JSON by identifier).
    pub fn snapshots(&self) -> serde_json::Map<String, Value> {
        self.describe_py(&["--snapshots"])
    }

    /// Every S3 bucket's objects: size, ETag, content type, metadata, tags (JSON by bucket,
    /// then key).
    pub fn buckets(&self) -> serde_json::Map<String, Value> {
        self.describe_py(&["--buckets"])
    }

    /// Every Auto Scaling group: min, max, desired, instance states, suspended processes,
    /// tags (JSON by name).
    pub fn groups(&self) -> serde_json::Map<String, Value> {
        self.describe_py(&["--groups"])
    }

    /// `describe`, `clusters` (`--clusters`) or `snapshots` (`--snapshots`) in another
    /// emulated account.
    pub fn in_account(&self, account: &str, what: &[&str]) -> serde_json::Map<String, Value> {
        let mut args = vec!["--account", account];
        args.extend_from_slice(what);
        self.describe_py(&args)
    }

    /// What describe.py reports (run by the emulator itself) with these arguments.
    fn describe_py(&self, extra: &[&str]) -> serde_json::Map<String, Value> {
        let body = serde_json::json!({ "args": extra }).to_string();
        let answer = self.http("POST", "/_emulator/describe", &body);
        match serde_json::from_str(&answer) {
            Ok(Value::Object(m)) => m,
            _ => panic!("unexpected describe output {answer}"),
        }
    }

    /// Runs one of the emulator's own Python checks against it (`tests/emulator/NAME`).
    pub fn python_check(&self, name: &str) -> Output {
        Command::new(python())
            .arg(repo().join("tests/emulator").join(name))
            .args(["--endpoint", &self.endpoint])
            .output()
            .expect("run the check")
    }

    /// The raw request record (actions with parameters, faults, notes).
    pub fn record(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.http("GET", "/_emulator/requests", ""))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// A shell command that adds `note` to the emulator's record (for hooks).
    pub fn note_command(&self, note: &str) -> String {
        format!(
            "{} {} {} {note}",
            python().display(),
            repo().join("tests/emulator/note.py").display(),
            self.endpoint
        )
    }

    /// A shell command that changes the account behind the tool's back (see tamper.py).
    pub fn tamper_command(&self, args: &str) -> String {
        format!(
            "{} {} {} {args}",
            python().display(),
            repo().join("tests/emulator/tamper.py").display(),
            self.endpoint
        )
    }

    pub fn reset(&self) {
        self.http("POST", "/_emulator/reset", "");
    }

    /// The master password an instance or cluster has now (what a login would check).
    pub fn password(&self, id: &str) -> String {
        let v: Value = serde_json::from_str(
            &self.control("/_emulator/password", &format!(r#"{{"id": "{id}"}}"#)),
        )
        .unwrap_or_default();
        v["password"].as_str().unwrap_or_default().to_string()
    }

    /// Empties the request record (as a seed does), so that what follows is checked alone.
    pub fn forget_requests(&self) {
        self.http("DELETE", "/_emulator/requests", "");
    }

    pub fn control(&self, path: &str, body: &str) -> String {
        self.http("POST", path, body)
    }

    /// Clears the faults still to be injected.
    pub fn clear_faults(&self) {
        self.http("DELETE", "/_emulator/faults", "");
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, &[])
    }

    pub fn cli_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stack-mitosis"));
        cmd.args(args);
        self.aws_env(&mut cmd);
        // The test's own variables win over the defaults above.
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        cmd.output().expect("run stack-mitosis")
    }

    /// The environment that points the tool at this emulator, with dummy keys and nothing
    /// from the user's own AWS set-up.
    fn aws_env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null());
    }

    /// Runs the tool on a pseudo-terminal and types `answer` when it asks (output containing
    /// `prompt`): what the terminal showed, and the exit code.
    pub fn cli_on_terminal(&self, args: &[&str], prompt: &str, answer: &str) -> (String, i32) {
        let mut cmd = Command::new(python());
        cmd.arg(repo().join("tests/emulator/terminal.py"))
            .args([prompt, answer, "--"])
            .arg(env!("CARGO_BIN_EXE_stack-mitosis"))
            .args(args);
        self.aws_env(&mut cmd);
        let out = cmd.output().expect("run terminal.py");
        (stdout(&out), out.status.code().unwrap_or(-1))
    }

    /// A minimal HTTP/1.0 client: the harness only ever talks to its own loopback emulator.
    fn http(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the emulator");
        // Seeding a scenario with real rows takes a while.
        s.set_read_timeout(Some(Duration::from_secs(180))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        match &mut self.process {
            Process::Child(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            // The zygote reaps it.
            Process::Forked(pid) => unsafe {
                libc::kill(*pid, libc::SIGKILL);
            },
        }
    }
}

/// Whether an action changes anything.
pub fn changes(action: &str) -> bool {
    !action.starts_with("Describe")
        && !action.starts_with("List")
        && !action.starts_with("Get")
        && !action.starts_with("Head")
        && action != "Note"
        && action != "AssumeRole"
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `apply` with `args` and the emulator's fast flags.
pub fn apply(emu: &Emulator, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut full = vec!["apply"];
    full.extend_from_slice(args);
    full.extend_from_slice(FAST);
    emu.cli_with(&full, env)
}

/// Whether the crash matrices cut a run after every mutating call (`scripts/test --full`, or
/// `STACK_MITOSIS_FULL_MATRIX=1`), or after the first call of each kind (the default).
pub fn full_matrix() -> bool {
    std::env::var("STACK_MITOSIS_FULL_MATRIX").is_ok_and(|v| v == "1")
}

/// Where a crashed run is cut off: after its n-th mutating call, or right after the first
/// mutating call of a kind (its action and the role of what it names: see `call_kind` in
/// tests/emulator/server.py), whatever the order concurrent steps make their calls in.
#[derive(Debug, Clone)]
pub enum Cut {
    After(usize),
    AfterKind(String),
}

impl Cut {
    fn blackout(&self) -> String {
        match self {
            Cut::After(n) => format!("{{\"after\": {n}}}"),
            Cut::AfterKind(kind) => serde_json::json!({ "after_kind": kind }).to_string(),
        }
    }
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cut::After(n) => write!(f, "call {n}"),
            Cut::AfterKind(kind) => write!(f, "the first {kind}"),
        }
    }
}

/// The kinds of mutating call in the record, in the order they first appear.
pub fn call_kinds(record: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    for r in record.iter().filter(|r| r.get("fault").is_none()) {
        if let Some(kind) = r["kind"].as_str() {
            if !kinds.iter().any(|k| k == kind) {
                kinds.push(kind.to_string());
            }
        }
    }
    kinds
}

/// Runs `command` (whole CLI arguments) cut off at each crash point and then again, which must
/// finish: on `scenario` seeded afresh each time, after `setup` (arguments of a command that
/// must succeed first, such as the copy a destroy removes). The crash points are those of
/// `full_matrix`: by default right after the first mutating call of each kind a clean run of
/// `command` makes; in full after every mutating call, until a run is no longer cut off.
/// Before each rerun the dead run's lock is made to lapse at once, but after the first crash
/// point, where the rerun waits for it as it would. `check` gets the emulator, the state
/// before the crashed run, the crash point, and the rerun's output (None when the run was
/// not cut short: cut after its last change that matters, it finished by itself). Returns
/// the number of mutating calls of the clean run for the caller's own checks.
pub fn crash_each(
    emu: &Emulator,
    scenario: &str,
    setup: Option<&[&str]>,
    command: &[&str],
    check: impl Fn(&Emulator, &Map<String, Value>, &Cut, Option<&Output>),
) -> usize {
    let no_retry = [("AWS_MAX_ATTEMPTS", "1")];
    let fresh = || {
        emu.reset();
        emu.seed(scenario);
        if let Some(setup) = setup {
            let out = emu.cli_with(setup, &no_retry);
            assert!(out.status.success(), "setup: {}", stderr(&out));
            emu.forget_requests();
        }
    };
    fresh();
    let out = emu.cli_with(command, &no_retry);
    assert!(out.status.success(), "the clean run: {}", stderr(&out));
    let clean = emu.record();
    let calls = clean
        .iter()
        .filter(|r| r.get("fault").is_none() && r.get("kind").is_some())
        .count();
    let kinds = call_kinds(&clean);
    let full = full_matrix();
    let mut cuts: Vec<Cut> = match full {
        true => Vec::new(),
        false => kinds.iter().cloned().map(Cut::AfterKind).collect(),
    };
    let mut n = 0;
    loop {
        let cut = if full {
            n += 1;
            Cut::After(n)
        } else if cuts.is_empty() {
            return calls;
        } else {
            cuts.remove(0)
        };
        fresh();
        let before = emu.describe();
        emu.control("/_emulator/blackout", &cut.blackout());
        let out = emu.cli_with(command, &no_retry);
        emu.control("/_emulator/blackout", r#"{"after": null}"#);
        if out.status.success() {
            if full {
                // Not cut off: every call of the run was a crash point before.
                assert!(n > calls, "only {n} crash points of {calls} calls");
                return calls;
            }
            // Cut after its last change that matters: it finished all the same (a lock that
            // cannot be removed lapses, never a failed run, and the next run removes it). A
            // rerun would refresh again.
            emu.control("/_emulator/lapse-locks", r#"{"remove": true}"#);
            check(emu, &before, &cut, None);
            continue;
        }
        if n != 1 && !matches!(&cut, Cut::AfterKind(k) if Some(k) == kinds.first()) {
            emu.control("/_emulator/lapse-locks", "{}");
        }
        let out = emu.cli(command);
        assert!(
            out.status.success(),
            "crash after {cut}: the rerun failed: {}",
            stderr(&out)
        );
        check(emu, &before, &cut, Some(&out));
    }
}

/// The crash matrix of `apply args` on `scenario` (see `crash_each`): the rerun must finish
/// with the same end state (checked by `check`), no delete before the restart command ran, no
/// lock left behind; a rerun after the first crash point (the lock taken) waits for the dead
/// run's lock to lapse.
pub fn crash_matrix(
    emu: &Emulator,
    scenario: &str,
    args: &[&str],
    check: impl Fn(&Emulator, &Map<String, Value>, &Cut),
) {
    let mut command = vec!["apply"];
    command.extend_from_slice(args);
    command.extend_from_slice(FAST);
    let first = std::cell::Cell::new(true);
    let calls = crash_each(emu, scenario, None, &command, |emu, before, cut, rerun| {
        if first.replace(false) {
            // Nothing but the lock was written: the rerun found the dead run's lock and waited
            // for it to lapse (or, on a loaded machine, found it lapsed already).
            let out = rerun.expect("the first call cuts a run short");
            let err = stderr(out);
            assert!(
                err.contains("waiting up to") || err.contains("taking over the lapsed lock"),
                "{err}"
            );
        }
        let restart_at = emu.record().iter().rposition(|r| r["note"] == "restart");
        for (i, r) in emu.record().iter().enumerate() {
            let deletes = r["action"]
                .as_str()
                .is_some_and(|a| a == "DeleteDBInstance" || a == "DeleteDBCluster");
            if deletes && r.get("fault").is_none() {
                assert!(
                    restart_at.is_some_and(|at| i > at),
                    "crash after {cut}: delete before restart"
                );
            }
        }
        assert!(
            !emu.describe()
                .values()
                .chain(emu.clusters().values())
                .any(|d| d.to_string().contains("stack-mitosis:lock:")),
            "crash after {cut}: a lock was left behind"
        );
        check(emu, before, cut);
    });
    // The refresh's own calls and the lock's: a matrix of a refresh cuts a run many ways.
    assert!(calls >= 14, "only {calls} mutating calls");
}

/// The attributes a refresh must keep, from describe output.
pub fn kept(d: &Value) -> Value {
    let mut tags = d["Tags"].as_object().cloned().unwrap_or_default();
    tags.retain(|k, _| !k.starts_with("stack-mitosis:"));
    serde_json::json!({
        "class": d["DBInstanceClass"], "port": d["Endpoint"]["Port"],
        "pg": d["DBParameterGroups"][0]["DBParameterGroupName"],
        "og": d["OptionGroupMemberships"][0]["OptionGroupName"],
        "sg": d["VpcSecurityGroups"], "maint": d["PreferredMaintenanceWindow"],
        "backup": d["PreferredBackupWindow"], "multi_az": d["MultiAZ"],
        "protected": d["DeletionProtection"], "tags": tags,
        "replica_of": d["ReadReplicaSourceDBInstanceIdentifier"],
        "subnets": d["DBSubnetGroup"]["DBSubnetGroupName"],
    })
}

/// After a refresh: the target tree has its names, shape and attributes, no temp-*/old-* are
/// left, the new instances carry no markers, and the source tree is exactly as before.
pub fn assert_refreshed(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    source: &[&str],
    target: &[&str],
    subnets_kept: bool,
) {
    for id in source {
        assert_eq!(before[*id], after[*id], "source instance {id} changed");
    }
    for id in target {
        let (mut was, mut now) = (kept(&before[*id]), kept(&after[*id]));
        if !subnets_kept {
            was["subnets"] = Value::Null;
            now["subnets"] = Value::Null;
        }
        assert_eq!(was, now, "target instance {id} lost attributes");
        assert_ne!(
            before[*id]["DbiResourceId"], after[*id]["DbiResourceId"],
            "{id} was not replaced"
        );
        assert!(
            after[*id]["Tags"]
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("stack-mitosis:")),
            "{id} kept markers"
        );
        assert_eq!(after[*id]["DBInstanceStatus"], "available");
    }
    let leftovers: Vec<&String> = after
        .keys()
        .filter(|k| k.starts_with("temp-") || k.starts_with("old-"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    assert_eq!(before.len(), after.len());
}

/// Each case (arguments, what the message says) is refused as bad input: exit 2, the message,
/// and no mutating call.
pub fn assert_refused(emu: &Emulator, cases: &[(&[&str], &str)]) {
    for (args, says) in cases {
        let out = apply(emu, args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(
            emu.mutating_actions().is_empty(),
            "{args:?} changed something"
        );
    }
}

/// Two applies of `args` started together: one refreshes, the other is refused because the
/// first holds the lock (exit 6). Returns the refused one.
pub fn one_of_two_concurrent_applies(emu: &Emulator, args: &[&str]) -> Output {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| apply(emu, args, &[]));
        let b = s.spawn(|| apply(emu, args, &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(6)],
        "a: {}\nb: {}",
        stderr(&a),
        stderr(&b)
    );
    let refused = if a.status.code() == Some(6) { a } else { b };
    assert!(stderr(&refused).contains("is being refreshed by run"));
    refused
}

/// The planner's answer is bad input (exit 2) saying `says`.
pub fn expect_bad_input(
    obs: &stack_mitosis::observed::Observed,
    req: &stack_mitosis::plan::PlanRequest,
    says: &str,
) {
    match stack_mitosis::plan::plan(obs, req) {
        Err(e @ stack_mitosis::error::MitosisError::BadInput(_)) => {
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(says), "expected {says:?} in {e}");
        }
        other => panic!("expected bad input ({says}), got {other:?}"),
    }
}
