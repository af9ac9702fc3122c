//! The JSON Schema of the policy file, for editors (yaml-language-server).
//!
//! Generated from the stage-one types the loader reads (`raw.rs`), so it
//! cannot describe fields the loader does not know. It is a guide, not the
//! judge: stage two still checks what a schema cannot say (regions, ARNs,
//! sizes, the relations between fields) and names every problem.

use schemars::Schema;

use super::raw::RawPolicy;

/// The schema of a policy file, JSON Schema draft 2020-12.
pub fn schema() -> Schema {
    let mut schema = schemars::schema_for!(RawPolicy);
    schema.insert("title".into(), "drctl failover policy".into());
    schema.insert(
        "description".into(),
        "A drctl failover policy (policies/*.yaml): the regions, the objectives, how a failure is detected and what a failover changes. `drctl policy validate --policy FILE` checks everything this schema cannot.".into(),
    );
    schema
}
