"""The AWS emulator for stack-mitosis tests: moto's server with a correction layer.

moto is independent of this project, which is why it is worth testing against, but its RDS
backend has gaps that matter for a refresh (see the README, "Testing"). This module patches
its RDS backend and serves it on a loopback port:

* asynchronous statuses on a time scale (creating, backing-up, modifying, renaming,
  rebooting, deleting), including "still `available`, unchanged, for a moment right after a
  modify", a rename during which neither name answers, and modifications that only become
  visible when they are applied (PendingModifiedValues in between);
* replication links that follow promote, rename and delete;
* duplicate identifiers rejected (replica create, restore, rename);
* deleting an old replica after renames works; deleting a primary promotes its replicas;
* restore keeps false/0 overrides and accepts default option groups; a point-in-time restore is
  a standalone instance with the requested groups (moto makes it a replica of its source with
  the source's security groups), needs the source's backups and a time inside its window; ModifyDBInstance honours DBPortNumber; per-instance
  DbiResourceId; replicas do not inherit tags or backups; PerformanceInsightsEnabled returned;
* mutating calls on an instance that is not `available` answer InvalidDBInstanceState;
* Aurora clusters: creating/renaming/modifying/deleting statuses over time (moto shows
  `available` at once), members follow a cluster rename (moto orphans them), duplicate cluster
  identifiers refused on restore and rename (moto replaces the existing cluster), a rename
  without ApplyImmediately left pending, RestoreType validated and copy-on-write clones given a
  CloneGroupId (and refused for a source without instances), restore from snapshot keeps
  false overrides, delete refused while members exist or while busy, cluster snapshots created
  over time, members of a restored cluster created over time;
* several accounts: copying a snapshot another account shares, by its ARN (moto looks in the
  caller's own account), with KmsKeyId required when it is encrypted; sharing an encrypted
  snapshot publicly or one encrypted with the default aws/rds key refused; snapshot copies
  created over time; the record says which account each request acted in;
* Aurora custom endpoints (Create/Describe/DeleteDBClusterEndpoint, which moto lacks): names
  unique in the region, creating/deleting over time, following cluster and member renames,
  gone with their cluster.
* S3 and Auto Scaling (moto serves both on the same port): S3 requests are recorded under
  their API operation names; EnterStandby below MinSize and ExitStandby of an instance in
  service are refused, as AWS refuses them (moto accepts both).

Test hooks under /_emulator/: `requests` (GET the recorded RDS actions, DELETE to clear),
`faults` (POST {"action", "count", "code", "status"} to make the next calls fail; DELETE to
clear),
`blackout` (POST {"after": N}: after answering the N-th mutating call, every later AWS
request fails until the switch is cleared with {"after": null}: the client is cut off, as
when a runner dies mid-run, while the emulated account keeps its state),
`scale` (POST {"seconds_per_unit": x}), `s3-latency` (POST {"seconds": x}: every S3 request
waits that long before it is served, outside the lock, as a request to AWS takes its time), `status` (POST {"id", "status"}: force a status),
`settle` (POST: run every scheduled transition now), `deny-role` (POST {"arn"}: AssumeRole of
that role answers AccessDenied, as a trust policy that does not allow the caller would), `global` (POST {"cluster", "global"}: make
a cluster a member of a global database), `password` (POST {"id"}: the master password an
instance or cluster has now), `backup` (POST {"id"}: with --databases, take the automated
snapshots' data again), `data` (POST: with --databases, the real databases held, orphaned and
on the servers), `note` (POST {"note"}: add a marker to
the record, e.g. from a hook), `replica-lag` (POST {"id", "seconds"}: the ReplicaLag CloudWatch
reports for a replica, served in the CBOR protocol the Rust SDK speaks to CloudWatch), `reset`
(POST: empty everything).

Usage: python server.py [--host 127.0.0.1] [--port 0] [--scale SECONDS]
Prints "listening on http://HOST:PORT" once ready.
"""

import argparse
import copy
import json
import os
import random
import string
import sys
import threading
import time
from urllib.parse import parse_qs

from moto.rds import models as rds_models
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    DBClusterToBeDeletedHasActiveMembers,
    DBInstanceAlreadyExists,
    DBInstanceNotFoundError,
    DBParameterGroupNotFoundError,
    InvalidParameterCombination,
    RDSClientError,
)
from moto.rds.models import DBCluster, DBInstance, RDSBackend

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402  (real data behind instances and clusters: --databases)

LOCK = threading.RLock()
SCALE = {"unit": 0.05}  # seconds of wall time per simulated "unit" (about a minute of RDS)
EVENTS = []  # (due, seq, fn)
SEQ = [0]
RECORD = []
FAULTS = []
# Cut the client off: after `after` successful mutating calls, or (`after_kind`) right after
# the first successful mutating call of that kind (see call_kind); every later request fails.
BLACKOUT = {"after": None, "seen": 0, "after_kind": None}

# Durations in units.
D_CREATE, D_BACKUP, D_LAG, D_MODIFY, D_GAP, D_RENAME, D_DELETE, D_PROMOTE = (
    4.0, 1.0, 0.6, 1.5, 0.6, 1.0, 2.0, 2.0)

MUTATING_PREFIXES = ("Create", "Modify", "Delete", "Promote", "Restore", "Reboot",
                     "AddTags", "RemoveTags", "Start", "Stop", "Copy",
                     # S3 and Auto Scaling
                     "Put", "Upload", "Complete", "Abort", "Enter", "Exit", "Suspend",
                     "Resume", "Update")


def now():
    return time.monotonic()


def schedule(after_units, fn):
    with LOCK:
        SEQ[0] += 1
        EVENTS.append((now() + after_units * SCALE["unit"], SEQ[0], fn))
        EVENTS.sort(key=lambda e: (e[0], e[1]))


def advance():
    """Runs every event that is due, in order."""
    with LOCK:
        while EVENTS and EVENTS[0][0] <= now():
            _, _, fn = EVENTS.pop(0)
            try:
                fn()
            except Exception as e:  # an event must never break the server
                print(f"emulator event failed: {e!r}", file=sys.stderr)


def resource_id():
    return "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))


def require_available(db):
    if db.status != "available":
        raise RDSClientError(
            "InvalidDBInstanceState",
            f"DB instance {db.db_instance_identifier} is not in available state "
            f"(it is {db.status}).")


def find(backend, ident):
    db = backend.databases.get(ident)
    if db is None:
        raise DBInstanceNotFoundError(ident)
    return db


def reserved(backend, ident):
    return ident in backend.databases or ident in LIMBO


LIMBO = {}  # new identifier -> instance, while a rename is in flight


def timeline(db, steps):
    """Sets db.status through `steps` [(status, units)], then `available`."""
    t = 0.0
    db.status = steps[0][0]
    for i, (status, units) in enumerate(steps):
        t += units
        nxt = steps[i + 1][0] if i + 1 < len(steps) else "available"
        schedule(t, lambda nxt=nxt: setattr(db, "status", nxt))


def fix_links_after_rename(backend, old, new):
    # Instances in the middle of their own rename keep their links too.
    for other in list(backend.databases.values()) + list(LIMBO.values()):
        if other.source_db_instance_identifier == old:
            other.source_db_instance_identifier = new
        other.replicas = [new if r == old else r for r in other.replicas]


def detach(backend, db):
    """db stops being a replica: leaves its parent's list and forgets its source."""
    parent = backend.databases.get(db.source_db_instance_identifier or "")
    if parent is not None and db.db_instance_identifier in parent.replicas:
        parent.replicas.remove(db.db_instance_identifier)
    db.source_db_instance_identifier = None
    db.is_replica = False


orig_create = RDSBackend.create_db_instance
orig_replica = RDSBackend.create_db_instance_read_replica
orig_restore = RDSBackend.restore_db_instance_from_db_snapshot
orig_modify = RDSBackend.modify_db_instance
orig_delete = RDSBackend.delete_db_instance
orig_snapshot = RDSBackend.create_db_snapshot


RESTORING = threading.local()


def restoring(fn, *args, **kwargs):
    """Runs one of moto's restores, which create through create_db_instance/create_db_cluster:
    the restore, not that create, gives the new resource its data (data.own)."""
    RESTORING.active = True
    try:
        return fn(*args, **kwargs)
    finally:
        RESTORING.active = False


def created_with_data(resource):
    """A resource created directly (not by a restore) starts with an empty database."""
    if not getattr(RESTORING, "active", False):
        data.own(resource)


