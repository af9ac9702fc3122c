//! Route 53: records and their changes.
//!
//! A record is changed with one change batch that DELETEs the record exactly
//! as it was read and CREATEs the wanted one. Route 53 applies a batch all or
//! nothing, and a DELETE must match the current record exactly, so the batch
//! is a compare-and-set: when someone else changed the record between our
//! read and our write, the batch fails with InvalidChangeBatch (`Conflict`)
//! and the executor reads again, instead of overwriting their change as an
//! UPSERT would.
//!
//! Zones are named by the caller; their ids are looked up once and cached
//! (a zone's id never changes), and forgotten when Route 53 says the zone is
//! gone. Route 53 is global: its client always signs for us-east-1.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_config::SdkConfig;
use aws_sdk_route53::config::Region;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use tracing::{debug, info, instrument};

use super::error::{build_error, classify};
use crate::cloud::{
    ChangeId, ChangeStatus, CloudError, CloudResult, ErrorKind, Record, RecordTarget, RecordType,
};
use crate::model::Fence;
use crate::model::Op;

const LIST_ZONES: Op = Op::ListHostedZonesByName;
const LIST_RECORDS: Op = Op::ListResourceRecordSets;
const CHANGE: Op = Op::ChangeResourceRecordSets;
const GET_CHANGE: Op = Op::GetChange;

/// The region Route 53's control plane is called in.
const ROUTE53_REGION: &str = "us-east-1";

/// The longest change-batch comment Route 53 accepts.
const COMMENT_MAX: usize = 256;

/// Route 53 operations through one global client.
pub struct Route53Adapter {
    client: Client,
    zone_ids: Mutex<HashMap<String, String>>,
}

