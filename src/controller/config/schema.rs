//! The JSON Schema of a controller node file, for editors
//! (yaml-language-server), generated from [`super::NodeFile`], the type the
//! loader reads. [`super::load`] still checks what a schema cannot say
//! (members, keys, secrets, timings that must agree).

use schemars::Schema;

use super::NodeFile;

/// The schema of a node file, JSON Schema draft 2020-12.
pub fn schema() -> Schema {
    let mut schema = schemars::schema_for!(NodeFile);
    schema.insert("title".into(), "drctl controller node file".into());
    schema.insert(
        "description".into(),
        "A drctl controller node's configuration (deploy/local/node-1.yaml, deploy/k8s/*/node.yaml): which member it is, where it listens, the cluster and the policies it owns. Secrets are never in it: they come from the environment or the files it names.".into(),
    );
    schema
}