def create_db_instance(self, db_kwargs):
    ident = db_kwargs["db_instance_identifier"]
    if reserved(self, ident):
        raise DBInstanceAlreadyExists()
    cluster = None
    if db_kwargs.get("db_cluster_identifier"):
        # A member is added to an available cluster only.
        cluster = find_cluster(self, db_kwargs["db_cluster_identifier"].lower())
        require_cluster_available(cluster)
    db = orig_create(self, db_kwargs)
    db.dbi_resource_id = resource_id()
    db.performance_insights_enabled = bool(db_kwargs.get("enable_performance_insights"))
    db.pending_modified_values = {}
    # Instances created directly (seeding) are available at once; clones go through a
    # timeline, and so do the members of a cluster the tool restored.
    if getattr(cluster, "emulator_restored", False):
        timeline(db, [("creating", D_CREATE)])
    if cluster is None:
        created_with_data(db)
    elif data.enabled():
        db.port = cluster.port
    return db


def create_db_instance_read_replica(self, db_kwargs):
    ident = db_kwargs["db_instance_identifier"]
    if reserved(self, ident):
        raise DBInstanceAlreadyExists()
    source = self.find_db_from_id(db_kwargs["source_db_instance_identifier"])
    require_available(source)
    pg = db_kwargs.get("db_parameter_group_name")
    if pg and pg not in self.db_parameter_groups:
        raise DBParameterGroupNotFoundError(pg)
    tags = db_kwargs.pop("tags", None) or []
    exports = db_kwargs.pop("enable_cloudwatch_logs_exports", None) or []
    db = orig_replica(self, db_kwargs)
    # moto copies the source shallowly: give the replica lists of its own.
    db.tags = copy.deepcopy(tags)
    db.vpc_security_group_ids = list(db_kwargs.get("vpc_security_group_ids")
                                     or source.vpc_security_group_ids)
    db.enabled_cloudwatch_logs_exports = list(exports)
    db.backup_retention_period = 0
    db.deletion_protection = bool(db_kwargs.get("deletion_protection", False))
    db.performance_insights_enabled = bool(db_kwargs.get("enable_performance_insights"))
    db.dbi_resource_id = resource_id()
    db.pending_modified_values = {}
    db.source_db_instance_identifier = source.db_instance_identifier
    db.is_replica = True
    if data.enabled():
        db.port = source.port  # it reads its source's database (data.py)
    timeline(db, [("creating", D_CREATE)])
    return db


def restore_db_instance_from_db_snapshot(self, from_snapshot_id, overrides):
    ident = overrides["db_instance_identifier"]
    if reserved(self, ident):
        raise DBInstanceAlreadyExists()
    snap = self.describe_db_snapshots(None, from_snapshot_id)[0]
    if snap.status != "available":
        raise RDSClientError("InvalidDBSnapshotState",
                             f"Snapshot {from_snapshot_id} is {snap.status}, not available.")
    tags = overrides.pop("tags", None) or []
    # moto invents default option group names it then cannot find ("default:postgres-16-3");
    # RDS always has its default groups.
    option_group = overrides.get("option_group_name") or ""
    if option_group.startswith("default:"):
        overrides.pop("option_group_name")
    db = restoring(orig_restore, self, from_snapshot_id, overrides)
    if option_group:
        db.option_group_name = option_group
    db = restored_instance(db, overrides, tags)
    data.own(db, source=snap)
    return db


def restored_instance(db, overrides, tags):
    """What every restore (snapshot, point in time) sets on the new instance: moto drops
    false/0 overrides and copies its origin wholesale; RDS makes a standalone instance with its
    own identity and tags, creating and then taking its first backup."""
    for key, value in overrides.items():
        if value is not None and not value and key not in ("db_instance_identifier",):
            setattr(db, key, value)
    db.tags = copy.deepcopy(tags)
    db.replicas = []
    db.is_replica = False
    db.source_db_instance_identifier = None
    db.dbi_resource_id = resource_id()
    db.performance_insights_enabled = False
    db.pending_modified_values = {}
    timeline(db, [("creating", D_CREATE), ("backing-up", D_BACKUP)])
    return db


orig_pitr_instance = RDSBackend.restore_db_instance_to_point_in_time


def restore_db_instance_to_point_in_time(self, source_db_identifier, target_db_identifier,
                                         overrides):
    """moto makes the restored instance a replica of its source, validates neither the time
    nor the source's backups, and drops false overrides; RDS does none of that."""
    import datetime
    target = target_db_identifier.lower()
    if reserved(self, target):
        raise DBInstanceAlreadyExists()
    source = find(self, source_db_identifier)
    restore_time = overrides.get("restore_time")
    if restore_time is not None and overrides.get("use_latest_restorable_time"):
        raise InvalidParameterCombination(
            "Cannot specify both RestoreTime and UseLatestRestorableTime.")
    if not source.backup_retention_period:
        raise RDSClientError("InvalidDBInstanceState",
                             f"DB instance {source.db_instance_identifier} has no automated "
                             "backups: point-in-time restore is not available.")
    if restore_time is not None:
        now = datetime.datetime.now(datetime.timezone.utc)
        created = source.created if isinstance(source.created, datetime.datetime) else None
        when = restore_time if restore_time.tzinfo else restore_time.replace(
            tzinfo=datetime.timezone.utc)
        if when > now or (created is not None and when < created.replace(
                tzinfo=created.tzinfo or datetime.timezone.utc)):
            raise RDSClientError("InvalidRestoreFault",
                                 "The restore time is outside the restorable window.")
    tags = overrides.pop("tags", None) or []
    option_group = overrides.get("option_group_name") or ""
    if option_group.startswith("default:"):
        overrides.pop("option_group_name")
    db = restoring(orig_pitr_instance, self, source_db_identifier, target, overrides)
    # The groups asked for, not the source's (RDS's default group when none is asked for).
    db.vpc_security_group_ids = list(overrides.get("vpc_security_group_ids") or [])
    db = restored_instance(db, overrides, tags)
    data.own(db, source=source)
    return db


PENDING_FIELDS = {
    "db_instance_class": "DBInstanceClass",
    "port": "Port",
    "backup_retention_period": "BackupRetentionPeriod",
    "multi_az": "MultiAZ",
    "storage_type": "StorageType",
    "iops": "Iops",
}


def modify_db_instance(self, db_instance_identifier, db_kwargs):
    db = find(self, db_instance_identifier)
    require_available(db)
    if "db_port_number" in db_kwargs:
        db_kwargs["port"] = db_kwargs.pop("db_port_number")
    pg = db_kwargs.get("db_parameter_group_name")
    if pg and pg not in self.db_parameter_groups and not db.is_default_parameter_group(pg):
        raise DBParameterGroupNotFoundError(pg)
    new_id = db_kwargs.pop("new_db_instance_identifier", None)
    if new_id:
        new_id = new_id.lower()
        if reserved(self, new_id):
            raise DBInstanceAlreadyExists()
        LIMBO[new_id] = db
    kwargs = {k: v for k, v in db_kwargs.items()
              if k not in ("db_instance_identifier", "apply_immediately")}
    enable_pi = kwargs.pop("enable_performance_insights", None)
    backups_before = db.backup_retention_period
    pending = {PENDING_FIELDS[k]: v for k, v in kwargs.items() if k in PENDING_FIELDS}
    if new_id:
        pending["DBInstanceIdentifier"] = new_id

    def start():
        db.status = "renaming" if new_id else "modifying"
        db.pending_modified_values = pending

    def finish():
        if kwargs:
            kwargs["db_instance_identifier"] = db.db_instance_identifier
            orig_modify(self, db.db_instance_identifier, dict(kwargs))
        if enable_pi is not None:
            db.performance_insights_enabled = bool(enable_pi)
        db.pending_modified_values = {}
        if backups_before == 0 and (db.backup_retention_period or 0) > 0:
            timeline(db, [("backing-up", D_BACKUP)])
        else:
            db.status = "available"

    if new_id:
        old_id = db.db_instance_identifier

        def vanish():
            self.databases.pop(old_id, None)

        def reappear():
            LIMBO.pop(new_id, None)
            db.db_instance_identifier = new_id
            self.databases[new_id] = db
            fix_links_after_rename(self, old_id, new_id)
            endpoints_follow_member(old_id, new_id)
            db.status = "rebooting"

        schedule(D_LAG, start)
        schedule(D_LAG + 0.01, vanish)
        schedule(D_LAG + D_GAP, reappear)
        schedule(D_LAG + D_GAP + D_RENAME, finish)
    else:
        # Right after the call RDS may still show the old values as `available`.
        schedule(D_LAG, start)
        schedule(D_LAG + D_MODIFY, finish)
    return db