impl Route53Adapter {
    /// An adapter using `client` (tests pass a mock or emulator client here).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            zone_ids: Mutex::new(HashMap::new()),
        }
    }

    /// An adapter whose client uses `config` with the region set to us-east-1.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let conf = aws_sdk_route53::config::Builder::from(config)
            .region(Region::new(ROUTE53_REGION))
            .build();
        Self::new(Client::from_conf(conf))
    }

    /// Reads the record set `name`/`rtype` in the zone named `zone`.
    ///
    /// # Errors
    ///
    /// `NotFound` when the zone does not exist; `Fatal` when the record is of
    /// a shape drctl does not manage (an A record that is not an alias, or a
    /// routing-policy record); any failure of the calls.
    pub async fn get_record(
        &self,
        zone: &str,
        name: &str,
        rtype: RecordType,
    ) -> CloudResult<Option<Record>> {
        let zone_id = self.zone_id(zone).await?;
        self.read(zone, &zone_id, name, rtype)
            .await?
            .map(|set| to_record(&set))
            .transpose()
    }

    /// Makes the record equal to `want` with one DELETE-current + CREATE-want
    /// batch (only CREATE when there is no current record). Returns `None`,
    /// sending nothing, when it already points like `want`.
    ///
    /// # Errors
    ///
    /// `Conflict` when the record changed since it was read; `NotFound` when
    /// the zone does not exist; any failure of the calls.
    pub async fn ensure_record(
        &self,
        zone: &str,
        want: &Record,
        fence: &Fence,
    ) -> CloudResult<Option<ChangeId>> {
        let zone_id = self.zone_id(zone).await?;
        let current = self.read(zone, &zone_id, &want.name, want.rtype()).await?;
        if let Some(set) = &current {
            if to_record(set)?.points_like(want) {
                debug!(record = %want.name, "already as wanted; no change sent");
                return Ok(None);
            }
        }
        self.change(zone, &zone_id, current, want, fence)
            .await
            .map(Some)
    }

    /// Reads a health check's latest observations: how many of Route 53's
    /// checkers saw the endpoint healthy, out of how many reported.
    pub async fn health_check_status(&self, id: &str) -> CloudResult<(usize, usize)> {
        const OP: Op = Op::GetHealthCheckStatus;
        let out = self
            .client
            .get_health_check_status()
            .health_check_id(id)
            .send()
            .await
            .map_err(|err| classify(OP, id, err))?;
        let seen = out.health_check_observations();
        let healthy = seen
            .iter()
            .filter(|o| {
                o.status_report()
                    .and_then(|r| r.status())
                    .is_some_and(|s| s.starts_with("Success"))
            })
            .count();
        Ok((healthy, seen.len()))
    }

    /// Reads the propagation status of a change.
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown change; any failure of GetChange.
    #[instrument(name = "cloud", skip_all, fields(op = GET_CHANGE.as_str(), resource = %id))]
    pub async fn get_change(&self, id: &ChangeId) -> CloudResult<ChangeStatus> {
        let out = self
            .client
            .get_change()
            .id(&id.0)
            .send()
            .await
            .map_err(|err| classify(GET_CHANGE, id.0.clone(), err))?;
        let status = out.change_info().map(|info| info.status().as_str());
        match status {
            Some("INSYNC") => Ok(ChangeStatus::InSync),
            Some("PENDING") => Ok(ChangeStatus::Pending),
            other => Err(CloudError::new(
                ErrorKind::Fatal,
                GET_CHANGE,
                id.0.clone(),
                format!("unexpected change status {other:?}"),
            )),
        }
    }

    /// The id (without `/hostedzone/`) of the zone named `zone`. A public
    /// zone is preferred over a private one of the same name.
    #[instrument(name = "cloud", skip_all, fields(op = LIST_ZONES.as_str(), resource = %zone))]
    async fn zone_id(&self, zone: &str) -> CloudResult<String> {
        let key = normalize(zone);
        if let Some(id) = self.cached_zones().get(&key) {
            return Ok(id.clone());
        }
        let out = self
            .client
            .list_hosted_zones_by_name()
            .dns_name(zone)
            .send()
            .await
            .map_err(|err| classify(LIST_ZONES, zone, err))?;
        let mut matches: Vec<_> = out
            .hosted_zones()
            .iter()
            .filter(|found| normalize(found.name()) == key)
            .collect();
        matches.sort_by_key(|found| found.config().is_some_and(|c| c.private_zone()));
        let Some(found) = matches.first() else {
            return Err(CloudError::not_found(LIST_ZONES, zone));
        };
        let id = found.id().trim_start_matches("/hostedzone/").to_owned();
        self.cached_zones().insert(key, id.clone());
        Ok(id)
    }

    fn cached_zones(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.zone_ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets a zone id after Route 53 said the zone does not exist.
    fn forget_zone_on_not_found(&self, zone: &str, err: CloudError) -> CloudError {
        if err.kind == ErrorKind::NotFound {
            self.cached_zones().remove(&normalize(zone));
        }
        err
    }

    /// The record set exactly as Route 53 has it, kept raw so that a DELETE
    /// can repeat it field for field.
    #[instrument(name = "cloud", skip_all, fields(op = LIST_RECORDS.as_str(), resource = %name))]
    async fn read(
        &self,
        zone: &str,
        zone_id: &str,
        name: &str,
        rtype: RecordType,
    ) -> CloudResult<Option<ResourceRecordSet>> {
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .start_record_type(rr_type(rtype))
            .max_items(RECORDS_PER_READ)
            .send()
            .await
            .map_err(|err| classify(LIST_RECORDS, name, err))
            .map_err(|err| self.forget_zone_on_not_found(zone, err))?;
        Ok(managed_set(out.resource_record_sets(), name, rtype).cloned())
    }

    #[instrument(name = "cloud", skip_all, fields(
        op = CHANGE.as_str(),
        resource = %want.name,
        execution_id = %fence.execution_id,
        epoch = %fence.epoch,
    ))]
    async fn change(
        &self,
        zone: &str,
        zone_id: &str,
        current: Option<ResourceRecordSet>,
        want: &Record,
        fence: &Fence,
    ) -> CloudResult<ChangeId> {
        let built = |err| build_error(CHANGE, &want.name, err);
        let mut changes = Vec::with_capacity(2);
        if let Some(current) = current {
            changes.push(
                Change::builder()
                    .action(ChangeAction::Delete)
                    .resource_record_set(current)
                    .build()
                    .map_err(built)?,
            );
        }
        changes.push(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(to_record_set(want).map_err(built)?)
                .build()
                .map_err(built)?,
        );
        let batch = ChangeBatch::builder()
            .comment(comment(want, fence))
            .set_changes(Some(changes))
            .build()
            .map_err(built)?;
        let out = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|err| classify(CHANGE, want.name.clone(), err))
            .map_err(|err| self.forget_zone_on_not_found(zone, err))?;
        let id = out
            .change_info()
            .map(|info| info.id().trim_start_matches("/change/").to_owned())
            .ok_or_else(|| {
                CloudError::new(
                    ErrorKind::Fatal,
                    CHANGE,
                    want.name.clone(),
                    "no change id in the answer",
                )
            })?;
        info!(change_id = %id, target = %target_label(&want.target), "record change submitted");
        Ok(ChangeId(id))
    }
}

