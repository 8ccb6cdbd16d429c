"""Starts emulators quickly: imports the emulator (moto's models take about a second of CPU to
import) once, then forks a ready emulator for each request.

Usage: python zygote.py SOCKET. Prints "ready" once it listens on the Unix socket SOCKET. A
request is one JSON line, {"args": [server.py's arguments], "pid": the requesting process};
the answer is one line, "listening on http://HOST:PORT pid N" (N: the emulator's process, for
the requester to stop). An emulator also stops by itself once the requesting process is gone,
so none outlives a test that was killed. scripts/run-tests starts one zygote for a whole test
run and stops it by PID; tests reach it through STACK_MITOSIS_TEST_EMULATOR.
"""

import json
import os
import random
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server  # noqa: E402  (the heavy imports, once)

# What the first request of each service would import, imported here once instead.
server.moto_application()
import moto.autoscaling.models  # noqa: E402,F401
import moto.kms.models  # noqa: E402,F401
import moto.s3.models  # noqa: E402,F401
import moto.secretsmanager.models  # noqa: E402,F401
import moto.sts.models  # noqa: E402,F401


def emulator(conn, request):
    """In the forked child: serve one emulator until the requester is gone."""
    random.seed()
    server.data.new_identity()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    owner = int(request["pid"])

    def watch():
        while True:
            time.sleep(1)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)

    def announce(line):
        conn.sendall(f"{line} pid {os.getpid()}\n".encode())
        conn.close()
        threading.Thread(target=watch, daemon=True).start()

    server.serve(request["args"], announce)


def main():
    path = sys.argv[1]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        line = b""
        while not line.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            line += chunk
        try:
            request = json.loads(line)
        except ValueError:
            conn.close()
            continue
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                emulator(conn, request)
            finally:
                os._exit(1)
        conn.close()


if __name__ == "__main__":
    main()