def promote_read_replica(self, db_kwargs):
    ident = db_kwargs["db_instance_identifier"]
    db = find(self, ident)
    require_available(db)
    if not db.is_replica and not db.source_db_instance_identifier:
        raise RDSClientError("InvalidDBInstanceState",
                             f"DB instance {ident} is not a read replica.")
    retention = db_kwargs.get("backup_retention_period")

    def finish():
        data.fork(db)  # it stops reading its source: it keeps a copy
        detach(self, db)
        if retention is not None:
            db.backup_retention_period = retention
        db.status = "available"

    schedule(D_LAG, lambda: setattr(db, "status", "modifying"))
    schedule(D_LAG + D_PROMOTE * 0.5, lambda: setattr(db, "status", "rebooting"))
    schedule(D_LAG + D_PROMOTE, finish)
    return db


def delete_db_instance(self, db_instance_identifier, final_db_snapshot_identifier=None,
                       skip_final_snapshot=False, delete_automated_backups=True):
    db = find(self, db_instance_identifier)
    if db.deletion_protection:
        raise InvalidParameterCombination(
            "Cannot delete protected DB Instance, please disable deletion protection and try again.")
    if db.status not in ("available", "stopped", "failed", "incompatible-parameters",
                         "storage-full"):
        require_available(db)
    if final_db_snapshot_identifier and not skip_final_snapshot:
        final = orig_snapshot(self, db_instance_identifier, final_db_snapshot_identifier)
        data.capture(final, db)

    def finish():
        # Deleting a primary promotes its replicas.
        for other in list(self.databases.values()):
            if other.source_db_instance_identifier == db.db_instance_identifier:
                data.fork(other)
                detach(self, other)
        data.forget(db)
        detach(self, db)
        self.databases.pop(db.db_instance_identifier, None)
        endpoints_follow_member(db.db_instance_identifier, None)
        for snap in list(self.database_snapshots.values()):
            if snap.snapshot_type == "automated" and snap.database is db:
                self.database_snapshots.pop(snap.db_snapshot_identifier, None)
                data.forget(snap)

    db.status = "deleting"
    schedule(D_DELETE, finish)
    return db


def create_db_snapshot(self, db_instance_identifier, db_snapshot_identifier,
                       snapshot_type="manual", tags=None, original_created_at=None,
                       kms_key_id=None):
    snap = orig_snapshot(self, db_instance_identifier, db_snapshot_identifier, snapshot_type,
                         tags, original_created_at, kms_key_id)
    data.capture(snap, self.databases.get(db_instance_identifier))
    if snapshot_type == "manual":
        snap.status = "creating"
        schedule(D_CREATE, lambda: setattr(snap, "status", "available"))
    return snap



# --- Aurora clusters -------------------------------------------------------------------------

CLUSTER_LIMBO = {}  # new identifier -> cluster, while a cluster rename is in flight
D_CLONE = 3.0

# moto flips `creating` to `available` on the first read: statuses are ours to set.
DBCluster.status = property(lambda self: self._status,
                            lambda self, value: setattr(self, "_status", value))


def cluster_reserved(backend, ident):
    return ident in backend.clusters or ident in CLUSTER_LIMBO


def cluster_exists_fault(ident):
    return RDSClientError("DBClusterAlreadyExistsFault", f"DB cluster {ident} already exists.")


def find_cluster(backend, ident):
    cluster = backend.clusters.get(ident)
    if cluster is None:
        raise DBClusterNotFoundError(ident)
    return cluster


def require_cluster_available(cluster):
    if cluster.status != "available":
        raise RDSClientError(
            "InvalidDBClusterStateFault",
            f"DbCluster {cluster.db_cluster_identifier} is in {cluster.status} state but "
            "expected it to be one of available.")


def restored_cluster(cluster, tags, restore_type):
    """What every restore sets on the new cluster: its own tags and identity, no pending
    changes, a creating timeline; members created in it later go through one too."""
    cluster.tags = copy.deepcopy(tags or [])
    cluster.pending_modified_values = None
    cluster.emulator_restore_type = restore_type
    cluster.emulator_restored = True
    timeline(cluster, [("creating", D_CLONE)])
    return cluster


orig_create_cluster = RDSBackend.create_db_cluster


def create_db_cluster(self, kwargs):
    """Clusters created directly (seeding) are available at once; restores get a timeline.
    An existing identifier is refused (moto replaces the cluster)."""
    if cluster_reserved(self, kwargs["db_cluster_identifier"].lower()):
        raise cluster_exists_fault(kwargs["db_cluster_identifier"])
    cluster = orig_create_cluster(self, kwargs)
    cluster.status = "available"
    created_with_data(cluster)
    return cluster


orig_pitr = RDSBackend.restore_db_cluster_to_point_in_time
orig_cluster_restore = RDSBackend.restore_db_cluster_from_snapshot
orig_modify_cluster = RDSBackend.modify_db_cluster
orig_delete_cluster = RDSBackend.delete_db_cluster
orig_cluster_snapshot = RDSBackend.create_db_cluster_snapshot


def restore_db_cluster_to_point_in_time(self, db_cluster_identifier,
                                        source_db_cluster_identifier,
                                        restore_type="full-copy", restore_to_time=None,
                                        use_latest_restorable_time=False, **overrides):
    if restore_type not in ("full-copy", "copy-on-write"):
        raise RDSClientError("InvalidParameterValue",
                             f"Invalid RestoreType {restore_type!r}: use full-copy or copy-on-write.")
    if cluster_reserved(self, db_cluster_identifier.lower()):
        raise cluster_exists_fault(db_cluster_identifier)
    source = find_cluster(self, source_db_cluster_identifier)
    require_cluster_available(source)
    if restore_to_time is not None:
        import datetime
        when = restore_to_time if restore_to_time.tzinfo else restore_to_time.replace(
            tzinfo=datetime.timezone.utc)
        earliest = source.earliest_restorable_time
        earliest = earliest if earliest.tzinfo else earliest.replace(tzinfo=datetime.timezone.utc)
        if when > datetime.datetime.now(datetime.timezone.utc) or when < earliest:
            raise RDSClientError("InvalidRestoreFault",
                                 "The restore time is outside the restorable window.")
    if restore_type == "copy-on-write" and not source.members:
        raise RDSClientError("InvalidDBClusterStateFault",
                             f"Cannot clone DB cluster {source.db_cluster_identifier}: it has "
                             "no DB instances.")
    tags = overrides.pop("tags", None)
    cluster = restoring(orig_pitr, self, db_cluster_identifier, source_db_cluster_identifier, restore_type,
                        restore_to_time, use_latest_restorable_time, **overrides)
    cluster.vpc_security_group_ids = list(overrides.get("vpc_security_group_ids")
                                          or source.vpc_security_group_ids)
    if restore_type == "copy-on-write":
        if not getattr(source, "clone_group_id", None):
            source.clone_group_id = "".join(random.choices(string.hexdigits.lower(), k=32))
        cluster.clone_group_id = source.clone_group_id
    else:
        cluster.clone_group_id = None
    cluster = restored_cluster(cluster, tags, restore_type)
    data.own(cluster, source=source)
    return cluster


def restore_db_cluster_from_snapshot(self, from_snapshot_id, overrides):
    ident = overrides["db_cluster_identifier"].lower()
    if cluster_reserved(self, ident):
        raise cluster_exists_fault(ident)
    snap = self.describe_db_cluster_snapshots(None, from_snapshot_id)[0]
    if snap.status != "available":
        raise RDSClientError("InvalidDBClusterSnapshotStateFault",
                             f"Snapshot {from_snapshot_id} is {snap.status}, not available.")
    tags = overrides.pop("tags", None)
    cluster = restoring(orig_cluster_restore, self, from_snapshot_id, overrides)
    # moto drops false/0 overrides and copies the snapshot's cluster wholesale.
    for key, value in overrides.items():
        if value is not None and not value and key != "db_cluster_identifier":
            setattr(cluster, key, value)
    cluster.clone_group_id = None
    cluster = restored_cluster(cluster, tags, "snapshot")
    data.own(cluster, source=snap)
    return cluster


