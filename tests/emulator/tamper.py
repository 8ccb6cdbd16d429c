"""Changes the emulated account behind the tool's back, for the guardrail tests:

  python tamper.py ENDPOINT lag INSTANCE SECONDS    report a ReplicaLag for INSTANCE (CloudWatch)
  python tamper.py ENDPOINT replica SOURCE NEW      add a read replica NEW of SOURCE
  python tamper.py ENDPOINT delete INSTANCE         delete INSTANCE (no final snapshot)
"""

import json
import sys
import urllib.request

import boto3

endpoint, what, *args = sys.argv[1:]
if not endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
    raise SystemExit("tamper only talks to a loopback emulator")
session = dict(endpoint_url=endpoint, region_name="us-east-1",
               aws_access_key_id="testing", aws_secret_access_key="testing")
if what == "lag":
    instance, seconds = args
    urllib.request.urlopen(urllib.request.Request(
        endpoint + "/_emulator/replica-lag",
        data=json.dumps({"id": instance, "seconds": float(seconds)}).encode(), method="POST"))
elif what == "replica":
    source, new = args
    boto3.client("rds", **session).create_db_instance_read_replica(
        DBInstanceIdentifier=new, SourceDBInstanceIdentifier=source)
elif what == "delete":
    (instance,) = args
    boto3.client("rds", **session).delete_db_instance(
        DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
else:
    raise SystemExit(f"unknown: {what}")
