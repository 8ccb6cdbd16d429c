//! Simulated AWS: an implementation of the `RdsRead`/`RdsWrite` traits over tokio's clock (pause it for virtual
//! time) with the latency model's durations and the status transitions RDS shows: creating,
//! backing-up, modifying (after a moment of unchanged `available`), renaming (the instance
//! answers under neither name for a while), rebooting, deleting. The effect of each call is
//! `plan::predict`'s, so the simulator and the planner's model cannot drift apart.
//!
//! It counts API calls and measures, per endpoint name, how long no available instance stood
//! behind it (the swap window).

use crate::aws::{RdsRead, RdsWrite};
use crate::error::MitosisError;
use crate::observed::{Cluster, CustomEndpoint, Instance, Observed, Snapshot};
use crate::plan::{
    predict, ClusterAttrs, ClusterModify, ClusterOp, CreateAttrs, InstanceOp, LatencyModel,
    MemberAttrs, ModifyAttrs, Op, Phase, SnapshotOf, SnapshotOp, SourceTime, Step, StepId,
    StepKind, Tag,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub mod bench;

type Event = Box<dyn FnOnce(&mut World) + Send>;

struct World {
    state: Observed,
    /// Renamed instances while they answer under neither name.
    limbo: BTreeMap<String, Instance>,
    events: Vec<(Instant, u64, Event)>,
    seq: u64,
    calls: BTreeMap<&'static str, u64>,
    describe_times: Vec<Instant>,
    /// Every call: when, which operation, and a detail.
    log: Vec<(Instant, &'static str)>,
    /// Per endpoint name: when it lost its instance, and when one was available again.
    outages: BTreeMap<String, (Instant, Option<Instant>)>,
    /// Secrets Manager secrets by ARN, and the master passwords set (by resource).
    secrets: BTreeMap<String, String>,
    passwords: BTreeMap<String, String>,
}

pub struct SimRds {
    latency: LatencyModel,
    world: Mutex<World>,
    started: Instant,
}

fn err(operation: &str, message: impl Into<String>) -> MitosisError {
    MitosisError::Aws {
        operation: operation.to_string(),
        message: message.into(),
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn step(resource: &str, op: Op) -> Step {
    Step {
        id: StepId::new(StepKind::Create, "sim"),
        phase: Phase::Clone,
        resource: resource.to_string(),
        op,
        depends_on: Vec::new(),
        skip: None,
        account: Default::default(),
        part: 0,
    }
}

impl World {
    /// The snapshot is `creating` until `done`, then `available`.
    fn snapshot_creating(&mut self, snapshot_id: &str, done: Instant) {
        if let Some(s) = self
            .state
            .snapshots
            .iter_mut()
            .find(|s| s.id == snapshot_id)
        {
            s.status = "creating".into();
        }
        let sid = snapshot_id.to_string();
        self.at(
            done,
            Box::new(move |w| {
                if let Some(s) = w.state.snapshots.iter_mut().find(|s| s.id == sid) {
                    s.status = "available".into();
                }
            }),
        );
    }

    fn at(&mut self, when: Instant, event: Event) {
        self.seq += 1;
        self.events.push((when, self.seq, event));
        self.events.sort_by_key(|e| (e.0, e.1));
    }

    fn advance(&mut self, now: Instant) {
        while self.events.first().is_some_and(|e| e.0 <= now) {
            let (_, _, event) = self.events.remove(0);
            event(self);
        }
    }

    fn set_status(&mut self, id: &str, status: &str) {
        if let Some(i) = self.state.instances.get_mut(id) {
            i.status = status.to_string();
        } else if let Some(c) = self.state.clusters.get_mut(id) {
            c.status = status.to_string();
        }
    }

    fn available_at(&mut self, id: &str, now: Instant) {
        self.set_status(id, "available");
        if let Some((_, end)) = self.outages.get_mut(id) {
            if end.is_none() {
                *end = Some(now);
            }
        }
    }

    fn busy_check(&self, id: &str, operation: &str) -> Result<(), MitosisError> {
        match self.state.instances.get(id) {
            None => Err(err(operation, format!("DBInstanceNotFound: {id}"))),
            Some(i) if i.status != "available" => Err(err(
                operation,
                format!("InvalidDBInstanceState: {id} is {}", i.status),
            )),
            Some(_) => Ok(()),
        }
    }

    fn taken(&self, id: &str) -> bool {
        self.state.instances.contains_key(id) || self.limbo.contains_key(id)
    }

    fn cluster_busy_check(&self, id: &str, operation: &str) -> Result<(), MitosisError> {
        match self.state.clusters.get(id) {
            None => Err(err(operation, format!("DBClusterNotFoundFault: {id}"))),
            Some(c) if c.status != "available" => Err(err(
                operation,
                format!("InvalidDBClusterStateFault: {id} is {}", c.status),
            )),
            Some(_) => Ok(()),
        }
    }

    /// A new cluster: `creating` from now, `available` after `done`.
    fn create_cluster(
        &mut self,
        now: Instant,
        id: &str,
        op: Op,
        done: Duration,
    ) -> Result<(), MitosisError> {
        if self.state.clusters.contains_key(id) {
            return Err(err(op.action(), "DBClusterAlreadyExistsFault"));
        }
        SimRds::apply_now(self, &step(id, op))?;
        self.set_status(id, "creating");
        let id = id.to_string();
        self.at(
            now + done,
            Box::new(move |w| w.set_status(&id, "available")),
        );
        Ok(())
    }

    /// A new instance: `creating` from now, `available` after `done`.
    fn create(
        &mut self,
        now: Instant,
        id: &str,
        op: Op,
        done: Duration,
    ) -> Result<(), MitosisError> {
        if self.taken(id) {
            return Err(err(op.action(), "DBInstanceAlreadyExists"));
        }
        SimRds::apply_now(self, &step(id, op))?;
        self.set_status(id, "creating");
        let id = id.to_string();
        self.at(
            now + done,
            Box::new(move |w| w.set_status(&id, "available")),
        );
        Ok(())
    }

    /// The identifier of the instance or cluster with this ARN (tags are set by ARN), and
    /// whether it is a cluster.
    fn id_of(&self, arn: &str, operation: &str) -> Result<(String, bool), MitosisError> {
        let instance = self.state.instances.values().find(|i| i.arn == arn);
        let cluster = self.state.clusters.values().find(|c| c.arn == arn);
        match (instance, cluster) {
            (Some(i), _) => Ok((i.id.clone(), false)),
            (None, Some(c)) => Ok((c.id.clone(), true)),
            (None, None) => Err(err(operation, format!("not found: {arn}"))),
        }
    }
}

impl SimRds {
    pub fn new(state: Observed, latency: LatencyModel) -> Self {
        SimRds {
            latency,
            world: Mutex::new(World {
                state,
                limbo: BTreeMap::new(),
                events: Vec::new(),
                seq: 0,
                calls: BTreeMap::new(),
                describe_times: Vec::new(),
                log: Vec::new(),
                outages: BTreeMap::new(),
                secrets: BTreeMap::new(),
                passwords: BTreeMap::new(),
            }),
            started: Instant::now(),
        }
    }

    /// Takes the API call's latency, then runs `f` on the world as it is at that moment.
    async fn call<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut World, Instant) -> Result<T, MitosisError>,
    ) -> Result<T, MitosisError> {
        tokio::time::sleep(secs(self.latency.api_call)).await;
        let now = Instant::now();
        let mut w = self.world.lock().expect("world lock");
        w.advance(now);
        *w.calls.entry(operation).or_default() += 1;
        w.log.push((now, operation));
        if operation == "DescribeDBInstances" {
            w.describe_times.push(now);
        }
        f(&mut w, now)
    }

    /// Every call so far, as seconds since the simulator started and the operation.
    pub fn log(&self) -> Vec<(f64, &'static str)> {
        let w = self.world.lock().expect("world lock");
        w.log
            .iter()
            .map(|(t, op)| (t.duration_since(self.started).as_secs_f64(), *op))
            .collect()
    }

    /// Calls per operation so far.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.world.lock().expect("world lock").calls.clone()
    }

    /// DescribeDBInstances calls per minute over the run so far.
    pub fn describes_per_minute(&self) -> f64 {
        let w = self.world.lock().expect("world lock");
        let minutes = self.started.elapsed().as_secs_f64() / 60.0;
        if minutes <= 0.0 {
            return 0.0;
        }
        w.describe_times.len() as f64 / minutes
    }

    /// Per endpoint: how long it had no available instance (retire rename until the swapped-in
    /// instance was available under its name).
    pub fn swap_windows(&self) -> BTreeMap<String, Duration> {
        let w = self.world.lock().expect("world lock");
        w.outages
            .iter()
            .filter_map(|(k, (start, end))| Some((k.clone(), end.as_ref()?.duration_since(*start))))
            .collect()
    }

    /// The same simulator with a Secrets Manager secret.
    pub fn with_secret(self, arn: &str, value: &str) -> Self {
        self.world
            .lock()
            .expect("world lock")
            .secrets
            .insert(arn.to_string(), value.to_string());
        self
    }

    /// The master password last set on `id`, if one was.
    pub fn password(&self, id: &str) -> Option<String> {
        self.world
            .lock()
            .expect("world lock")
            .passwords
            .get(id)
            .cloned()
    }

    /// The state as it is now (for assertions).
    pub fn state(&self) -> Observed {
        let mut w = self.world.lock().expect("world lock");
        w.advance(Instant::now());
        w.state.clone()
    }

    fn apply_now(w: &mut World, s: &Step) -> Result<(), MitosisError> {
        predict(&mut w.state, s).map_err(|e| err(s.op.action(), e))
    }
}

#[async_trait]
impl RdsRead for SimRds {
    async fn describe_instances(&self) -> Result<Vec<Instance>, MitosisError> {
        self.call("DescribeDBInstances", |w, _| {
            Ok(w.state.instances.values().cloned().collect())
        })
        .await
    }

    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, MitosisError> {
        self.call("ListTagsForResource", |w, _| {
            let instance = w.state.instances.values().find(|i| i.arn == arn);
            let cluster = w.state.clusters.values().find(|c| c.arn == arn);
            instance
                .map(|i| i.tags.clone())
                .or_else(|| cluster.map(|c| c.tags.clone()))
                .ok_or_else(|| err("ListTagsForResource", format!("not found: {arn}")))
        })
        .await
    }

    async fn describe_snapshots(
        &self,
        _of: SnapshotOf,
        instance_id: &str,
    ) -> Result<Vec<Snapshot>, MitosisError> {
        self.call("DescribeDBSnapshots", |w, _| {
            Ok(w.state
                .snapshots
                .iter()
                .filter(|s| s.instance_id == instance_id)
                .cloned()
                .collect())
        })
        .await
    }

    fn region(&self) -> Option<String> {
        Some(
            self.world
                .lock()
                .expect("world lock")
                .state
                .account
                .region
                .clone(),
        )
    }

    async fn describe_some(&self, ids: &[String]) -> Result<Vec<Instance>, MitosisError> {
        self.call("DescribeDBInstances", |w, _| {
            Ok(ids
                .iter()
                .filter_map(|id| w.state.instances.get(id).cloned())
                .collect())
        })
        .await
    }

    async fn describe_clusters(&self) -> Result<Vec<Cluster>, MitosisError> {
        self.call("DescribeDBClusters", |w, _| {
            Ok(w.state.clusters.values().cloned().collect())
        })
        .await
    }

    async fn describe_endpoints(
        &self,
        cluster: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Vec<CustomEndpoint>, MitosisError> {
        self.call("DescribeDBClusterEndpoints", |w, _| {
            Ok(w.state
                .clusters
                .values()
                .filter(|c| cluster.is_none_or(|id| c.id == id))
                .flat_map(|c| c.endpoints.iter().cloned())
                .filter(|e| endpoint.is_none_or(|id| e.id == id))
                .collect())
        })
        .await
    }

    async fn describe_some_clusters(&self, ids: &[String]) -> Result<Vec<Cluster>, MitosisError> {
        self.call("DescribeDBClusters", |w, _| {
            Ok(ids
                .iter()
                .filter_map(|id| w.state.clusters.get(id).cloned())
                .collect())
        })
        .await
    }

    async fn describe_snapshot(
        &self,
        _of: SnapshotOf,
        snapshot_id: &str,
    ) -> Result<Option<Snapshot>, MitosisError> {
        self.call("DescribeDBSnapshots", |w, _| {
            Ok(w.state
                .snapshots
                .iter()
                .find(|s| s.id == snapshot_id)
                .cloned())
        })
        .await
    }

    async fn key_arn(&self, key: &str) -> Result<String, MitosisError> {
        // The simulated account's keys are whatever is asked for: key/<name> in its account.
        let name = key.rsplit('/').next().unwrap_or(key);
        Ok(format!(
            "arn:aws:kms:us-east-1:123456789012:key/{}",
            name.trim_start_matches("alias/")
        ))
    }

    async fn secret_value(&self, arn: &str) -> Result<String, MitosisError> {
        self.call("GetSecretValue", |w, _| {
            w.secrets.get(arn).cloned().ok_or_else(|| {
                err(
                    "GetSecretValue",
                    format!("ResourceNotFoundException: {arn}"),
                )
            })
        })
        .await
    }

    async fn replica_lag(&self, _id: &str) -> Result<Option<f64>, MitosisError> {
        Ok(Some(0.0))
    }
}

#[async_trait]
impl RdsWrite for SimRds {
    async fn create_read_replica(
        &self,
        id: &str,
        source: &str,
        attrs: &CreateAttrs,
    ) -> Result<(), MitosisError> {
        let done = secs(self.latency.create_replica);
        self.call("CreateDBInstanceReadReplica", |w, now| {
            w.busy_check(source, "CreateDBInstanceReadReplica")?;
            let op = Op::Instance(InstanceOp::CreateReadReplica {
                source: source.to_string(),
                attrs: attrs.clone(),
            });
            w.create(now, id, op, done)
        })
        .await
    }

    async fn restore_from_snapshot(
        &self,
        id: &str,
        snapshot_id: &str,
        attrs: &CreateAttrs,
    ) -> Result<(), MitosisError> {
        let done = secs(self.latency.restore_snapshot);
        self.call("RestoreDBInstanceFromDBSnapshot", |w, now| {
            let op = Op::Instance(InstanceOp::RestoreFromSnapshot {
                snapshot_id: Some(snapshot_id.to_string()),
                attrs: attrs.clone(),
            });
            w.create(now, id, op, done)
        })
        .await
    }

    async fn create_snapshot(
        &self,
        of: SnapshotOf,
        instance: &str,
        snapshot_id: &str,
        tags: &[Tag],
    ) -> Result<(), MitosisError> {
        let done = secs(self.latency.create_snapshot);
        self.call("CreateDBSnapshot", |w, now| {
            let create = SnapshotOp::Create {
                snapshot_id: snapshot_id.to_string(),
                tags: tags.to_vec(),
            };
            let op = match of {
                SnapshotOf::Instance => {
                    w.busy_check(instance, "CreateDBSnapshot")?;
                    Op::Snapshot(create)
                }
                SnapshotOf::Cluster => {
                    w.cluster_busy_check(instance, "CreateDBClusterSnapshot")?;
                    Op::ClusterSnapshot(create)
                }
            };
            SimRds::apply_now(w, &step(instance, op))?;
            w.snapshot_creating(snapshot_id, now + done);
            Ok(())
        })
        .await
    }

    async fn copy_snapshot(
        &self,
        _of: SnapshotOf,
        from: &str,
        snapshot_id: &str,
        _kms_key_id: Option<&str>,
        tags: &[Tag],
    ) -> Result<(), MitosisError> {
        // The simulated world is one account: a copy is a snapshot like the one copied.
        let done = secs(self.latency.copy_snapshot);
        self.call("CopyDBSnapshot", |w, now| {
            let origin = w
                .state
                .snapshots
                .iter()
                .find(|s| s.id == from || s.arn == from)
                .cloned()
                .ok_or_else(|| err("CopyDBSnapshot", format!("snapshot {from} not found")))?;
            let mut copy = origin;
            copy.id = snapshot_id.to_string();
            copy.arn = w.state.account.arn(&format!("snapshot:{snapshot_id}"));
            copy.kind = "manual".into();
            copy.tags = tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            w.state.snapshots.push(copy);
            w.snapshot_creating(snapshot_id, now + done);
            Ok(())
        })
        .await
    }

    async fn share_snapshot(
        &self,
        _of: SnapshotOf,
        snapshot_id: &str,
        _account: &str,
        _share: bool,
    ) -> Result<(), MitosisError> {
        self.call("ModifyDBSnapshotAttribute", |w, _| {
            match w.state.snapshots.iter().any(|s| s.id == snapshot_id) {
                true => Ok(()),
                false => Err(err(
                    "ModifyDBSnapshotAttribute",
                    format!("snapshot {snapshot_id} not found"),
                )),
            }
        })
        .await
    }

    async fn delete_snapshot(
        &self,
        _of: SnapshotOf,
        snapshot_id: &str,
    ) -> Result<(), MitosisError> {
        self.call("DeleteDBSnapshot", |w, _| {
            w.state.snapshots.retain(|s| s.id != snapshot_id);
            Ok(())
        })
        .await
    }

    async fn promote(&self, id: &str) -> Result<(), MitosisError> {
        let (lag, done) = (secs(self.latency.modify_lag), secs(self.latency.promote));
        self.call("PromoteReadReplica", |w, now| {
            w.busy_check(id, "PromoteReadReplica")?;
            let (a, b) = (id.to_string(), id.to_string());
            let lag = lag.min(done.mul_f64(0.2));
            w.at(now + lag, Box::new(move |w| w.set_status(&a, "modifying")));
            w.at(
                now + done,
                Box::new(move |w| {
                    let _ = SimRds::apply_now(
                        w,
                        &step(&b, Op::Instance(InstanceOp::PromoteReadReplica)),
                    );
                    w.set_status(&b, "available");
                }),
            );
            Ok(())
        })
        .await
    }

    async fn modify(&self, id: &str, m: &ModifyAttrs) -> Result<(), MitosisError> {
        let lag = secs(self.latency.modify_lag);
        let latency = self.latency.clone();
        self.call("ModifyDBInstance", |w, now| {
            w.busy_check(id, "ModifyDBInstance")?;
            let m = m.clone();
            let from = id.to_string();
            if let Some(new_id) = m.new_id.clone() {
                if w.taken(&new_id) {
                    return Err(err("ModifyDBInstance", "DBInstanceAlreadyExists"));
                }
                // The endpoint is gone from the moment the rename is asked for.
                w.outages.entry(from.clone()).or_insert((now, None)).1 = None;
                w.outages.get_mut(&from).expect("just set").0 = now;
                // The whole rename, reboot included, takes `rename`; the moment of unchanged
                // `available`, the time under neither name and the reboot are parts of it.
                let rename = secs(latency.rename);
                let lag = lag.min(rename.mul_f64(0.2));
                let (a, b, c) = (from.clone(), from.clone(), new_id.clone());
                w.at(now + lag, Box::new(move |w| w.set_status(&a, "renaming")));
                w.at(
                    now + rename.mul_f64(0.3),
                    Box::new(move |w| {
                        if let Some(i) = w.state.instances.remove(&b) {
                            w.limbo.insert(c, i);
                        }
                    }),
                );
                let (d, e) = (from.clone(), new_id.clone());
                w.at(
                    now + rename.mul_f64(0.5),
                    Box::new(move |w| {
                        if let Some(i) = w.limbo.remove(&e) {
                            w.state.instances.insert(d.clone(), i);
                            let _ = SimRds::apply_now(
                                w,
                                &step(
                                    &d,
                                    Op::Instance(InstanceOp::Modify(ModifyAttrs::rename(&e))),
                                ),
                            );
                            // Instances in the middle of their own rename keep their links too.
                            for other in w.limbo.values_mut() {
                                if other.replica_source.as_deref() == Some(d.as_str()) {
                                    other.replica_source = Some(e.clone());
                                }
                                for r in other.replicas.iter_mut().filter(|r| **r == d) {
                                    *r = e.clone();
                                }
                            }
                            w.set_status(&e, "rebooting");
                        }
                    }),
                );
                w.at(
                    now + rename,
                    Box::new(move |w| w.available_at(&new_id, now + rename)),
                );
            } else {
                let enabling_backups = m.backup_retention.is_some_and(|r| r > 0)
                    && w.state
                        .instances
                        .get(id)
                        .is_some_and(|i| i.backup_retention == 0);
                let done = secs(latency.modify);
                let lag = lag.min(done.mul_f64(0.2));
                let a = from.clone();
                w.at(
                    now + lag,
                    Box::new(move |w| {
                        w.set_status(&a, "modifying");
                        if let Some(i) = w.state.instances.get_mut(&a) {
                            i.pending_modifications = vec!["ModifyDBInstance".into()];
                        }
                    }),
                );
                let backup = secs(latency.backup_after_enabling);
                w.at(
                    now + done,
                    Box::new(move |w| {
                        let _ =
                            SimRds::apply_now(w, &step(&from, Op::Instance(InstanceOp::Modify(m))));
                        if let Some(i) = w.state.instances.get_mut(&from) {
                            i.pending_modifications.clear();
                        }
                        if enabling_backups {
                            w.set_status(&from, "backing-up");
                            let f = from.clone();
                            w.at(
                                now + done + backup,
                                Box::new(move |w| w.set_status(&f, "available")),
                            );
                        } else {
                            w.set_status(&from, "available");
                        }
                    }),
                );
            }
            Ok(())
        })
        .await
    }

    async fn set_master_password(
        &self,
        cluster: bool,
        id: &str,
        password: &str,
    ) -> Result<(), MitosisError> {
        let operation = if cluster {
            "ModifyDBCluster"
        } else {
            "ModifyDBInstance"
        };
        let (lag, done) = (secs(self.latency.modify_lag), secs(self.latency.modify));
        self.call(operation, |w, now| {
            if cluster {
                w.cluster_busy_check(id, operation)?;
            } else {
                w.busy_check(id, operation)?;
            }
            w.passwords.insert(id.to_string(), password.to_string());
            // RDS resets the credentials for a while, as for any modify.
            let (a, b) = (id.to_string(), id.to_string());
            let lag = lag.min(done.mul_f64(0.2));
            w.at(
                now + lag,
                Box::new(move |w| w.set_status(&a, "resetting-master-credentials")),
            );
            w.at(now + done, Box::new(move |w| w.set_status(&b, "available")));
            Ok(())
        })
        .await
    }

    async fn add_tags(&self, arn: &str, tags: &[Tag]) -> Result<(), MitosisError> {
        self.call("AddTagsToResource", |w, _| {
            let (id, cluster) = w.id_of(arn, "AddTagsToResource")?;
            let tags = tags.to_vec();
            let op = if cluster {
                Op::Cluster(ClusterOp::AddTags { tags })
            } else {
                Op::Instance(InstanceOp::AddTags { tags })
            };
            SimRds::apply_now(w, &step(&id, op))
        })
        .await
    }

    async fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), MitosisError> {
        self.call("RemoveTagsFromResource", |w, _| {
            let (id, cluster) = w.id_of(arn, "RemoveTagsFromResource")?;
            let keys = keys.to_vec();
            let op = if cluster {
                Op::Cluster(ClusterOp::RemoveTags { keys })
            } else {
                Op::Instance(InstanceOp::RemoveTags { keys })
            };
            SimRds::apply_now(w, &step(&id, op))
        })
        .await
    }

    async fn delete(&self, id: &str, final_snapshot_id: Option<&str>) -> Result<(), MitosisError> {
        let done = secs(self.latency.delete);
        self.call("DeleteDBInstance", |w, now| {
            w.busy_check(id, "DeleteDBInstance")?;
            if w.state
                .instances
                .get(id)
                .is_some_and(|i| i.deletion_protection)
            {
                return Err(err(
                    "DeleteDBInstance",
                    "InvalidParameterCombination: protected",
                ));
            }
            w.set_status(id, "deleting");
            let (id, snap) = (id.to_string(), final_snapshot_id.map(str::to_string));
            w.at(
                now + done,
                Box::new(move |w| {
                    let op = Op::Instance(InstanceOp::Delete {
                        final_snapshot_id: snap,
                    });
                    let _ = SimRds::apply_now(w, &step(&id, op));
                }),
            );
            Ok(())
        })
        .await
    }

    async fn restore_to_point_in_time(
        &self,
        id: &str,
        source: &str,
        time: SourceTime,
        attrs: &CreateAttrs,
    ) -> Result<(), MitosisError> {
        let done = secs(self.latency.restore_point_in_time);
        self.call("RestoreDBInstanceToPointInTime", |w, now| {
            let op = Op::Instance(InstanceOp::RestoreToPointInTime {
                source: source.to_string(),
                time,
                attrs: attrs.clone(),
            });
            w.create(now, id, op, done)
        })
        .await
    }

    async fn clone_cluster(
        &self,
        id: &str,
        source: &str,
        time: Option<SourceTime>,
        attrs: &ClusterAttrs,
    ) -> Result<(), MitosisError> {
        let done = match time {
            None => secs(self.latency.clone_cluster),
            Some(_) => secs(self.latency.restore_point_in_time),
        };
        self.call("RestoreDBClusterToPointInTime", |w, now| {
            w.cluster_busy_check(source, "RestoreDBClusterToPointInTime")?;
            let op = Op::Cluster(ClusterOp::Clone {
                source: source.to_string(),
                source_key: None,
                time,
                attrs: attrs.clone(),
            });
            w.create_cluster(now, id, op, done)
        })
        .await
    }

    async fn restore_cluster_from_snapshot(
        &self,
        id: &str,
        snapshot_id: &str,
        engine: &str,
        engine_version: &str,
        attrs: &ClusterAttrs,
    ) -> Result<(), MitosisError> {
        let done = secs(self.latency.restore_snapshot);
        self.call("RestoreDBClusterFromSnapshot", |w, now| {
            let op = Op::Cluster(ClusterOp::RestoreFromSnapshot {
                snapshot_id: Some(snapshot_id.to_string()),
                engine: engine.to_string(),
                engine_version: engine_version.to_string(),
                source_key: None,
                attrs: attrs.clone(),
            });
            w.create_cluster(now, id, op, done)
        })
        .await
    }

    async fn modify_cluster(&self, id: &str, m: &ClusterModify) -> Result<(), MitosisError> {
        let lag = secs(self.latency.modify_lag);
        let done = match m.new_id {
            Some(_) => secs(self.latency.rename),
            None => secs(self.latency.modify),
        };
        self.call("ModifyDBCluster", |w, now| {
            w.cluster_busy_check(id, "ModifyDBCluster")?;
            let (from, m) = (id.to_string(), m.clone());
            if let Some(new_id) = &m.new_id {
                if w.state.clusters.contains_key(new_id) {
                    return Err(err("ModifyDBCluster", "DBClusterAlreadyExistsFault"));
                }
                // The endpoint is gone from the moment the rename is asked for.
                w.outages.insert(from.clone(), (now, None));
            }
            let busy = if m.new_id.is_some() {
                "renaming"
            } else {
                "modifying"
            };
            let a = from.clone();
            w.at(
                now + lag.min(done.mul_f64(0.2)),
                Box::new(move |w| w.set_status(&a, busy)),
            );
            w.at(
                now + done,
                Box::new(move |w| {
                    let name = m.new_id.clone().unwrap_or_else(|| from.clone());
                    let _ = SimRds::apply_now(w, &step(&from, Op::Cluster(ClusterOp::Modify(m))));
                    w.available_at(&name, now + done);
                }),
            );
            Ok(())
        })
        .await
    }

    async fn delete_cluster(
        &self,
        id: &str,
        final_snapshot_id: Option<&str>,
    ) -> Result<(), MitosisError> {
        let done = secs(self.latency.delete);
        self.call("DeleteDBCluster", |w, now| {
            w.cluster_busy_check(id, "DeleteDBCluster")?;
            let op = Op::Cluster(ClusterOp::Delete {
                final_snapshot_id: final_snapshot_id.map(str::to_string),
            });
            let check = w.state.clone();
            let mut probe = check;
            predict(&mut probe, &step(id, op.clone())).map_err(|e| err("DeleteDBCluster", e))?;
            w.set_status(id, "deleting");
            let id = id.to_string();
            w.at(
                now + done,
                Box::new(move |w| {
                    let _ = SimRds::apply_now(w, &step(&id, op));
                }),
            );
            Ok(())
        })
        .await
    }

    async fn create_member(
        &self,
        id: &str,
        cluster: &str,
        attrs: &MemberAttrs,
    ) -> Result<(), MitosisError> {
        let done = secs(self.latency.create_cluster_instance);
        self.call("CreateDBInstance", |w, now| {
            w.cluster_busy_check(cluster, "CreateDBInstance")?;
            let op = Op::Instance(InstanceOp::CreateMember {
                cluster: cluster.to_string(),
                attrs: attrs.clone(),
            });
            w.create(now, id, op, done)
        })
        .await
    }

    async fn create_endpoint(
        &self,
        cluster: &str,
        endpoint: &CustomEndpoint,
    ) -> Result<(), MitosisError> {
        self.call("CreateDBClusterEndpoint", |w, _| {
            let op = Op::Cluster(ClusterOp::CreateEndpoint {
                endpoint: endpoint.clone(),
            });
            SimRds::apply_now(w, &step(cluster, op))
        })
        .await
    }

    async fn delete_endpoint(&self, endpoint: &str) -> Result<(), MitosisError> {
        self.call("DeleteDBClusterEndpoint", |w, _| {
            let owner = w
                .state
                .clusters
                .values()
                .find(|c| c.endpoints.iter().any(|e| e.id == endpoint))
                .map(|c| c.id.clone())
                .ok_or_else(|| err("DeleteDBClusterEndpoint", "DBClusterEndpointNotFoundFault"))?;
            let op = Op::Cluster(ClusterOp::DeleteEndpoint {
                endpoint: endpoint.to_string(),
            });
            SimRds::apply_now(w, &step(&owner, op))
        })
        .await
    }
}