def modify_db_cluster(self, kwargs):
    cluster = find_cluster(self, kwargs["db_cluster_identifier"])
    require_cluster_available(cluster)
    new_id = kwargs.pop("new_db_cluster_identifier", None)
    immediately = bool(kwargs.get("apply_immediately"))
    if new_id:
        new_id = new_id.lower()
        if cluster_reserved(self, new_id):
            raise cluster_exists_fault(new_id)
        if not immediately:
            # RDS renames in the next maintenance window.
            cluster.pending_modified_values = {"DBClusterIdentifier": new_id}
            new_id = None
    rest = {k: v for k, v in kwargs.items() if k not in ("apply_immediately",)}
    changes = {k: v for k, v in rest.items() if k != "db_cluster_identifier" and v is not None}

    def apply_changes():
        if changes:
            args = dict(changes)
            args["db_cluster_identifier"] = cluster.db_cluster_identifier
            orig_modify_cluster(self, args)
        cluster.status = "available"

    if new_id:
        old_id = cluster.db_cluster_identifier
        CLUSTER_LIMBO[new_id] = cluster

        def vanish():
            self.clusters.pop(old_id, None)

        def reappear():
            CLUSTER_LIMBO.pop(new_id, None)
            cluster.db_cluster_identifier = new_id
            self.clusters[new_id] = cluster
            # The members follow their cluster (moto leaves them naming the old id), and so
            # do its custom endpoints.
            for db in list(self.databases.values()) + list(LIMBO.values()):
                if getattr(db, "db_cluster_identifier", None) == old_id:
                    db.db_cluster_identifier = new_id
            endpoints_follow_cluster(old_id, new_id)

        schedule(D_LAG, lambda: setattr(cluster, "status", "renaming"))
        schedule(D_LAG + 0.01, vanish)
        schedule(D_LAG + D_GAP, reappear)
        schedule(D_LAG + D_GAP + D_RENAME, apply_changes)
    elif changes:
        schedule(D_LAG, lambda: setattr(cluster, "status", "modifying"))
        schedule(D_LAG + D_MODIFY, apply_changes)
    return cluster


def delete_db_cluster(self, cluster_identifier, snapshot_name=None):
    cluster = find_cluster(self, cluster_identifier)
    if cluster.deletion_protection:
        raise InvalidParameterCombination(
            "Cannot delete protected Cluster, please disable deletion protection and try again.")
    if cluster.members:
        raise DBClusterToBeDeletedHasActiveMembers()
    require_cluster_available(cluster)
    if snapshot_name:
        final = orig_cluster_snapshot(self, cluster_identifier, snapshot_name)
        data.capture(final, cluster)
    cluster.status = "deleting"

    def finish():
        # A cluster's custom endpoints go with it.
        for name in [n for n, e in ENDPOINTS.items()
                     if e["DBClusterIdentifier"] == cluster.db_cluster_identifier]:
            ENDPOINTS.pop(name, None)
        self.clusters.pop(cluster.db_cluster_identifier, None)
        data.forget(cluster)

    schedule(D_DELETE, finish)
    return cluster


def create_db_cluster_snapshot(self, db_cluster_identifier, db_cluster_snapshot_identifier,
                               snapshot_type="manual", tags=None):
    snap = orig_cluster_snapshot(self, db_cluster_identifier, db_cluster_snapshot_identifier,
                                 snapshot_type, tags)
    data.capture(snap, self.clusters.get(db_cluster_identifier))
    if snapshot_type == "manual":
        snap.status = "creating"
        schedule(D_CREATE, lambda: setattr(snap, "status", "available"))
    return snap


def designate_writer(self):
    """moto names a new writer whenever it does not see one among the members it lists, which
    leaves out a member mid-rename: a rename would then change the writer, and the cluster
    end with two. RDS keeps the writer; only a cluster with no writer at all gets one."""
    members = [db for db in list(self.backend.databases.values()) + list(LIMBO.values())
               if getattr(db, "db_cluster_identifier", None) == self.db_cluster_identifier
               and hasattr(db, "is_cluster_writer")]
    if members and not any(db.is_cluster_writer for db in members):
        min(members, key=lambda db: db.promotion_tier).is_cluster_writer = True


DBCluster.designate_writer = designate_writer
RDSBackend.create_db_cluster = create_db_cluster
RDSBackend.restore_db_cluster_to_point_in_time = restore_db_cluster_to_point_in_time
RDSBackend.restore_db_cluster_from_snapshot = restore_db_cluster_from_snapshot
RDSBackend.modify_db_cluster = modify_db_cluster
RDSBackend.delete_db_cluster = delete_db_cluster
RDSBackend.create_db_cluster_snapshot = create_db_cluster_snapshot
DBCluster.clone_group_id = None

# --- Aurora custom endpoints (moto 5.2.5 has none) ----------------------------------------------

ENDPOINTS = {}  # name -> dict, as DescribeDBClusterEndpoints shows a custom endpoint


def endpoint_view(e):
    return {k: (list(v) if isinstance(v, list) else v) for k, v in e.items()}


def create_db_cluster_endpoint(self):
    from moto.core.responses import ActionResult
    with LOCK:
        backend = self.backend
        cluster_id = self.params.get("DBClusterIdentifier", "").lower()
        name = self.params.get("DBClusterEndpointIdentifier", "").lower()
        kind = self.params.get("EndpointType", "")
        static = [m.lower() for m in self.params.get("StaticMembers", []) or []]
        excluded = [m.lower() for m in self.params.get("ExcludedMembers", []) or []]
        cluster = find_cluster(backend, cluster_id)
        require_cluster_available(cluster)
        if name in ENDPOINTS:
            raise RDSClientError("DBClusterEndpointAlreadyExistsFault",
                                 f"Custom endpoint {name} already exists in this region.")
        if kind not in ("READER", "WRITER", "ANY"):
            raise RDSClientError("InvalidParameterValue", f"Invalid EndpointType {kind!r}.")
        members = {m.db_instance_identifier for m in cluster.members}
        for m in static + excluded:
            if m not in members:
                raise RDSClientError("InvalidParameterValue",
                                     f"{m} is not a member of DB cluster {cluster_id}.")
        e = {
            "DBClusterEndpointIdentifier": name,
            "DBClusterIdentifier": cluster_id,
            "DBClusterEndpointResourceIdentifier": "cluster-endpoint-" + resource_id()[3:],
            "Endpoint": f"{name}.cluster-custom-abcdefghijkl.us-east-1.rds.amazonaws.com",
            "Status": "creating",
            "EndpointType": "CUSTOM",
            "CustomEndpointType": kind,
            "StaticMembers": static,
            "ExcludedMembers": excluded,
            "DBClusterEndpointArn":
                f"arn:aws:rds:us-east-1:{backend.account_id}:cluster-endpoint:{name}",
        }
        ENDPOINTS[name] = e
        schedule(D_MODIFY, lambda: e.update(Status="available"))
        return ActionResult(endpoint_view(e))


def describe_db_cluster_endpoints(self):
    from moto.core.responses import ActionResult
    with LOCK:
        cluster_id = (self.params.get("DBClusterIdentifier") or "").lower()
        name = (self.params.get("DBClusterEndpointIdentifier") or "").lower()
        found = []
        if cluster_id and not name:
            # The cluster's own endpoints are listed too, as RDS does.
            cluster = find_cluster(self.backend, cluster_id)
            for kind, address in (("WRITER", cluster.endpoint),
                                  ("READER", cluster.reader_endpoint)):
                found.append({"DBClusterIdentifier": cluster_id, "Endpoint": address,
                              "Status": "available", "EndpointType": kind})
        for e in ENDPOINTS.values():
            if cluster_id and e["DBClusterIdentifier"] != cluster_id:
                continue
            if name and e["DBClusterEndpointIdentifier"] != name:
                continue
            found.append(endpoint_view(e))
        return ActionResult({"DBClusterEndpoints": found})


def delete_db_cluster_endpoint(self):
    from moto.core.responses import ActionResult
    with LOCK:
        name = (self.params.get("DBClusterEndpointIdentifier") or "").lower()
        e = ENDPOINTS.get(name)
        if e is None:
            raise RDSClientError("DBClusterEndpointNotFoundFault",
                                 f"Custom endpoint {name} not found.")
        if e["Status"] != "available":
            raise RDSClientError("InvalidDBClusterEndpointStateFault",
                                 f"Custom endpoint {name} is {e['Status']}.")
        e["Status"] = "deleting"
        schedule(D_MODIFY, lambda: ENDPOINTS.pop(name, None))
        return ActionResult(endpoint_view(e))


def endpoints_follow_cluster(old_id, new_id):
    for e in ENDPOINTS.values():
        if e["DBClusterIdentifier"] == old_id:
            e["DBClusterIdentifier"] = new_id


