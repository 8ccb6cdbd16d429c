//! stack-mitosis: refresh a downstream RDS environment with a copy of a source's data while
//! the downstream keeps its own configuration.
//!
//! Layout: `model` (observed state) -> `plan` (pure planner) -> `render` / `iam` (outputs);
//! `aws` is the only module that talks to AWS; `cli` is the thin binary layer.

pub mod aws;
pub mod cli;
pub mod error;
pub mod exec;
#[doc(hidden)]
pub mod fixtures;
pub mod github;
pub mod iam;
pub mod model;
pub mod plan;
pub mod refresh;
pub mod render;
pub mod schema;
pub mod sim;
