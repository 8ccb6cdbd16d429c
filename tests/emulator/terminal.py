"""Runs a command on a pseudo-terminal, as a person at a terminal would, and answers its
question: once the output shows PROMPT, types ANSWER and Enter. Prints what the terminal
showed and exits with the command's status.

Usage: python terminal.py PROMPT ANSWER -- COMMAND [ARG...]
"""

import os
import pty
import select
import sys
import time


def main():
    prompt, answer = sys.argv[1].encode(), sys.argv[2].encode()
    command = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    seen, answered = b"", False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and prompt in seen:
            os.write(fd, answer + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode(errors="replace"))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