def endpoints_follow_member(old_id, new_id):
    for e in ENDPOINTS.values():
        for key in ("StaticMembers", "ExcludedMembers"):
            e[key] = [new_id if m == old_id else m for m in e[key] if new_id or m != old_id]


from moto.rds.responses import RDSResponse  # noqa: E402

RDSResponse.create_db_cluster_endpoint = create_db_cluster_endpoint
RDSResponse.describe_db_cluster_endpoints = describe_db_cluster_endpoints
RDSResponse.delete_db_cluster_endpoint = delete_db_cluster_endpoint


orig_auto_snapshot = RDSBackend.create_auto_snapshot
orig_auto_cluster_snapshot = RDSBackend.create_auto_cluster_snapshot


def create_auto_snapshot(self, db_instance_identifier, db_snapshot_identifier):
    # moto names a new instance's automated snapshot by the minute and fails the create when
    # that name exists: a clone made, discarded and made again within a minute (a rollback
    # and a rerun). AWS keeps no such snapshot in the way of a create: the newer one wins.
    data.forget(self.database_snapshots.pop(db_snapshot_identifier, None))
    return orig_auto_snapshot(self, db_instance_identifier, db_snapshot_identifier)


def create_auto_cluster_snapshot(self, db_cluster_identifier, db_snapshot_identifier):
    data.forget(self.cluster_snapshots.pop(db_snapshot_identifier, None))
    return orig_auto_cluster_snapshot(self, db_cluster_identifier, db_snapshot_identifier)


RDSBackend.create_auto_snapshot = create_auto_snapshot
RDSBackend.create_auto_cluster_snapshot = create_auto_cluster_snapshot
RDSBackend.create_db_instance = create_db_instance
RDSBackend.create_db_instance_read_replica = create_db_instance_read_replica
RDSBackend.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot
RDSBackend.restore_db_instance_to_point_in_time = restore_db_instance_to_point_in_time
RDSBackend.modify_db_instance = modify_db_instance
RDSBackend.promote_read_replica = promote_read_replica
RDSBackend.delete_db_instance = delete_db_instance
RDSBackend.create_db_snapshot = create_db_snapshot
DBInstance.pending_modified_values = {}


# --- Several accounts --------------------------------------------------------------------------
# moto serves several accounts (credentials of a role assumed in account X act in X), but looks
# a snapshot named by ARN up in the caller's own account, and accepts sharing what AWS refuses.

D_COPY = 2.0
DENIED_ROLES = set()  # role ARNs whose AssumeRole answers AccessDenied (/_emulator/deny-role)
orig_copy_snapshot = RDSBackend.copy_db_snapshot
orig_copy_cluster_snapshot = RDSBackend.copy_db_cluster_snapshot
orig_modify_snapshot_attribute = RDSBackend.modify_db_snapshot_attribute
orig_modify_cluster_snapshot_attribute = RDSBackend.modify_db_cluster_snapshot_attribute


def shared_snapshot(self, ident, cluster):
    """The snapshot another account names by ARN, when it shares it with this one; None for
    a snapshot of this account. Not shared answers not found, as AWS does."""
    if not ident.startswith("arn:"):
        return None
    parts = ident.split(":")
    region, account, name = parts[3], parts[4], ":".join(parts[6:])
    if account == self.account_id:
        return None
    other = rds_models.rds_backends[account][region]
    snaps = other.cluster_snapshots if cluster else other.database_snapshots
    snap = snaps.get(name)
    if snap is None or not ({self.account_id, "all"} & set(snap.attributes.get("restore", []))):
        code = "DBClusterSnapshotNotFoundFault" if cluster else "DBSnapshotNotFound"
        raise RDSClientError(code, f"Snapshot {ident} not found or not shared with "
                                   f"{self.account_id}.")
    return snap


def default_key(kms_key_id):
    """moto's stand-in for the AWS-managed aws/rds key (which can never be shared)."""
    return not kms_key_id or kms_key_id == "default_kms_key_id" or "alias/aws/rds" in kms_key_id


def copying(snap):
    snap.status = "creating"
    schedule(D_COPY, lambda: setattr(snap, "status", "available"))
    return snap


def snapshot_name(ident):
    """A snapshot's identifier from an ARN or an identifier (automated ones hold a colon:
    rds:NAME-DATE)."""
    if ident.startswith("arn:"):
        return ":".join(ident.split(":")[6:])
    return ident


def copy_db_snapshot(self, source_db_snapshot_identifier, target_db_snapshot_identifier,
                     kms_key_id=None, tags=None, copy_tags=False, **kw):
    shared = shared_snapshot(self, source_db_snapshot_identifier, cluster=False)
    if shared is None:
        snap = orig_copy_snapshot(self, source_db_snapshot_identifier,
                                  target_db_snapshot_identifier, kms_key_id, tags, copy_tags, **kw)
        data.copy_snapshot(snap, self.database_snapshots.get(
            snapshot_name(source_db_snapshot_identifier)))
        return copying(snap)
    if shared.encrypted and not kms_key_id:
        raise InvalidParameterCombination(
            "KmsKeyId is required to copy an encrypted snapshot shared from another account.")
    if target_db_snapshot_identifier in self.database_snapshots:
        raise RDSClientError("DBSnapshotAlreadyExists",
                             f"Snapshot {target_db_snapshot_identifier} already exists.")
    key = self._validate_kms_key(kms_key_id) if kms_key_id else None
    snap = rds_models.DBSnapshot(self, shared.database, target_db_snapshot_identifier,
                                 tags=tags or [], kms_key_id=key,
                                 original_created_at=shared.original_snapshot_create_time)
    self.database_snapshots[target_db_snapshot_identifier] = snap
    data.copy_snapshot(snap, shared)
    return copying(snap)


def copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier,
                             target_db_cluster_snapshot_identifier, kms_key_id=None,
                             copy_tags=False, tags=None, **kw):
    shared = shared_snapshot(self, source_db_cluster_snapshot_identifier, cluster=True)
    if shared is None:
        snap = orig_copy_cluster_snapshot(
            self, source_db_cluster_snapshot_identifier, target_db_cluster_snapshot_identifier,
            kms_key_id, copy_tags, tags, **kw)
        data.copy_snapshot(snap, self.cluster_snapshots.get(
            snapshot_name(source_db_cluster_snapshot_identifier)))
        return copying(snap)
    if shared.storage_encrypted and not kms_key_id:
        raise InvalidParameterCombination(
            "KmsKeyId is required to copy an encrypted snapshot shared from another account.")
    if target_db_cluster_snapshot_identifier in self.cluster_snapshots:
        raise RDSClientError("DBClusterSnapshotAlreadyExistsFault",
                             f"Snapshot {target_db_cluster_snapshot_identifier} already exists.")
    key = self._validate_kms_key(kms_key_id) if kms_key_id else None
    snap = rds_models.DBClusterSnapshot(self, shared.cluster,
                                        target_db_cluster_snapshot_identifier,
                                        tags=tags or [], kms_key_id=key)
    self.cluster_snapshots[target_db_cluster_snapshot_identifier] = snap
    data.copy_snapshot(snap, shared)
    return copying(snap)


def check_share(snap, encrypted, kms_key_id, values_to_add):
    if snap.status != "available":
        raise RDSClientError("InvalidDBSnapshotState",
                             f"Snapshot attributes cannot be changed while it is {snap.status}.")
    if not values_to_add or not encrypted:
        return
    if "all" in values_to_add:
        raise RDSClientError("InvalidParameterValue",
                             "Encrypted snapshots cannot be shared publicly.")
    if default_key(kms_key_id):
        raise RDSClientError(
            "InvalidParameterValue",
            "Snapshots encrypted with the default KMS key (aws/rds) cannot be shared: copy "
            "the snapshot with a customer managed key first.")


def modify_db_snapshot_attribute(self, db_snapshot_identifier, attribute_name,
                                 values_to_add=None, values_to_remove=None):
    snap = self.describe_db_snapshots(None, db_snapshot_identifier)[0]
    if attribute_name == "restore":
        check_share(snap, snap.encrypted, snap.kms_key_id, values_to_add)
    return orig_modify_snapshot_attribute(self, db_snapshot_identifier, attribute_name,
                                          values_to_add, values_to_remove)


def modify_db_cluster_snapshot_attribute(self, db_cluster_snapshot_identifier, attribute_name,
                                         values_to_add=None, values_to_remove=None):
    snap = self.describe_db_cluster_snapshots(None, db_cluster_snapshot_identifier)[0]
    if attribute_name == "restore":
        check_share(snap, snap.storage_encrypted, snap.kms_key_id, values_to_add)
    return orig_modify_cluster_snapshot_attribute(self, db_cluster_snapshot_identifier,
                                                  attribute_name, values_to_add,
                                                  values_to_remove)


