"""Creates an example RDS environment in the emulator from a scenario file (JSON).

Usage: python seed.py SCENARIO.json --endpoint http://127.0.0.1:PORT

Scenario keys: "vpcs" (names; each gets a VPC, two subnets, a DB subnet group "<name>-subnets"
and a security group "<name>-db"), "parameter_groups" ([{name, family}]), "option_groups"
([{name, engine, major}]), "instances" ([{id, engine, engine_version, class, vpc, port,
backup_retention, backup_window, maintenance_window, parameter_group, option_group, tags,
deletion_protection, multi_az, replica_of, status, snapshots, no_snapshots, cluster,
promotion_tier, password, sql}]), "clusters" [{id, engine, vpc, engine_version, port, parameter_group,
backup_retention, backup_window, maintenance_window, deletion_protection, iam_auth,
log_exports, backtrack_window, serverless_v2, engine_mode, tags, snapshots, status,
password, sql, endpoints [{id, type, static, excluded}]}],
"cluster_parameter_groups", "secrets" [{name, value}], "buckets" and "auto_scaling_groups"
(see seed_buckets and seed_groups), "kms_keys" (aliases, e.g.
"refresh-share": customer-managed keys), and "accounts" ({account id: scenario}: the same keys
seeded in another account, through a role assumed there). Instances may be "encrypted" (with
"kms_key", an alias, or the default key). "password" is the master password (default
"not-a-real-password"); "sql" (statements) is run as the master user through the reported
endpoint once everything is seeded, when the emulator holds real data (server.py --databases),
and the automated snapshots are then taken again.
Every call is followed by a jump of the emulator's clock, so the result is settled.
"""

import argparse
import json
import os
import subprocess
import urllib.request

import boto3


