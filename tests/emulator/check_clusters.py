"""Checks the correction layer's Aurora clusters against what RDS does, through boto3.

Usage: python check_clusters.py --endpoint http://127.0.0.1:PORT (a freshly reset emulator).
Exits non-zero with the failed expectation.
"""

import argparse
import json
import time
import urllib.request

import boto3
from botocore.exceptions import ClientError


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args()
    if not args.endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("only a loopback emulator")
    rds = boto3.client("rds", endpoint_url=args.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")

    def control(path, body=None):
        req = urllib.request.Request(args.endpoint + path, data=json.dumps(body or {}).encode(),
                                     method="POST")
        urllib.request.urlopen(req).read()

    def cluster(ident):
        found = rds.describe_db_clusters(
            Filters=[{"Name": "db-cluster-id", "Values": [ident]}])["DBClusters"]
        return found[0] if found else None

    def fails(code, call, **kw):
        try:
            call(**kw)
        except ClientError as e:
            got = e.response["Error"]["Code"]
            assert got == code, f"{call.__name__}: {got}, expected {code}"
            return
        raise AssertionError(f"{call.__name__} {kw} succeeded, expected {code}")

    def wait(pred, what):
        for _ in range(1500):
            if pred():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    # Slow enough that a loaded machine still makes its next call while a status lasts (a
    # clone is `creating` for 3 units), fast enough to keep the check short.
    control("/_emulator/scale", {"seconds_per_unit": 0.2})
    for ident in ("src", "other"):
        rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql",
                              MasterUsername="admin", MasterUserPassword="password-1")
    rds.create_db_instance(DBInstanceIdentifier="src-1", DBClusterIdentifier="src",
                           Engine="aurora-postgresql", DBInstanceClass="db.t4g.medium")
    rds.create_db_instance(DBInstanceIdentifier="src-2", DBClusterIdentifier="src",
                           Engine="aurora-postgresql", DBInstanceClass="db.t4g.medium",
                           PromotionTier=0)

    # RestoreType is validated; a copy-on-write clone needs a source with instances.
    fails("InvalidParameterValue", rds.restore_db_cluster_to_point_in_time,
          DBClusterIdentifier="c1", SourceDBClusterIdentifier="src", RestoreType="fast",
          UseLatestRestorableTime=True)
    fails("InvalidDBClusterStateFault", rds.restore_db_cluster_to_point_in_time,
          DBClusterIdentifier="c1", SourceDBClusterIdentifier="other",
          RestoreType="copy-on-write", UseLatestRestorableTime=True)
    # A restore onto an existing identifier is refused (moto replaces the cluster).
    fails("DBClusterAlreadyExistsFault", rds.restore_db_cluster_to_point_in_time,
          DBClusterIdentifier="other", SourceDBClusterIdentifier="src",
          RestoreType="copy-on-write", UseLatestRestorableTime=True)
    # A clone is creating for a while, then available, in the source's clone group.
    rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="clone", SourceDBClusterIdentifier="src",
        RestoreType="copy-on-write", UseLatestRestorableTime=True)
    assert cluster("clone")["Status"] == "creating", cluster("clone")["Status"]
    fails("InvalidDBClusterStateFault", rds.create_db_instance, DBInstanceIdentifier="clone-1",
          DBClusterIdentifier="clone", Engine="aurora-postgresql",
          DBInstanceClass="db.t4g.medium")
    wait(lambda: cluster("clone")["Status"] == "available", "the clone")
    assert cluster("clone")["CloneGroupId"] == cluster("src")["CloneGroupId"] is not None
    rds.create_db_instance(DBInstanceIdentifier="clone-1", DBClusterIdentifier="clone",
                           Engine="aurora-postgresql", DBInstanceClass="db.t4g.medium")

    # A rename without ApplyImmediately waits for the maintenance window.
    rds.modify_db_cluster(DBClusterIdentifier="src", NewDBClusterIdentifier="later")
    assert cluster("src") and not cluster("later"), "renamed without ApplyImmediately"
    # Renaming onto a taken identifier is refused.
    fails("DBClusterAlreadyExistsFault", rds.modify_db_cluster, DBClusterIdentifier="src",
          NewDBClusterIdentifier="other", ApplyImmediately=True)
    # A rename: neither name answers for a while, then the members follow the new name and
    # the writer stays the writer.
    writer = [m["DBInstanceIdentifier"] for m in cluster("src")["DBClusterMembers"]
              if m["IsClusterWriter"]]
    rds.modify_db_cluster(DBClusterIdentifier="src", NewDBClusterIdentifier="renamed",
                          ApplyImmediately=True)
    wait(lambda: cluster("src") is None, "the old name to go")
    wait(lambda: cluster("renamed") and cluster("renamed")["Status"] == "available",
         "the new name")
    members = sorted(m["DBInstanceIdentifier"] for m in cluster("renamed")["DBClusterMembers"])
    assert members == ["src-1", "src-2"], members
    assert [m["DBInstanceIdentifier"] for m in cluster("renamed")["DBClusterMembers"]
            if m["IsClusterWriter"]] == writer
    for i in ("src-1", "src-2"):
        d = rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0]
        assert d["DBClusterIdentifier"] == "renamed", d["DBClusterIdentifier"]
    # A cluster with members cannot be deleted.
    fails("InvalidDBClusterStateFault", rds.delete_db_cluster,
          DBClusterIdentifier="renamed", SkipFinalSnapshot=True)

    # Custom endpoints: unique names, created over time, following the cluster's rename.
    rds.create_db_cluster_endpoint(DBClusterIdentifier="renamed",
                                   DBClusterEndpointIdentifier="analytics",
                                   EndpointType="READER", StaticMembers=["src-1"])
    fails("DBClusterEndpointAlreadyExistsFault", rds.create_db_cluster_endpoint,
          DBClusterIdentifier="clone", DBClusterEndpointIdentifier="analytics",
          EndpointType="ANY")

    def endpoint():
        found = rds.describe_db_cluster_endpoints(
            DBClusterEndpointIdentifier="analytics")["DBClusterEndpoints"]
        return found[0] if found else None

    wait(lambda: endpoint()["Status"] == "available", "the endpoint")
    rds.modify_db_cluster(DBClusterIdentifier="renamed", NewDBClusterIdentifier="again",
                          ApplyImmediately=True)
    wait(lambda: cluster("again") and cluster("again")["Status"] == "available", "a rename")
    assert endpoint()["DBClusterIdentifier"] == "again", endpoint()
    rds.delete_db_cluster_endpoint(DBClusterEndpointIdentifier="analytics")
    wait(lambda: endpoint() is None, "the endpoint's delete")
    print("cluster corrections hold")


if __name__ == "__main__":
    main()