orig_delete_snapshot = RDSBackend.delete_db_snapshot
orig_delete_cluster_snapshot = RDSBackend.delete_db_cluster_snapshot


def delete_db_snapshot(self, db_snapshot_identifier):
    snap = orig_delete_snapshot(self, db_snapshot_identifier)
    data.forget(snap)
    return snap


def delete_db_cluster_snapshot(self, db_snapshot_identifier):
    snap = orig_delete_cluster_snapshot(self, db_snapshot_identifier)
    data.forget(snap)
    return snap


orig_instance_address = DBInstance.address
orig_cluster_endpoint = DBCluster.endpoint
orig_cluster_reader_endpoint = DBCluster.reader_endpoint


def endpoint_property(kind, orig, name_of):
    """With real data (--databases), an endpoint is a loopback address that belongs to its
    name (data.py); otherwise moto's DNS name."""
    def get(self):
        if data.enabled() and data.engine_of(self) is not None:
            return data.address(self.backend, kind, name_of(self))
        return orig.fget(self)
    return property(get)


DBInstance.address = endpoint_property("instance", orig_instance_address,
                                       lambda db: db.db_instance_identifier)
DBCluster.endpoint = endpoint_property("writer", orig_cluster_endpoint,
                                       lambda c: c.db_cluster_identifier)
DBCluster.reader_endpoint = endpoint_property("reader", orig_cluster_reader_endpoint,
                                              lambda c: c.db_cluster_identifier)
RDSBackend.delete_db_snapshot = delete_db_snapshot
RDSBackend.delete_db_cluster_snapshot = delete_db_cluster_snapshot
RDSBackend.copy_db_snapshot = copy_db_snapshot
RDSBackend.copy_db_cluster_snapshot = copy_db_cluster_snapshot
RDSBackend.modify_db_snapshot_attribute = modify_db_snapshot_attribute
RDSBackend.modify_db_cluster_snapshot_attribute = modify_db_cluster_snapshot_attribute


def caller_account(environ):
    """The account a request acts in, from its access key (as moto decides it)."""
    import re
    from moto.iam.models import get_account_id_from
    match = re.search(r"Credential=([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return get_account_id_from(match.group(1)) if match else None
DBInstance.performance_insights_enabled = False


def rds_action(environ, body):
    if environ.get("REQUEST_METHOD") != "POST":
        return None, {}
    try:
        form = parse_qs(body.decode("utf-8"))
    except Exception:
        return None, {}
    action = (form.get("Action") or [None])[0]
    if action is None:
        return None, {}
    return action, {k: v[0] for k, v in form.items() if k not in ("Action", "Version")}


def s3_action(environ, body):
    """The S3 REST request as its API operation name, for the record (moto serves S3 on the
    same port; the SDK's path-style requests are told apart by their signature's scope)."""
    if "/s3/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return None, {}
    import re
    from urllib.parse import unquote
    method = environ.get("REQUEST_METHOD")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    bucket, _, key = environ.get("PATH_INFO", "").lstrip("/").partition("/")
    copy_source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if method == "GET":
        action = ("ListBuckets" if not bucket
                  else ("GetObjectTagging" if key else "GetBucketTagging") if "tagging" in query
                  else "GetObject" if key
                  else "ListObjectsV2" if "list-type" in query else "ListObjects")
    elif method == "HEAD":
        action = "HeadObject" if key else "HeadBucket"
    elif method == "PUT":
        action = (("PutObjectTagging" if key else "PutBucketTagging") if "tagging" in query
                  else ("UploadPartCopy" if copy_source else "UploadPart") if "partNumber" in query
                  else "CopyObject" if copy_source else "PutObject" if key else "CreateBucket")
    elif method == "POST":
        action = ("CreateMultipartUpload" if "uploads" in query
                  else "CompleteMultipartUpload" if "uploadId" in query
                  else "DeleteObjects" if "delete" in query else "PostObject")
    elif method == "DELETE":
        action = ("AbortMultipartUpload" if "uploadId" in query else "DeleteObject" if key
                  else "DeleteBucket")
    else:
        return None, {}
    params = {"Bucket": bucket}
    if key:
        params["Key"] = unquote(key)
    if copy_source:
        params["CopySource"] = unquote(copy_source)
    # The owners the caller expects (AWS refuses the call when the bucket is another's).
    for header, name in (("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER", "ExpectedBucketOwner"),
                         ("HTTP_X_AMZ_SOURCE_EXPECTED_BUCKET_OWNER", "ExpectedSourceBucketOwner")):
        if environ.get(header):
            params[name] = environ[header]
    if action == "DeleteObjects":
        params["Keys"] = re.findall(r"<Key>([^<]*)</Key>", body.decode("utf-8", "replace"))
    return action, params


def bucket_owner(name):
    """The account that owns bucket `name` (bucket names are global), or None."""
    from moto.s3.models import s3_backends
    found = s3_backends.bucket_accounts.get(name)
    return found[1] if found else None


def s3_owner_refusal(action, params):
    """What AWS answers and moto 5.2.5 does not check: a call whose expected bucket owner (or
    expected source bucket owner) is not the bucket's owner is refused with 403 AccessDenied."""
    checks = [(params.get("Bucket"), params.get("ExpectedBucketOwner"))]
    source = params.get("CopySource", "").lstrip("/").split("/", 1)[0].split("?", 1)[0]
    if source:
        checks.append((source, params.get("ExpectedSourceBucketOwner")))
    for bucket, expected in checks:
        owner = bucket_owner(bucket) if bucket else None
        if expected and owner and owner != expected:
            return "AccessDenied", f"Access Denied: {bucket} is not owned by {expected}"
    return None


def s3_create_bucket_tags(params, body, account):
    """CreateBucket with Tags in its CreateBucketConfiguration (which AWS applies in the same
    call, and moto 5.2.5 ignores): the new bucket gets them before anyone else can act on it."""
    import re
    from moto.s3.models import s3_backends
    text = body.decode("utf-8", "replace")
    tags = dict(re.findall(r"<Tag>\s*<Key>([^<]*)</Key>\s*<Value>([^<]*)</Value>\s*</Tag>", text))
    if tags and account:
        s3_backends[account]["aws"].put_bucket_tagging(params["Bucket"], tags)


IDENTIFIER_PARAMS = ("DBInstanceIdentifier", "DBClusterIdentifier", "TargetDBInstanceIdentifier",
                     "TargetDBClusterIdentifier", "TargetDBSnapshotIdentifier",
                     "TargetDBClusterSnapshotIdentifier", "DBSnapshotIdentifier",
                     "DBClusterSnapshotIdentifier", "DBClusterEndpointIdentifier", "ResourceName",
                     "Bucket", "AutoScalingGroupName")


def call_kind(action, params):
    """A mutating call's kind: its action and the role of what it names (the tool's lock, a
    temp- clone, an old- retiree, one of the tool's snapshots by its kind, or a name of the
    environment), and for tagging the first tag it writes or removes. The crash matrices cut a
    run after the first call of each kind."""
    text = json.dumps(params)
    if "stack-mitosis:lock:" in text:
        return f"{action}:lock"
    name = next((params[k] for k in IDENTIFIER_PARAMS if params.get(k)), "")
    name = name.rsplit(":", 1)[-1] if name.startswith("arn:") else name
    if name.startswith(("temp-", "old-")):
        role = name.split("-", 1)[0]
    elif name.startswith("stack-mitosis-"):
        rest = name[len("stack-mitosis-"):]
        role = "snapshot-" + (rest.split("-", 1)[0] if rest.split("-", 1)[0] in
                              ("transfer", "import", "final") else "fresh")
    else:
        role = "named"
    tag = next((v for k, v in sorted(params.items())
                if k.startswith(("Tags.member.1.Key", "TagKeys.member.1", "Tags.Tag.1.Key"))), "")
    return f"{action}:{role}" + (f":{tag}" if tag else "")


def autoscaling_corrections():
    """What AWS refuses and moto 5.2.5 accepts: EnterStandby with decrement below MinSize,
    ExitStandby of an instance that is not in standby."""
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.models import AutoScalingBackend
    enter, leave = (AutoScalingBackend.enter_standby_instances,
                    AutoScalingBackend.exit_standby_instances)

    def enter_standby_instances(self, group_name, instance_ids, should_decrement):
        group = self.autoscaling_groups[group_name]
        if should_decrement and group.desired_capacity - len(instance_ids) < group.min_size:
            raise ValidationError(
                f"AutoScalingGroup {group_name} has min-size={group.min_size}, "
                f"max-size={group.max_size}, and desired-size={group.desired_capacity}. "
                f"To place into standby {len(instance_ids)} instances, please update the "
                f"AutoScalingGroup sizes appropriately.")
        return enter(self, group_name, instance_ids, should_decrement)

    def exit_standby_instances(self, group_name, instance_ids):
        group = self.autoscaling_groups[group_name]
        states = {s.instance.id: s.lifecycle_state for s in group.instance_states}
        for iid in instance_ids:
            if states.get(iid) != "Standby":
                raise ValidationError(f"The instance {iid} is not in Standby.")
        return leave(self, group_name, instance_ids)

    AutoScalingBackend.enter_standby_instances = enter_standby_instances
    AutoScalingBackend.exit_standby_instances = exit_standby_instances


autoscaling_corrections()


def result_is_error(result):
    return any(b"<ErrorResponse" in chunk or b"<Error>" in chunk for chunk in result)


def all_rds_backends():
    for regions in rds_models.rds_backends.values():
        for backend in regions.values():
            yield backend


def json_response(start_response, status, payload):
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def aws_error(start_response, status, code, message):
    body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>'
            f'<Message>{message}</Message></Error><RequestId>emulator</RequestId>'
            f'</ErrorResponse>').encode()
    start_response(f"{status} Error", [("Content-Type", "text/xml"),
                                       ("Content-Length", str(len(body)))])
    return [body]