def post(endpoint, path, payload=None):
    req = urllib.request.Request(endpoint + path, data=json.dumps(payload or {}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def account_credentials(endpoint, region, account):
    """Credentials that act in `account` (moto: those of a role assumed there)."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/seed",
                        RoleSessionName="seed")["Credentials"]
    return dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                aws_session_token=c["SessionToken"])


def bucket_objects(n):
    """The n objects of a generated bucket: nested prefixes, two content types, metadata and
    tags that differ per object."""
    for i in range(n):
        yield dict(Key=f"uploads/{i % 7}/{i % 3}/file-{i:05}.txt", Body=f"object {i} " * (i % 13 + 1),
                   ContentType="text/plain" if i % 2 else "image/png",
                   Metadata={"owner": f"user{i % 5}"}, Tagging=f"kind=upload&n={i}")


def seed_buckets(scenario, kw):
    """"buckets": [{name, objects (count), multipart ([keys] of 6 MB in two parts), stale
    (count of keys only this bucket has), changed (count of the generated keys, with other
    bytes)}]."""
    from concurrent.futures import ThreadPoolExecutor
    s3 = boto3.client("s3", **kw, config=botocore_config())
    for b in scenario.get("buckets", []):
        s3.create_bucket(Bucket=b["name"])
        puts = list(bucket_objects(b.get("objects", 0)))
        puts += [dict(Key=f"stale/old-{i}.txt", Body=b"stale", ContentType="text/plain")
                 for i in range(b.get("stale", 0))]
        puts += [dict(o, Body="changed") for o in list(bucket_objects(b.get("changed", 0)))]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda o: s3.put_object(Bucket=b["name"], **o), puts))
        for key in b.get("multipart", []):
            up = s3.create_multipart_upload(Bucket=b["name"], Key=key,
                                            ContentType="video/mp4", Metadata={"owner": "big"},
                                            Tagging="kind=video")
            parts = []
            for n, size in ((1, 5 * 1024 * 1024), (2, 1024 * 1024)):
                etag = s3.upload_part(Bucket=b["name"], Key=key, UploadId=up["UploadId"],
                                      PartNumber=n, Body=bytes([n]) * size)["ETag"]
                parts.append({"PartNumber": n, "ETag": etag})
            s3.complete_multipart_upload(Bucket=b["name"], Key=key, UploadId=up["UploadId"],
                                         MultipartUpload={"Parts": parts})


def botocore_config():
    import botocore.config
    return botocore.config.Config(s3={"addressing_style": "path"}, max_pool_connections=32)


def seed_groups(scenario, kw):
    """"auto_scaling_groups": [{name, min, max, desired}]: instances launched by moto."""
    groups = scenario.get("auto_scaling_groups", [])
    if not groups:
        return
    autoscaling = boto3.client("autoscaling", **kw)
    autoscaling.create_launch_configuration(LaunchConfigurationName="web",
                                            ImageId="ami-12c6146b", InstanceType="t3.micro")
    for g in groups:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=g["name"], LaunchConfigurationName="web",
            MinSize=g.get("min", 1), MaxSize=g.get("max", 4),
            DesiredCapacity=g.get("desired", g.get("min", 1)),
            AvailabilityZones=[kw["region_name"] + "a"])


def seed(scenario, endpoint, credentials=None):
    region = scenario.get("region", "us-east-1")
    for account, sub in scenario.get("accounts", {}).items():
        seed({"region": region, **sub}, endpoint, account_credentials(endpoint, region, account))
    kw = dict(endpoint_url=endpoint, region_name=region,
              **(credentials or dict(aws_access_key_id="testing",
                                     aws_secret_access_key="testing")))
    ec2 = boto3.client("ec2", **kw)
    rds = boto3.client("rds", **kw)
    kms = boto3.client("kms", **kw)
    settle = lambda: post(endpoint, "/_emulator/settle")
    for alias in scenario.get("kms_keys", []):
        key = kms.create_key(Description=alias)["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=key)

    groups = {}
    for i, name in enumerate(scenario.get("vpcs", [])):
        vpc = ec2.create_vpc(CidrBlock=f"10.{i + 1}.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{i + 1}.{n}.0/24",
                                     AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
                   for n, az in ((1, "a"), (2, "b"))]
        rds.create_db_subnet_group(DBSubnetGroupName=f"{name}-subnets",
                                   DBSubnetGroupDescription=f"{name} databases",
                                   SubnetIds=subnets)
        sg = ec2.create_security_group(GroupName=f"{name}-db", Description=f"{name} db",
                                       VpcId=vpc)["GroupId"]
        groups[f"{name}-db"] = sg
    for pg in scenario.get("parameter_groups", []):
        rds.create_db_parameter_group(DBParameterGroupName=pg["name"],
                                      DBParameterGroupFamily=pg["family"],
                                      Description=pg["name"])
    for og in scenario.get("option_groups", []):
        rds.create_option_group(OptionGroupName=og["name"], EngineName=og["engine"],
                                MajorEngineVersion=og["major"], OptionGroupDescription=og["name"])

    seed_buckets(scenario, kw)
    seed_groups(scenario, kw)
    secrets = boto3.client("secretsmanager", **kw)
    for secret in scenario.get("secrets", []):
        secrets.create_secret(Name=secret["name"], SecretString=secret["value"])
    for cpg in scenario.get("cluster_parameter_groups", []):
        rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=cpg["name"],
                                              DBParameterGroupFamily=cpg["family"],
                                              Description=cpg["name"])
    pending_endpoints = []
    for cluster in scenario.get("clusters", []):
        extra = {}
        if "vpc" in cluster:
            extra["DBSubnetGroupName"] = f"{cluster['vpc']}-subnets"
            extra["VpcSecurityGroupIds"] = [groups[f"{cluster['vpc']}-db"]]
        for key, name in (("engine_version", "EngineVersion"), ("port", "Port"),
                          ("parameter_group", "DBClusterParameterGroupName"),
                          ("backup_retention", "BackupRetentionPeriod"),
                          ("backup_window", "PreferredBackupWindow"),
                          ("maintenance_window", "PreferredMaintenanceWindow"),
                          ("deletion_protection", "DeletionProtection"),
                          ("iam_auth", "EnableIAMDatabaseAuthentication"),
                          ("log_exports", "EnableCloudwatchLogsExports"),
                          ("backtrack_window", "BacktrackWindow"),
                          ("serverless_v2", "ServerlessV2ScalingConfiguration"),
                          ("engine_mode", "EngineMode")):
            if key in cluster:
                extra[name] = cluster[key]
        tags = [{"Key": k, "Value": v} for k, v in cluster.get("tags", {}).items()]
        rds.create_db_cluster(DBClusterIdentifier=cluster["id"], Engine=cluster["engine"],
                              MasterUsername="admin",
                              MasterUserPassword=cluster.get("password", PASSWORD),
                              StorageEncrypted=True, Tags=tags, **extra)
        for custom in cluster.get("endpoints", []):
            pending_endpoints.append((cluster["id"], custom))
        for snap in cluster.get("snapshots", []):
            rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster["id"],
                                           DBClusterSnapshotIdentifier=snap)
    for inst in scenario.get("instances", []):
        ident = inst["id"]
        tags = [{"Key": k, "Value": v} for k, v in inst.get("tags", {}).items()]
        common = {}
        if "class" in inst:
            common["DBInstanceClass"] = inst["class"]
        if "port" in inst:
            common["Port"] = inst["port"]
        if "option_group" in inst:
            common["OptionGroupName"] = inst["option_group"]
        if "vpc" in inst:
            common["VpcSecurityGroupIds"] = [groups[f"{inst['vpc']}-db"]]
        if "security_groups" in inst:
            common["VpcSecurityGroupIds"] = [groups[g] for g in inst["security_groups"]]
        if inst.get("replica_of"):
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier=ident, SourceDBInstanceIdentifier=inst["replica_of"],
                Tags=tags, **common)
            settle()
        else:
            extra = {}
            if "vpc" in inst:
                extra["DBSubnetGroupName"] = f"{inst['vpc']}-subnets"
            if "cluster" in inst:
                extra["DBClusterIdentifier"] = inst["cluster"]
            if "promotion_tier" in inst:
                extra["PromotionTier"] = inst["promotion_tier"]
            if inst.get("encrypted"):
                extra["StorageEncrypted"] = True
                if "kms_key" in inst:
                    extra["KmsKeyId"] = f"alias/{inst['kms_key']}"
            rds.create_db_instance(
                DBInstanceIdentifier=ident, Engine=inst.get("engine", "postgres"),
                EngineVersion=inst.get("engine_version", "16.3"),
                DBInstanceClass=inst.get("class", "db.t3.micro"), AllocatedStorage=20,
                MasterUsername="admin", MasterUserPassword=inst.get("password", PASSWORD),
                BackupRetentionPeriod=inst.get("backup_retention", 7), Tags=tags,
                **{k: v for k, v in common.items() if k != "DBInstanceClass"}, **extra)
        modify = {}
        if "parameter_group" in inst:
            modify["DBParameterGroupName"] = inst["parameter_group"]
        if "backup_window" in inst:
            modify["PreferredBackupWindow"] = inst["backup_window"]
        if "maintenance_window" in inst:
            modify["PreferredMaintenanceWindow"] = inst["maintenance_window"]
        if inst.get("replica_of") and "backup_retention" in inst:
            modify["BackupRetentionPeriod"] = inst["backup_retention"]
        if inst.get("deletion_protection"):
            modify["DeletionProtection"] = True
        if inst.get("multi_az"):
            modify["MultiAZ"] = True
        if modify:
            rds.modify_db_instance(DBInstanceIdentifier=ident, ApplyImmediately=True, **modify)
            settle()
        if inst.get("no_snapshots"):
            # moto takes an automated snapshot at creation; some scenarios need none at all.
            for snap in rds.describe_db_snapshots(DBInstanceIdentifier=ident)["DBSnapshots"]:
                rds.delete_db_snapshot(DBSnapshotIdentifier=snap["DBSnapshotIdentifier"])
        for snap in inst.get("snapshots", []):
            rds.create_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=snap)
            settle()
    settle()
    # Custom endpoints once the members exist.
    for cluster_id, e in pending_endpoints:
        rds.create_db_cluster_endpoint(DBClusterIdentifier=cluster_id,
                                       DBClusterEndpointIdentifier=e["id"],
                                       EndpointType=e["type"],
                                       StaticMembers=e.get("static", []),
                                       ExcludedMembers=e.get("excluded", []))
    settle()
    # Rows in the real databases behind the emulator (server.py --databases), then the nightly
    # backup, so that the latest automated snapshot holds them.
    for res, kind in [(c, "cluster") for c in scenario.get("clusters", [])] + \
            [(i, "instance") for i in scenario.get("instances", [])]:
        if res.get("sql"):
            load_sql(rds, kind, res)
            post(endpoint, "/_emulator/backup", {"id": res["id"]})
    # Leave instances in a given status (e.g. "modifying"), as if a change were under way.
    for inst in scenario.get("instances", []) + scenario.get("clusters", []):
        if inst.get("status"):
            post(endpoint, "/_emulator/status", {"id": inst["id"], "status": inst["status"]})


PASSWORD = "not-a-real-password"


def load_sql(rds, kind, res):
    """Runs a resource's "sql" (a list of statements) as its master user, through the endpoint
    the emulator reports, with the engine's own client."""
    if kind == "cluster":
        found = rds.describe_db_clusters(DBClusterIdentifier=res["id"])["DBClusters"][0]
        host, port, engine = found["Endpoint"], found["Port"], found["Engine"]
    else:
        found = rds.describe_db_instances(DBInstanceIdentifier=res["id"])["DBInstances"][0]
        host, port, engine = found["Endpoint"]["Address"], found["Endpoint"]["Port"], \
            found["Engine"]
    password = res.get("password", PASSWORD)
    sql = "\n".join(res["sql"]) + "\n"
    if "postgres" in engine:
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port),
               "-U", "admin", "-d", "app", "-f", "-"]
        env = dict(os.environ, PGPASSWORD=password)
    else:
        cmd = ["mariadb", "-h", host, "-P", str(port), "-u", "admin"]
        env = dict(os.environ, MYSQL_PWD=password)
    subprocess.run(cmd, input=sql, text=True, env=env, check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args()
    if not args.endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("seed only talks to a loopback emulator")
    with open(args.scenario) as f:
        seed(json.load(f), args.endpoint)


if __name__ == "__main__":
    main()
