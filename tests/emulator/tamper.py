"""Changes the emulated account behind the tool's back, for the guardrail tests:

  python tamper.py ENDPOINT lag INSTANCE SECONDS    report a ReplicaLag for INSTANCE (CloudWatch)
  python tamper.py ENDPOINT replica SOURCE NEW      add a read replica NEW of SOURCE
  python tamper.py ENDPOINT delete INSTANCE         delete INSTANCE (no final snapshot)
  python tamper.py ENDPOINT tag INSTANCE K=V ...    add tags to INSTANCE (anyone with tagging
                                                    rights can write the tool's tags)
  python tamper.py ENDPOINT tag-bucket BUCKET K=V ...  add tags to BUCKET (made, empty, if
                                                    it does not exist)
  python tamper.py ENDPOINT bucket-in ACCOUNT BUCKET K=V ...  make BUCKET in another account
                                                    (names are global), with these tags
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
elif what == "tag":
    instance, *pairs = args
    rds = boto3.client("rds", **session)
    arn = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[
        {"Key": k, "Value": v} for k, v in (p.split("=", 1) for p in pairs)])
elif what == "tag-bucket":
    bucket, *pairs = args
    s3 = boto3.client("s3", **session)
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    try:
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    except s3.exceptions.ClientError:
        tags = {}
    tags.update(p.split("=", 1) for p in pairs)
    if tags:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={
            "TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
elif what == "bucket-in":
    account, bucket, *pairs = args
    role = boto3.client("sts", **session).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/squatter", RoleSessionName="squatter")["Credentials"]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=role["AccessKeyId"],
                      aws_secret_access_key=role["SecretAccessKey"],
                      aws_session_token=role["SessionToken"])
    s3.create_bucket(Bucket=bucket)
    if pairs:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
            {"Key": k, "Value": v} for k, v in (p.split("=", 1) for p in pairs)]})
else:
    raise SystemExit(f"unknown: {what}")