def s3_error(start_response, status, code, message):
    """An error as S3 writes it (REST XML: an unwrapped <Error>)."""
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f'<Message>{message}</Message><RequestId>emulator</RequestId></Error>').encode()
    start_response(f"{status} Error", [("Content-Type", "application/xml"),
                                       ("Content-Length", str(len(body)))])
    return [body]


# `/_emulator/s3-latency`: seconds each S3 request takes before it is served (0: none).
S3_LATENCY = {"seconds": 0.0}

# CloudWatch's ReplicaLag per instance, set by /_emulator/replica-lag: RDS publishes a
# replica's lag only as this metric.
REPLICA_LAG = {}
CLOUDWATCH_CBOR = "/service/GraniteServiceVersion20100801/operation/"


def cloudwatch_cbor(environ, start_response, path):
    """GetMetricStatistics in the RPCv2 CBOR protocol the current AWS SDKs speak to CloudWatch
    (moto 5.2.5 answers only the query protocol): ReplicaLag datapoints from REPLICA_LAG."""
    import datetime
    import cbor2
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = cbor2.loads(environ["wsgi.input"].read(length)) if length else {}
    operation = path[len(CLOUDWATCH_CBOR):]
    RECORD.append({"action": operation, "params": json.loads(json.dumps(request, default=str))})
    headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
    if operation != "GetMetricStatistics":
        start_response("400 Bad Request", headers)
        return [cbor2.dumps({"__type": "InvalidAction", "message": operation})]
    dims = {d.get("Name"): d.get("Value") for d in request.get("Dimensions", [])}
    datapoints = []
    lag = REPLICA_LAG.get(dims.get("DBInstanceIdentifier"))
    if request.get("MetricName") == "ReplicaLag" and lag is not None:
        datapoints.append({"Timestamp": datetime.datetime.now(datetime.timezone.utc),
                           "Maximum": float(lag), "Unit": "Seconds"})
    start_response("200 OK", headers)
    return [cbor2.dumps({"Label": request.get("MetricName", ""), "Datapoints": datapoints},
                        datetime_as_timestamp=True)]


def make_app(moto_app):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return control(environ, start_response, path)
        if path.startswith(CLOUDWATCH_CBOR):
            with LOCK:
                if BLACKOUT["after"] is not None and BLACKOUT["seen"] >= BLACKOUT["after"]:
                    RECORD.append({"action": path[len(CLOUDWATCH_CBOR):], "params": {},
                                   "fault": "blackout"})
                    return aws_error(start_response, 503, "ServiceUnavailable", "emulator blackout")
                return cloudwatch_cbor(environ, start_response, path)
        if S3_LATENCY["seconds"] and "/s3/aws4_request" in environ.get("HTTP_AUTHORIZATION", ""):
            # The network and service time of a request to S3, outside the lock: requests
            # in flight at once overlap, as they do against AWS.
            time.sleep(S3_LATENCY["seconds"])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        import io
        environ["wsgi.input"] = io.BytesIO(body)
        with LOCK:
            PRISTINE[0] = False
            advance()
            action, params = rds_action(environ, body)
            if action is None:
                action, params = s3_action(environ, body)
            mutating = bool(action) and action.startswith(MUTATING_PREFIXES)
            if action and BLACKOUT["after"] is not None and BLACKOUT["seen"] >= BLACKOUT["after"]:
                RECORD.append({"action": action, "params": params, "fault": "blackout"})
                return aws_error(start_response, 503, "ServiceUnavailable", "emulator blackout")
            if action == "AssumeRole" and params.get("RoleArn") in DENIED_ROLES:
                RECORD.append({"action": action, "params": params, "fault": "AccessDenied"})
                return aws_error(start_response, 403, "AccessDenied",
                                 f"not authorized to perform sts:AssumeRole on "
                                 f"{params.get('RoleArn')}")
            if action:
                for fault in FAULTS:
                    if fault["action"] in (action, "*") and fault["count"] > 0:
                        fault["count"] -= 1
                        RECORD.append({"action": action, "params": params, "fault": fault["code"]})
                        return aws_error(start_response, fault["status"], fault["code"],
                                         "injected by the emulator")
                refusal = s3_owner_refusal(action, params) if "Bucket" in params else None
                if refusal:
                    RECORD.append({"action": action, "params": params, "fault": refusal[0]})
                    return s3_error(start_response, 403, *refusal)
                entry = {"action": action, "params": params, "account": caller_account(environ)}
                if mutating:
                    entry["kind"] = call_kind(action, params)
                RECORD.append(entry)
            result = list(moto_app(environ, start_response))
            if action == "CreateBucket" and not result_is_error(result):
                s3_create_bucket_tags(params, body, caller_account(environ))
            if mutating and not result_is_error(result):
                if BLACKOUT["after"] is not None:
                    BLACKOUT["seen"] += 1
                elif BLACKOUT["after_kind"] and entry["kind"] == BLACKOUT["after_kind"]:
                    # This call goes through; every later one fails.
                    BLACKOUT.update({"after": 0, "seen": 0})
            return result
    return app


# Seeding a scenario makes hundreds of calls (a bucket of 300 objects, instances one by one);
# a crash matrix seeds the same scenario before every cut. So the state right after a seed
# on a freshly reset emulator is kept, and the next seed of that scenario after a reset
# restores a copy of it instead. Not with real data (the databases hold rows outside).
SAVED = {}  # scenario path -> saved state (save_state)
PRISTINE = [True]  # nothing happened since the start or the last reset


def live_backends():
    from moto.core.base_backend import BackendDict
    return [(bd, account, region, backend)
            for bd in BackendDict._instances for account, region, backend in bd.iter_backends()]


def copy_s3_key(key, memo):
    """A deep copy of a moto S3 key through its pickling state, keeping its size: the parts of
    a completed multipart upload are disposed of (their bytes are gone) but keep the size that
    HeadObject with partNumber answers, which the pickling state would reset to 0. A saved
    copy also keeps its bytes apart from its file: moto's reset disposes of every key ever
    made, saved copies included."""
    state = key.__getstate__()
    if getattr(key, "saved_value", None) is not None and key.disposed:
        state["value"] = key.saved_value
    state.pop("saved_value", None)
    new = type(key).__new__(type(key))
    memo[id(key)] = new
    new.__setstate__(copy.deepcopy(state, memo))
    new.contentsize = key.contentsize
    new.saved_value = state["value"] if memo.get("saving") else None
    return new


def save_state():
    """Every moto backend's state and the layer's own, copied: references between backends
    stay references to the live backend objects (they are kept and refilled on restore)."""
    from moto.s3.models import FakeKey, s3_backends
    FakeKey.__deepcopy__ = copy_s3_key
    backends = live_backends()
    memo = {id(b): b for (_, _, _, b) in backends}
    memo["saving"] = True
    return {
        "backends": [(bd, account, region, backend, copy.deepcopy(backend.__dict__, memo))
                     for (bd, account, region, backend) in backends],
        "endpoints": copy.deepcopy(ENDPOINTS),
        "bucket_accounts": dict(s3_backends.bucket_accounts),
    }


