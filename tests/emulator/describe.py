"""Prints every DB instance of the emulator as JSON: DescribeDBInstances output plus tags.

Usage: python describe.py --endpoint http://127.0.0.1:PORT [--snapshots | --clusters]
                          [--account ID]
With --snapshots: every manual DB and DB cluster snapshot instead, with its status, tags and
the accounts it is shared with ("SharedWith").
With --account: in that account (through a role assumed there) instead of the default one.
With --buckets: every S3 bucket's objects (size, ETag, content type, metadata, tags); with
--groups: every Auto Scaling group (sizes, instance states, suspended processes, tags).
With --clusters: every DB cluster instead (DescribeDBClusters output plus tags and custom
endpoints).
LatestRestorableTime is left out: it is "now" on every call, so it is no attribute of state.
"""

import argparse
import json

import boto3


def buckets(kw):
    """Every bucket: each object's size, ETag, content type, metadata and tags."""
    import botocore.config
    from concurrent.futures import ThreadPoolExecutor
    s3 = boto3.client("s3", **kw, config=botocore.config.Config(
        s3={"addressing_style": "path"}, max_pool_connections=16))
    out = {}
    for b in s3.list_buckets()["Buckets"]:
        keys = [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"])
                for o in page.get("Contents", [])]

        def about(o, bucket=b["Name"]):
            head = s3.head_object(Bucket=bucket, Key=o["Key"])
            tags = s3.get_object_tagging(Bucket=bucket, Key=o["Key"])["TagSet"]
            return o["Key"], {"size": o["Size"], "etag": o["ETag"],
                              "content_type": head.get("ContentType"),
                              "metadata": head.get("Metadata", {}),
                              "tags": {t["Key"]: t["Value"] for t in tags}}
        with ThreadPoolExecutor(16) as pool:
            out[b["Name"]] = dict(pool.map(about, keys))
    return out


def groups(kw):
    """Every Auto Scaling group: sizes, instance states, suspended processes, tags."""
    autoscaling = boto3.client("autoscaling", **kw)
    return {g["AutoScalingGroupName"]: {
        "min": g["MinSize"], "max": g["MaxSize"], "desired": g["DesiredCapacity"],
        "states": sorted(i["LifecycleState"] for i in g["Instances"]),
        "suspended": sorted(p["ProcessName"] for p in g["SuspendedProcesses"]),
        "tags": {t["Key"]: t["Value"] for t in g["Tags"]},
    } for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]}


def main(argv=None):
    """Prints the JSON (the command line), or returns it (`argv` given: the emulator serves it
    at /_emulator/describe, without a process of its own)."""
    out = run(argv)
    if argv is not None:
        return out
    print(out)


def run(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--snapshots", action="store_true")
    parser.add_argument("--clusters", action="store_true")
    parser.add_argument("--account")
    parser.add_argument("--buckets", action="store_true")
    parser.add_argument("--groups", action="store_true")
    args = parser.parse_args(argv)
    if not args.endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("describe only talks to a loopback emulator")
    credentials = dict(aws_access_key_id="testing", aws_secret_access_key="testing")
    if args.account:
        from seed import account_credentials
        credentials = account_credentials(args.endpoint, "us-east-1", args.account)
    rds = boto3.client("rds", endpoint_url=args.endpoint, region_name="us-east-1",
                       **credentials)
    out = {}
    kw = dict(endpoint_url=args.endpoint, region_name="us-east-1", **credentials)
    if args.buckets:
        return json.dumps(buckets(kw), default=str, sort_keys=True)
    if args.groups:
        return json.dumps(groups(kw), default=str, sort_keys=True)
    if args.snapshots:
        for page in rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual"):
            for s in page["DBSnapshots"]:
                attributes = rds.describe_db_snapshot_attributes(
                    DBSnapshotIdentifier=s["DBSnapshotIdentifier"])["DBSnapshotAttributesResult"]
                out[s["DBSnapshotIdentifier"]] = {
                    "Status": s["Status"],
                    "SharedWith": sorted(v for a in attributes["DBSnapshotAttributes"]
                                         if a["AttributeName"] == "restore"
                                         for v in a.get("AttributeValues", [])),
                    "Tags": {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(
                        ResourceName=s["DBSnapshotArn"])["TagList"]},
                }
        for page in rds.get_paginator("describe_db_cluster_snapshots").paginate(
                SnapshotType="manual"):
            for s in page["DBClusterSnapshots"]:
                attributes = rds.describe_db_cluster_snapshot_attributes(
                    DBClusterSnapshotIdentifier=s["DBClusterSnapshotIdentifier"])[
                    "DBClusterSnapshotAttributesResult"]
                out[s["DBClusterSnapshotIdentifier"]] = {
                    "Status": s["Status"],
                    "SharedWith": sorted(v for a in attributes["DBClusterSnapshotAttributes"]
                                         if a["AttributeName"] == "restore"
                                         for v in a.get("AttributeValues", [])),
                    "Tags": {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(
                        ResourceName=s["DBClusterSnapshotArn"])["TagList"]},
                }
        return json.dumps(out, default=str, sort_keys=True)
    if args.clusters:
        for page in rds.get_paginator("describe_db_clusters").paginate():
            for d in page["DBClusters"]:
                for volatile in ("LatestRestorableTime", "EarliestRestorableTime"):
                    d.pop(volatile, None)
                d["Tags"] = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(
                    ResourceName=d["DBClusterArn"])["TagList"]}
                d["CustomEndpoints"] = {
                    e["DBClusterEndpointIdentifier"]: {
                        "Type": e["CustomEndpointType"], "Status": e["Status"],
                        "StaticMembers": sorted(e.get("StaticMembers", [])),
                        "ExcludedMembers": sorted(e.get("ExcludedMembers", [])),
                    }
                    for e in rds.describe_db_cluster_endpoints(
                        DBClusterIdentifier=d["DBClusterIdentifier"])["DBClusterEndpoints"]
                    if e["EndpointType"] == "CUSTOM"}
                out[d["DBClusterIdentifier"]] = d
        return json.dumps(out, default=str, sort_keys=True)
    for page in rds.get_paginator("describe_db_instances").paginate():
        for d in page["DBInstances"]:
            d.pop("LatestRestorableTime", None)
            d["Tags"] = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(
                ResourceName=d["DBInstanceArn"])["TagList"]}
            out[d["DBInstanceIdentifier"]] = d
    return json.dumps(out, default=str, sort_keys=True)


if __name__ == "__main__":
    main()
