"""Storage media: which BEs hold SSD or HDD storage, and which of them a partition's replicas go to.

A BE's medium comes from its storage root (`…/be0.SSD`, config.root_and_medium) through its heartbeats. A table or
partition asks for a medium (`storage_medium`); an explicit one is strict (Doris up to 3.x: `storageMediumSpecified`),
an omitted one prefers HDD and falls back to SSD. RESTORE's `storage_medium` and `medium_allocation_mode` follow
Doris master's RestoreCommand and MediumDecisionMaker.
"""

from __future__ import annotations

from typing import Any

import attrs

from doris_br.errors import DorisError
from doris_br.fe.catalog import Backend
from doris_br.fe.olap import NOT_ENOUGH_BACKENDS, Partition, Table
from doris_br.schema import PartitionDesc

HDD, SSD = "HDD", "SSD"
MEDIA = (HDD, SSD)

# RESTORE's properties, compared case-sensitively as Doris's RestoreCommand does.
SAME_WITH_UPSTREAM = "same_with_upstream"
RESTORE_MEDIA = ("hdd", "ssd", SAME_WITH_UPSTREAM)
STRICT, ADAPTIVE = "strict", "adaptive"
RESTORE_PROPERTIES = ("storage_medium", "medium_allocation_mode")


@attrs.frozen
class MediumRequest:
    """Where a partition's replicas should go."""

    medium: str  # HDD or SSD: the medium preferred
    strict: bool  # True: only that medium; False: the other one when it has too few BEs


def other(medium: str) -> str:
    return SSD if medium == HDD else HDD


def backend_medium(fe: Any, backend_id: int) -> str:
    """What the BE's last heartbeat said about its storage root (HDD before the first one)."""
    report = fe.backends.status_of(backend_id).report
    return report.storage_medium if report is not None else HDD


def choose_backends(fe: Any, request: MediumRequest, replication: int) -> tuple[str, list[Backend]]:
    """The medium used and the alive BEs that have it, enough for `replication` replicas, or Doris's error."""
    alive = fe.backends.alive()
    media = (request.medium,) if request.strict else (request.medium, other(request.medium))
    for medium in media:
        backends = [b for b in alive if backend_medium(fe, b.id) == medium]
        if len(backends) >= replication:
            return medium, backends
    if replication < 1:  # place_tablets says so in Doris's words
        return request.medium, alive
    # Doris (SystemInfoService.selectBackendIdsForReplicaCreation) names the medium it tried last.
    raise DorisError(NOT_ENOUGH_BACKENDS.format(need=replication, medium=media[-1]))


def table_request(table: Table) -> MediumRequest:
    """A table's own medium: strict when CREATE TABLE (or ALTER TABLE SET) named one."""
    named = table.properties.get("storage_medium")
    if named is None:
        return MediumRequest(HDD, strict=False)
    mode = table.properties.get("medium_allocation_mode")
    return MediumRequest(named.upper(), strict=mode != ADAPTIVE)


def partition_request(desc: PartitionDesc, default: MediumRequest) -> MediumRequest:
    """A partition's own `storage_medium` (strict, as an explicit one is), else the table's or the caller's."""
    named = check_table_properties(dict(desc.properties)).get("storage_medium")
    return MediumRequest(named.upper(), strict=True) if named is not None else default


def kept_medium(table: Table, partition: Partition) -> tuple[tuple[str, str], ...]:
    """A partition made again (TRUNCATE) stays on its medium when that is not the table's own."""
    if partition.storage_medium == table_request(table).medium:
        return ()
    return (("storage_medium", partition.storage_medium),)


def check_table_properties(properties: dict[str, str]) -> dict[str, str]:
    """`storage_medium` of CREATE / ALTER TABLE: HDD or SSD in any case, kept lowercase as SHOW CREATE TABLE
    prints it (Doris's PropertyAnalyzer.analyzeDataProperty)."""
    value = properties.get("storage_medium")
    if value is None:
        return properties
    if value.upper() not in MEDIA:
        raise DorisError(f"Invalid storage medium: {value}")
    return {**properties, "storage_medium": value.lower()}


# ---- RESTORE -----------------------------------------------------------------------------------------------


def check_restore_properties(properties: dict[str, str]) -> None:
    """Doris's RestoreCommand checks: exact, case-sensitive values."""
    medium = properties.get("storage_medium")
    if medium is not None and medium not in RESTORE_MEDIA:
        raise DorisError(f"Invalid storage_medium value: {medium}. Must be 'hdd', 'ssd' or 'same_with_upstream'")
    mode = properties.get("medium_allocation_mode")
    if mode is not None and mode not in (STRICT, ADAPTIVE):
        raise DorisError(f"Invalid medium_allocation_mode value: {mode}. Must be 'strict' or 'adaptive'")


def restore_medium(properties: dict[str, str]) -> str:
    return properties.get("storage_medium", SAME_WITH_UPSTREAM)


def restore_mode(properties: dict[str, str]) -> str:
    return properties.get("medium_allocation_mode", STRICT)


def restore_request(properties: dict[str, str], upstream: str) -> MediumRequest:
    """A partition the restore creates (MediumDecisionMaker): the upstream partition's medium under
    same_with_upstream, else the one asked for; adaptive may fall back to the other medium."""
    medium = restore_medium(properties)
    preferred = upstream if medium == SAME_WITH_UPSTREAM else medium.upper()
    return MediumRequest(preferred, strict=restore_mode(properties) == STRICT)


def restore_request_existing(properties: dict[str, str], local: Partition, fe: Any, replication: int) -> MediumRequest:
    """A partition that exists and gets the backed-up data: under same_with_upstream it stays on its own (local)
    medium, which strict mode must find, else Doris's error; an explicit medium moves it there."""
    if restore_medium(properties) != SAME_WITH_UPSTREAM:
        return restore_request(properties, local.storage_medium)
    if restore_mode(properties) == ADAPTIVE:
        return MediumRequest(local.storage_medium, strict=False)
    fallback = other(local.storage_medium)
    alive = [b for b in fe.backends.alive() if backend_medium(fe, b.id) == local.storage_medium]
    if len(alive) < replication:
        raise DorisError(f"Failed to allocate local medium {local.storage_medium} for partition {local.name} in "
                         f"strict mode. System attempted to use {fallback} instead, but strict mode does not allow "
                         "fallback.")
    return MediumRequest(local.storage_medium, strict=True)


def restored_table_properties(properties: dict[str, str], table_properties: dict[str, str]) -> dict[str, str]:
    """The restored table's own medium: the upstream one under same_with_upstream, else the one asked for; with
    either property given, SHOW CREATE TABLE then shows medium_allocation_mode (Doris master)."""
    if not any(k in properties for k in RESTORE_PROPERTIES):
        return table_properties
    out = dict(table_properties)
    medium = restore_medium(properties)
    if medium != SAME_WITH_UPSTREAM:
        out["storage_medium"] = medium
    out["medium_allocation_mode"] = restore_mode(properties)
    return out
