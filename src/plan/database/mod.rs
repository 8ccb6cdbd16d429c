//! The database planners: an instance tree (`instance`), an Aurora cluster (`cluster`), a
//! throwaway copy (`copy`) and its removal (`destroy`), and the rollback of a failed refresh
//! (`rollback`), all emitting steps through one `Builder` (`builder`, with the snapshot path
//! in `snapshot` and the cross-account hand-over in `handover`).

mod builder;
mod cluster;
mod copy;
mod destroy;
mod handover;
mod instance;
mod rollback;
mod snapshot;

pub(super) use cluster::{names_a_cluster, plan_cluster};
pub(super) use copy::plan_copy;
pub use destroy::{destroy_plan, expired_copies, plan_destroy, Removal};
pub(super) use instance::plan_instances;
pub use rollback::{rollback, OnFailure};