def restore_state(saved):
    from moto.core.base_backend import BackendDict
    for bd in BackendDict._instances:
        bd.clear()
    BackendDict._instances.clear()
    memo = {id(entry[3]): entry[3] for entry in saved["backends"]}
    for bd, account, region, backend, state in saved["backends"]:
        dict.__setitem__(bd[account], region, backend)
        backend.__dict__.clear()
        backend.__dict__.update(copy.deepcopy(state, memo))
    ENDPOINTS.clear()
    ENDPOINTS.update(copy.deepcopy(saved["endpoints"]))
    from moto.s3.models import s3_backends
    s3_backends.bucket_accounts.clear()
    s3_backends.bucket_accounts.update(saved["bucket_accounts"])


def control(environ, start_response, path):
    method = environ.get("REQUEST_METHOD")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    # The seeder and the describer, served here instead of in a process of their own each
    # time (a test seeds and describes many times). They call the emulator back over HTTP
    # like any client: outside the lock, on the server's other threads.
    own = f"http://127.0.0.1:{environ.get('SERVER_PORT')}"
    if path == "/_emulator/seed":
        scenario = body["scenario"]
        keep = PRISTINE[0] and not data.enabled()
        if keep and scenario in SAVED:
            with LOCK:
                restore_state(SAVED[scenario])
                RECORD.clear()
                PRISTINE[0] = False
            return json_response(start_response, "200 OK", {"seeded": scenario, "restored": True})
        import seed
        with open(scenario) as f:
            seed.seed(json.load(f), own)
        with LOCK:
            if keep and not EVENTS and not LIMBO and not CLUSTER_LIMBO:
                SAVED[scenario] = save_state()
            RECORD.clear()
        return json_response(start_response, "200 OK", {"seeded": scenario})
    if path == "/_emulator/describe":
        import describe
        answer = describe.main(list(body.get("args", [])) + ["--endpoint", own]).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(answer)))])
        return [answer]
    with LOCK:
        if path == "/_emulator/requests":
            if method == "DELETE":
                RECORD.clear()
            return json_response(start_response, "200 OK", RECORD)
        if path == "/_emulator/faults" and method == "DELETE":
            FAULTS.clear()
            return json_response(start_response, "200 OK", FAULTS)
        if path == "/_emulator/faults":
            FAULTS.append({"action": body["action"], "count": int(body.get("count", 1)),
                           "code": body.get("code", "Throttling"),
                           "status": int(body.get("status", 400))})
            return json_response(start_response, "200 OK", FAULTS)
        if path == "/_emulator/blackout":
            BLACKOUT["after"] = body.get("after")
            BLACKOUT["after_kind"] = body.get("after_kind")
            BLACKOUT["seen"] = 0
            return json_response(start_response, "200 OK", BLACKOUT)
        if path == "/_emulator/lapse-locks":
            # A dead run's lock, lapsed now instead of at its expiry: the tags stay (the tool
            # finds them and takes over), their expiry is in the past. With "remove": gone,
            # as the next run would remove a lapsed lock.
            lapsed = []
            for backend in all_rds_backends():
                for db in list(backend.databases.values()) + list(backend.clusters.values()):
                    tags = getattr(db, "tags", None) or []
                    for tag in tags:
                        if tag.get("Key", "").startswith("stack-mitosis:lock:"):
                            tag["Value"] = "1"
                            lapsed.append(tag["Key"])
                    if body.get("remove") and tags:
                        db.tags = [t for t in tags
                                   if not t.get("Key", "").startswith("stack-mitosis:lock:")]
            return json_response(start_response, "200 OK", {"lapsed": lapsed})
        if path == "/_emulator/scale":
            SCALE["unit"] = float(body["seconds_per_unit"])
            return json_response(start_response, "200 OK", SCALE)
        if path == "/_emulator/settle":
            # Jump the clock: run every scheduled event now.
            while EVENTS:
                _, _, fn = EVENTS.pop(0)
                fn()
            return json_response(start_response, "200 OK", {"settled": True})
        if path == "/_emulator/status":
            for backend in all_rds_backends():
                db = backend.databases.get(body["id"]) or backend.clusters.get(body["id"])
                if db is not None:
                    db.status = body["status"]
            return json_response(start_response, "200 OK", body)
        if path == "/_emulator/global":
            # Make a cluster a member of a global database (seeding one takes a second region).
            for backend in all_rds_backends():
                cluster = backend.clusters.get(body["cluster"])
                if cluster is not None:
                    cluster.global_cluster_identifier = body["global"]
            return json_response(start_response, "200 OK", body)
        if path == "/_emulator/password":
            # The master password an instance or cluster now has (what a login would check).
            for backend in all_rds_backends():
                db = backend.databases.get(body["id"]) or backend.clusters.get(body["id"])
                if db is not None:
                    return json_response(start_response, "200 OK",
                                         {"password": getattr(db, "_master_user_password", None)})
            return json_response(start_response, "404 Not Found", body)
        if path == "/_emulator/backup":
            # The nightly backup: an instance's or cluster's automated snapshots take its data
            # again (with --databases; a seed loads rows after the create's first backup).
            taken = []
            for backend in all_rds_backends():
                for snap in backend.database_snapshots.values():
                    if snap.snapshot_type == "automated" \
                            and snap.database.db_instance_identifier == body["id"]:
                        data.capture(snap, backend.databases.get(body["id"]))
                        taken.append(snap.db_snapshot_identifier)
                for snap in backend.cluster_snapshots.values():
                    if snap.snapshot_type == "automated" \
                            and snap.cluster.db_cluster_identifier == body["id"]:
                        data.capture(snap, backend.clusters.get(body["id"]))
                        taken.append(snap.db_cluster_snapshot_identifier)
            return json_response(start_response, "200 OK", {"snapshots": taken})
        if path == "/_emulator/deny-role":
            DENIED_ROLES.add(body["arn"])
            return json_response(start_response, "200 OK", sorted(DENIED_ROLES))
        if path == "/_emulator/note":
            RECORD.append({"action": "Note", "params": {}, "note": body.get("note")})
            return json_response(start_response, "200 OK", body)
        if path == "/_emulator/reset":
            from moto.core.models import BackendDict  # noqa: F401  (moto's own reset below)
            from moto.moto_api import _internal
            _internal.moto_api_backend.reset()
            EVENTS.clear()
            LIMBO.clear()
            CLUSTER_LIMBO.clear()
            ENDPOINTS.clear()
            RECORD.clear()
            FAULTS.clear()
            BLACKOUT.update({"after": None, "seen": 0, "after_kind": None})
            REPLICA_LAG.clear()
            DENIED_ROLES.clear()
            data.reset()
            PRISTINE[0] = True
            return json_response(start_response, "200 OK", {"reset": True})
        if path == "/_emulator/data":
            # Which real databases hold data, and whether any outlived its resource.
            alive = {id(o) for backend in all_rds_backends()
                     for table in (backend.databases, backend.clusters,
                                   backend.database_snapshots, backend.cluster_snapshots)
                     for o in table.values()}
            return json_response(start_response, "200 OK", data.inventory(alive))
        if path == "/_emulator/replica-lag":
            REPLICA_LAG[body["id"]] = body.get("seconds")
            return json_response(start_response, "200 OK", REPLICA_LAG)
        if path == "/_emulator/s3-latency":
            S3_LATENCY["seconds"] = float(body.get("seconds", 0))
            return json_response(start_response, "200 OK", S3_LATENCY)
        if path == "/_emulator/health":
            return json_response(start_response, "200 OK", {"ok": True})
    return json_response(start_response, "404 Not Found", {"error": path})


def serve(argv, announce=lambda line: print(line, flush=True)):
    """Serves the emulator as `argv` asks (the command line's arguments), calling `announce`
    with "listening on http://HOST:PORT" once it accepts connections."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--scale", type=float, default=float(os.environ.get(
        "EMULATOR_SECONDS_PER_UNIT", "0.05")))
    parser.add_argument("--databases", help="servers.json of databases.py: instances and "
                        "clusters hold real data (data.py)")
    args = parser.parse_args(argv)
    if args.databases:
        data.enable(args.databases, LOCK)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the emulator only listens on loopback")
    SCALE["unit"] = args.scale
    from werkzeug.serving import make_server

    server = make_server(args.host, args.port, make_app(moto_application()), threaded=True)
    announce(f"listening on http://{args.host}:{server.server_port}")
    server.serve_forever()


def moto_application():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    return DomainDispatcherApplication(create_backend_app)


def main():
    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