/// A DNS name without the trailing dot, lowercased, as Route 53 compares.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn rr_type(rtype: RecordType) -> RrType {
    match rtype {
        RecordType::A => RrType::A,
        RecordType::Cname => RrType::Cname,
    }
}

fn target_label(target: &RecordTarget) -> &str {
    match target {
        RecordTarget::Alias { dns_name, .. } => dns_name,
        RecordTarget::Cname { value, .. } => value,
    }
}

/// The change comment naming the execution, cut to Route 53's limit.
fn comment(want: &Record, fence: &Fence) -> String {
    let mut text = format!(
        "drctl execution {} epoch {}: {} -> {}",
        fence.execution_id,
        fence.epoch,
        want.name,
        target_label(&want.target)
    );
    if text.len() > COMMENT_MAX {
        let mut end = COMMENT_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn unmanaged(set: &ResourceRecordSet, why: &str) -> CloudError {
    CloudError::new(
        ErrorKind::Fatal,
        LIST_RECORDS,
        normalize(set.name()),
        format!(
            "{} record {why}; drctl manages alias A and simple CNAME records only",
            set.r#type()
        ),
    )
}

/// How many record sets one read lists from the record's name on: enough
/// to see past the failover or weighted sets (one per set identifier) that
/// may share the name and type.
const RECORDS_PER_READ: i32 = 100;

/// The plain record set `name`/`rtype` among `sets`. Sets with a set
/// identifier (failover, weighted, latency... records, such as those that
/// follow ARC routing controls) are not drctl's to manage and are skipped.
fn managed_set<'a>(
    sets: &'a [ResourceRecordSet],
    name: &str,
    rtype: RecordType,
) -> Option<&'a ResourceRecordSet> {
    sets.iter().find(|set| {
        normalize(set.name()) == normalize(name)
            && *set.r#type() == rr_type(rtype)
            && set.set_identifier().is_none()
    })
}

fn to_record(set: &ResourceRecordSet) -> CloudResult<Record> {
    if set.set_identifier().is_some() {
        return Err(unmanaged(set, "has a routing policy (set identifier)"));
    }
    let target = match (set.r#type(), set.alias_target()) {
        (RrType::A, Some(alias)) => RecordTarget::Alias {
            dns_name: normalize(alias.dns_name()),
            hosted_zone_id: alias.hosted_zone_id().to_owned(),
        },
        (RrType::Cname, None) => {
            let value = set
                .resource_records()
                .first()
                .ok_or_else(|| unmanaged(set, "has no value"))?;
            let ttl = set.ttl().and_then(|ttl| u32::try_from(ttl).ok());
            RecordTarget::Cname {
                value: normalize(value.value()),
                ttl: ttl.ok_or_else(|| unmanaged(set, "has no valid TTL"))?,
            }
        }
        (RrType::A, None) => return Err(unmanaged(set, "holds addresses, not an alias")),
        _ => return Err(unmanaged(set, "is an alias")),
    };
    Ok(Record {
        name: normalize(set.name()),
        target,
    })
}

fn to_record_set(
    want: &Record,
) -> Result<ResourceRecordSet, aws_smithy_types::error::operation::BuildError> {
    let set = ResourceRecordSet::builder().name(&want.name);
    match &want.target {
        RecordTarget::Alias {
            dns_name,
            hosted_zone_id,
        } => set.r#type(RrType::A).alias_target(
            AliasTarget::builder()
                .dns_name(dns_name)
                .hosted_zone_id(hosted_zone_id)
                .evaluate_target_health(false)
                .build()?,
        ),
        RecordTarget::Cname { value, ttl } => set
            .r#type(RrType::Cname)
            .ttl(i64::from(*ttl))
            .resource_records(ResourceRecord::builder().value(value).build()?),
    }
    .build()
}

#[cfg(test)]
#[path = "route53_tests.rs"]
mod tests;
