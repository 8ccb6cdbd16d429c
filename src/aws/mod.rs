//! AWS access behind a narrow trait in the project's own types. The real adapter over
//! aws-sdk-rds lives in `sdk`; tests use the emulator through it, or fakes of the trait.

mod observe;
mod sdk;

pub use observe::observe;
pub use sdk::{AwsSettings, SdkRds};

use crate::error::MitosisError;
use crate::model::{Instance, Snapshot};
use async_trait::async_trait;
use std::collections::BTreeMap;

#[async_trait]
pub trait Rds: Send + Sync {
    /// Every DB instance of the region (all pages).
    async fn describe_instances(&self) -> Result<Vec<Instance>, MitosisError>;
    /// The tags of one resource, by ARN.
    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, MitosisError>;
    /// Automated and manual snapshots of one instance (all pages).
    async fn describe_snapshots(&self, instance_id: &str) -> Result<Vec<Snapshot>, MitosisError>;
    /// The region the client talks to, when known.
    fn region(&self) -> Option<String>;
}
