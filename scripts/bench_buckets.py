"""Runs the bucket benchmark (see scripts/bench-buckets): starts the emulator on a free
loopback port, seeds a source bucket, and times each tool copying it into an empty bucket.
Usage: bench_buckets.py BUCKET_SYNC_BINARY AWSCLI_PYTHON [COUNT ...] (default 1000 10000)."""

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# `aws` run in-process by an interpreter that then reports its own peak memory, as the
# example binary does: the rusage a parent gets for a child also counts the pages the child
# had before exec, copied from the parent (here large after seeding) at fork.
AWS_WITH_PEAK = """import sys, awscli.clidriver as cli
rc = cli.main()
sys.stderr.write([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])
sys.exit(rc)"""


def run(cmd, env):
    """Wall time and peak RSS (MB, the VmHWM the process reports on stderr) of one run."""
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {done.stderr[-2000:]}")
    peak = [l for l in done.stderr.splitlines() if l.startswith("VmHWM")][-1]
    return seconds, int(peak.split()[1]) / 1024


# Each S3 request as the emulator serves it (about 200 a second, one at a time: both tools
# are bound by it), then with 50 ms more per request, the order of a CopyObject's latency in
# AWS, which requests in flight at once overlap.
LATENCIES = [0.0, 0.05]


def set_latency(endpoint, seconds):
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(
        endpoint + "/_emulator/s3-latency", data=json.dumps({"seconds": seconds}).encode(),
        method="POST", headers={"Content-Type": "application/json"}))


def main():
    binary, aws_python = sys.argv[1], sys.argv[2]
    counts = [int(n) for n in sys.argv[3:]] or [1000, 10000]
    server = subprocess.Popen([sys.executable, os.path.join(REPO, "tests/emulator/server.py"),
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        endpoint = server.stdout.readline().strip().removeprefix("listening on ")
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        max_pool_connections=32))
        aws = [aws_python, "-c", AWS_WITH_PEAK, "--endpoint-url", endpoint]
        seeded = set()
        print(f"{'latency':>8} {'objects':>8} {'tool':<14} {'seconds':>8} {'objects/s':>10} "
              f"{'MB/s':>7} {'peak RSS MB':>12}")
        for latency, n in [(latency, n) for latency in LATENCIES for n in counts]:
            set_latency(endpoint, latency)
            src = f"bench-{n}-source"
            body = b"x" * 10_000  # 10 kB objects: request-bound, as user uploads mostly are
            if src not in seeded:
                set_latency(endpoint, 0)
                s3.create_bucket(Bucket=src)
                with ThreadPoolExecutor(32) as pool:
                    list(pool.map(lambda i: s3.put_object(
                        Bucket=src, Key=f"uploads/{i % 97}/{i:06}.bin", Body=body,
                        ContentType="application/octet-stream", Metadata={"n": str(i)}),
                        range(n)))
                seeded.add(src)
                set_latency(endpoint, latency)
            mb = n * len(body) / 1e6
            results = {}
            for tool, cmd in (
                ("stack-mitosis", lambda dst: [binary, src, dst]),
                ("aws s3 sync", lambda dst: aws + ["s3", "sync", "--quiet", f"s3://{src}",
                                                   f"s3://{dst}"]),
            ):
                dst = f"bench-{n}-{int(latency * 1000)}ms-{tool.split()[0]}"
                s3.create_bucket(Bucket=dst)
                seconds, rss = run(cmd(dst), env)
                copied = sum(p.get("KeyCount", 0) for p in
                             s3.get_paginator("list_objects_v2").paginate(Bucket=dst))
                assert copied == n, f"{tool} copied {copied} of {n}"
                results[tool] = (seconds, rss)
                print(f"{latency * 1000:>6.0f}ms {n:>8} {tool:<14} {seconds:>8.1f} "
                      f"{n / seconds:>10.0f} {mb / seconds:>7.2f} {rss:>12.1f}", flush=True)
            ours, theirs = results["stack-mitosis"], results["aws s3 sync"]
            print(f"{latency * 1000:>6.0f}ms {n:>8} ratio: {theirs[0] / ours[0]:.2f}x the speed "
                  f"of aws s3 sync, {ours[1] / theirs[1]:.2f}x its peak memory", flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
