//! stack-mitosis: refresh a downstream RDS environment with a copy of a source's data while
//! the downstream keeps its own configuration.
//!
//! Layout: `observed` (the account as read) -> `plan` (pure planner) -> `render` / `iam`
//! (outputs); `exec` carries a plan out; `aws` is the AWS adapter (read and write traits);
//! `refresh` is the flow and the options the command line (in the binary) and the Action
//! (`github`) share.

pub mod aws;
pub mod config;
pub mod error;
pub mod exec;
pub mod files;
#[cfg(any(test, feature = "test-support"))]
pub mod fixtures;
pub mod github;
pub mod http_client;
pub mod iam;
pub mod kinds;
pub mod notify;
pub mod observed;
pub mod plan;
pub mod refresh;
pub mod render;
pub mod schema;
#[cfg(feature = "test-support")]
pub mod sim;
