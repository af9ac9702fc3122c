//! EKS: reading managed node groups and setting their scaling configuration.
//!
//! [`EksAdapter::ensure_scaling`] compares the current configuration first and
//! sends UpdateNodegroupConfig only when it differs, with a client request
//! token derived from the fence, so a retry of the same step in the same
//! execution is recognised by EKS as the same request.

use aws_config::SdkConfig;
use aws_sdk_eks::types::{Nodegroup, NodegroupScalingConfig};
use aws_sdk_eks::Client;
use tracing::{debug, info, instrument};

use super::error::{classify, none_if_not_found};
use super::{regional, regional_factory, Regional};
use crate::cloud::{CloudError, CloudResult, ErrorKind, NodeGroupState, Scaling};
use crate::model::Fence;
use crate::model::Op;

const DESCRIBE: Op = Op::DescribeNodegroup;
const UPDATE: Op = Op::UpdateNodegroupConfig;

/// EKS operations through one client per region.
pub struct EksAdapter {
    clients: Regional<Client>,
}

impl EksAdapter {
    /// An adapter whose client for a region is `make_client(region)`, called
    /// once per region (tests pass a mock or emulator client here).
    pub fn new(make_client: impl Fn(&str) -> Client + Send + Sync + 'static) -> Self {
        Self {
            clients: Regional::new(make_client),
        }
    }

    /// An adapter whose clients share `config`, each with its own region.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self::new(regional_factory!(aws_sdk_eks, config))
    }

    /// Reads one node group; `None` when it or its cluster does not exist.
    ///
    /// # Errors
    ///
    /// Any failure of DescribeNodegroup other than "not found".
    #[instrument(name = "cloud", skip_all, fields(op = DESCRIBE.as_str(), resource = %node_group(region, cluster, name)))]
    pub async fn get_node_group(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<NodeGroupState>> {
        let described = self
            .clients
            .get(region)
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE, node_group(region, cluster, name), err));
        Ok(none_if_not_found(described)?
            .and_then(|out| out.nodegroup().map(|group| node_group_state(name, group))))
    }

    /// The instance types of one node group; `None` when it or its cluster
    /// does not exist.
    ///
    /// # Errors
    ///
    /// Any failure of DescribeNodegroup other than "not found".
    pub async fn get_instance_types(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
    ) -> CloudResult<Option<Vec<String>>> {
        let described = self
            .clients
            .get(region)
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|err| classify(DESCRIBE, node_group(region, cluster, name), err));
        Ok(none_if_not_found(described)?
            .and_then(|out| out.nodegroup().map(|g| g.instance_types().to_vec())))
    }

    /// Sets the node group's scaling to `want` unless it already has it.
    ///
    /// # Errors
    ///
    /// `NotFound` when the node group does not exist, `Fatal` for a size EKS
    /// cannot represent, and any failure of the read or of the update
    /// (`Conflict` while another update is in progress).
    pub async fn ensure_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        want: Scaling,
        fence: &Fence,
    ) -> CloudResult<()> {
        let Some(group) = self.get_node_group(region, cluster, name).await? else {
            return Err(CloudError::not_found(
                UPDATE,
                node_group(region, cluster, name),
            ));
        };
        if group.scaling == want {
            debug!(node_group = name, scaling = %want, "already at this scaling; no update sent");
            return Ok(());
        }
        self.update_scaling(region, cluster, name, want, fence)
            .await
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = UPDATE.as_str(),
        resource = %node_group(region, cluster, name),
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn update_scaling(
        &self,
        region: &str,
        cluster: &str,
        name: &str,
        want: Scaling,
        fence: &Fence,
    ) -> CloudResult<()> {
        let resource = node_group(region, cluster, name);
        let size = |value: u32| {
            i32::try_from(value).map_err(|_| {
                CloudError::new(
                    ErrorKind::Fatal,
                    UPDATE,
                    resource.clone(),
                    format!("node group size {value} is out of range"),
                )
            })
        };
        let scaling = NodegroupScalingConfig::builder()
            .min_size(size(want.min)?)
            .desired_size(size(want.desired)?)
            .max_size(size(want.max)?)
            .build();
        self.clients
            .get(region)
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .scaling_config(scaling)
            .client_request_token(fence.token(&format!("scale-{name}")))
            .send()
            .await
            .map_err(|err| classify(UPDATE, resource.clone(), err))?;
        info!(scaling = %want, "node group scaling update requested");
        Ok(())
    }
}

/// The resource label of a node group.
fn node_group(region: &str, cluster: &str, name: &str) -> String {
    regional(region, &format!("{cluster}/{name}"))
}

fn node_group_state(name: &str, group: &Nodegroup) -> NodeGroupState {
    // EKS always reports a scaling configuration for a managed node group; a
    // missing or negative size reads as 0, which never equals a wanted
    // scaling with sizes, so ensure_scaling still converges.
    let size = |value: Option<i32>| value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    let scaling = group.scaling_config();
    NodeGroupState {
        name: group.nodegroup_name().unwrap_or(name).to_owned(),
        status: group
            .status()
            .map(|status| status.as_str().to_owned())
            .unwrap_or_default(),
        scaling: Scaling {
            min: size(scaling.and_then(NodegroupScalingConfig::min_size)),
            desired: size(scaling.and_then(NodegroupScalingConfig::desired_size)),
            max: size(scaling.and_then(NodegroupScalingConfig::max_size)),
        },
    }
}
