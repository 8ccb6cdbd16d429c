"""One PostgreSQL server and one MariaDB server on free loopback ports, for the emulator's
instances to hold real data (see data.py).

    python databases.py start DIR   start both under DIR (a new directory), write DIR/servers.json
                                    and print it, then return; the servers keep running
    python databases.py stop DIR    stop them by their PIDs (from DIR/servers.json), remove DIR
    python databases.py serve       start both in a temporary directory, print the path of its
                                    servers.json, and stop them (by PID) when stdin closes: a
                                    test process holds the pipe, so the servers end with it

servers.json: {"postgres": {"port", "socket_dir", "pid"}, "mysql": {"port", "socket", "pid"}}.
Both listen on 127.0.0.1 only. Each server is tuned for tests (no fsync): its data is thrown
away with DIR.
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN_DIRS = ["/usr/lib/postgresql/%s/bin" % v for v in ("17", "16", "15", "14", "13")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name):
    for d in PG_BIN_DIRS:
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    found = shutil.which(name)
    if found:
        return found
    sys.exit(f"{name} not found: run scripts/setup-databases")


def as_postgres():
    """PostgreSQL refuses to run as root: when we are root, its processes run as `postgres`."""
    if os.geteuid() != 0:
        return None, None
    user = pwd.getpwnam("postgres")

    def demote():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return user, demote


def wait_for(what, check, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited during start (code {proc.returncode})")
        if check():
            return
        time.sleep(0.05)
    sys.exit(f"{what} did not start within {seconds} s")


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_postgres(root):
    data = os.path.join(root, "pg")
    os.makedirs(data)
    user, demote = as_postgres()
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
        os.chown(data, user.pw_uid, user.pw_gid)
    log = open(os.path.join(root, "pg.log"), "ab")
    subprocess.run([pg_bin("initdb"), "-D", data, "-U", "postgres", "-E", "UTF8",
                    "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
                   check=True, stdout=log, stderr=log, preexec_fn=demote)
    port = free_port()
    proc = subprocess.Popen(
        [pg_bin("postgres"), "-D", data, "-p", str(port), "-c", "listen_addresses=127.0.0.1",
         "-c", f"unix_socket_directories={root}", "-c", "fsync=off",
         "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
         "-c", "max_connections=200", "-c", "password_encryption=scram-sha-256"],
        stdout=log, stderr=log, preexec_fn=demote, start_new_session=True)
    wait_for("postgres", lambda: os.path.exists(os.path.join(root, f".s.PGSQL.{port}"))
             and can_connect(port), proc)
    return {"port": port, "socket_dir": root, "pid": proc.pid}


def start_mysql(root):
    data = os.path.join(root, "my")
    sock = os.path.join(root, "my.sock")
    log = open(os.path.join(root, "my.log"), "ab")
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    if install is None or not os.path.exists(server):
        sys.exit("mariadbd not found: run scripts/setup-databases")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([install, "--no-defaults", f"--datadir={data}", "--skip-test-db",
                    "--auth-root-authentication-method=normal", *user],
                   check=True, stdout=log, stderr=log)
    port = free_port()
    proc = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-log-bin",
         "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0",
         "--max-connections=200", f"--pid-file={os.path.join(root, 'my.pid')}", *user],
        stdout=log, stderr=log, start_new_session=True)
    wait_for("mariadbd", lambda: os.path.exists(sock) and can_connect(port), proc)
    # No anonymous accounts: a login is always one of the emulator's.
    subprocess.run(["mariadb", f"--socket={sock}", "-uroot", "-e",
                    "DELETE FROM mysql.global_priv WHERE User=''; FLUSH PRIVILEGES;"],
                   check=True, stdout=log, stderr=log)
    return {"port": port, "socket": sock, "pid": proc.pid}


def start(root):
    os.makedirs(root, exist_ok=True)
    servers = {}
    try:
        servers["postgres"] = start_postgres(root)
        servers["mysql"] = start_mysql(root)
    except BaseException:
        stop_servers(servers)
        raise
    with open(os.path.join(root, "servers.json"), "w") as f:
        json.dump(servers, f)
    return servers


def stop_servers(servers):
    pids = []
    for name, sig in (("postgres", signal.SIGINT), ("mysql", signal.SIGTERM)):
        pid = servers.get(name, {}).get("pid")
        if pid:
            try:
                os.kill(pid, sig)
                pids.append(pid)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 30
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def stop(root):
    path = os.path.join(root, "servers.json")
    if os.path.exists(path):
        with open(path) as f:
            stop_servers(json.load(f))
    shutil.rmtree(root, ignore_errors=True)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        root = tempfile.mkdtemp(prefix="stack-mitosis-db-")
        os.chmod(root, 0o755)
        start(root)
        print(os.path.join(root, "servers.json"), flush=True)
        try:
            sys.stdin.read()  # until the test process that started us is gone
        finally:
            stop(root)
        return
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    root = sys.argv[2]
    if sys.argv[1] == "start":
        print(json.dumps(start(root)), flush=True)
    else:
        stop(root)


if __name__ == "__main__":
    main()
