"""Test-only moto launcher for drctl's AWS contract tests.

Usage: python tests/moto/server.py PORT

Starts moto's server on 127.0.0.1:PORT (never on a public interface), after
applying the corrections below, and prints one line
``drctl-moto ready on http://127.0.0.1:PORT`` once it accepts connections.
It runs until SIGTERM or SIGINT.

Corrections of moto 5.2.5 (test-only: production code follows real AWS)
----------------------------------------------------------------------

1. ``promote_read_replica`` leaves the replica link in place: moto clears its
   private ``is_replica`` flag, but the promoted instance still reports
   ``ReadReplicaSourceDBInstanceIdentifier`` and its source still lists it
   in ``ReadReplicaDBInstanceIdentifiers``. Real RDS removes both once the
   promotion completes. The patch below removes them, in the same call (moto
   has no state transitions, so "completes" is "immediately"). The source
   lists a cross-region replica by ARN and a same-region one by identifier,
   so both spellings are removed.

2. ``change_resource_record_sets`` is not the compare-and-set real Route 53
   is. Real Route 53 validates the whole batch against the current records
   and applies all of it or none: a DELETE must match the current record
   exactly (TTL and values, or alias target), and a CREATE fails when the
   record exists at that point of the batch; both fail with
   InvalidChangeBatch. Moto checks a DELETE against its journal of past
   changes (so a DELETE of a value that was since replaced still succeeds),
   and checks a CREATE against every record sorted after the name (so
   DELETE old + CREATE new can fail spuriously when flipping a record back).
   The replacement below validates the batch as Route 53 does, on a copy of
   the zone's records, then applies it the way moto does.
"""

import copy
import signal
import sys
import threading

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.rds.models import RDSBackend
from moto.route53.exceptions import (
    DnsNameInvalidForZone,
    InvalidActionValue,
    Route53ClientError,
)
from moto.route53.models import Route53Backend
from moto.route53.utils import validate_domain_name

_moto_promote_read_replica = RDSBackend.promote_read_replica


def _promote_read_replica(self, db_kwargs):
    """Moto's promotion, then unlink the replica from its source as RDS does."""
    database = self.databases.get(db_kwargs["db_instance_identifier"])
    was_replica = database is not None and database.is_replica
    source_id = database.source_db_instance_identifier if was_replica else None
    promoted = _moto_promote_read_replica(self, db_kwargs)
    if was_replica:
        promoted.source_db_instance_identifier = None
        if source_id:
            try:
                source = self.find_db_from_id(source_id)
            except Exception:  # the source may be gone; nothing to unlink then
                source = None
            if source is not None:
                for spelling in (
                    promoted.db_instance_identifier,
                    promoted.db_instance_arn,
                ):
                    if spelling in source.replicas:
                        source.replicas.remove(spelling)
    return promoted


RDSBackend.promote_read_replica = _promote_read_replica


class _InvalidChangeBatch(Route53ClientError):
    """Route 53's error for a batch that does not match the current records."""

    def __init__(self, message: str):
        super().__init__("InvalidChangeBatch", message)


def _norm_name(name) -> str:
    return (name or "").rstrip(".").lower()


def _values(records) -> list:
    return sorted(r["Value"] if isinstance(r, dict) else r for r in records or [])


def _alias(alias):
    if not alias:
        return None
    return (
        alias.get("HostedZoneId"),
        _norm_name(alias.get("DNSName")),
        str(alias.get("EvaluateTargetHealth", False)).lower(),
    )


def _ttl(ttl):
    return None if ttl is None else int(ttl)


def _key(name, rtype, set_identifier):
    return (_norm_name(name), rtype, set_identifier)


def _validate_batch(zone, change_list) -> None:
    """Checks the batch against the current records, as Route 53 does."""
    current = {
        _key(r.name, r.type, r.set_identifier): (
            _ttl(r.ttl),
            _values(r.records),
            _alias(r.alias_target),
        )
        for r in zone.rrsets
    }
    for change in change_list:
        rrset = change["ResourceRecordSet"]
        key = _key(rrset["Name"], rrset.get("Type"), rrset.get("SetIdentifier"))
        wanted = (
            _ttl(rrset.get("TTL")),
            _values(rrset.get("ResourceRecords")),
            _alias(rrset.get("AliasTarget")),
        )
        label = f"[name='{key[0]}.', type='{key[1]}']"
        action = change["Action"]
        if action == "DELETE":
            if key not in current:
                raise _InvalidChangeBatch(
                    f"Tried to delete resource record set {label} but it was not found"
                )
            if current[key] != wanted:
                raise _InvalidChangeBatch(
                    f"Tried to delete resource record set {label} but the values "
                    "provided do not match the current values"
                )
            del current[key]
        elif action == "CREATE":
            if key in current:
                raise _InvalidChangeBatch(
                    f"Tried to create resource record set {label} but it already exists"
                )
            current[key] = wanted
        elif action == "UPSERT":
            current[key] = wanted
        else:
            raise InvalidActionValue(action)


def _change_resource_record_sets(self, zoneid, change_list) -> None:
    """Validates the whole batch first, then applies it as moto does."""
    zone = self.get_hosted_zone(zoneid)
    for change in change_list:
        validate_domain_name(
            change["ResourceRecordSet"]["Name"], code="InvalidChangeBatch"
        )
        name = change["ResourceRecordSet"]["Name"].strip(".")
        if not name.endswith(zone.name.strip(".")):
            raise DnsNameInvalidForZone(
                name=change["ResourceRecordSet"]["Name"], zone_name=zone.name
            )
    _validate_batch(zone, change_list)
    for change in change_list:
        original_change = copy.deepcopy(change)
        rrset = change["ResourceRecordSet"]
        if not rrset["Name"].endswith("."):
            rrset["Name"] += "."
        if change["Action"] in ("CREATE", "UPSERT"):
            if "ResourceRecords" in rrset:
                rrset["ResourceRecords"] = [
                    r["Value"] if isinstance(r, dict) else r
                    for r in rrset["ResourceRecords"]
                ]
            if change["Action"] == "CREATE":
                zone.add_rrset(rrset)
            else:
                zone.upsert_rrset(rrset)
        elif "SetIdentifier" in rrset:
            zone.delete_rrset_by_id(rrset["SetIdentifier"])
        else:
            zone.delete_rrset(rrset)
        zone.rr_changes.append(original_change)


Route53Backend.change_resource_record_sets = _change_resource_record_sets


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: server.py PORT")
    port = int(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"drctl-moto ready on http://{host}:{port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
