"""Cluster statements: backends, frontends, brokers, processes, KILL, config, and MySQL tools' SHOWs."""

from __future__ import annotations

import re
import time
from typing import Any

from mysql_mimic.constants import KillKind

from doris_br import SERVER_VERSION, __version__
from doris_br.clock import now_ms, time_text
from doris_br.errors import DorisError
from doris_br.fe import dynamic_partitions, snapshots
from doris_br.fe.backends import parse_host_port
from doris_br.fe.catalog import Broker
from doris_br.fe.jobs.backup import MAX_BACKUP_TABLETS
from doris_br.fe.jobs.manager import MAX_JOBS_CONFIG
from doris_br.fe.privileges import has_privilege, require_global
from doris_br.fe.statements import handles
from doris_br.fe.statements.results import bool_text, text_result
from doris_br.server import compat
from doris_br.sql.admin import (
    AdminSetFrontendConfig,
    AlterSystem,
    Kill,
    ShowBackends,
    ShowBroker,
    ShowCharset,
    ShowCollation,
    ShowEngines,
    ShowFrontendConfig,
    ShowFrontends,
    ShowProcesslist,
    Sync,
)


def size_text(num: int) -> str:
    """Doris's DebugUtil.getPrettyStringBytes: `0.000 `, `1.234 KB`, ..."""
    units = ["", "KB", "MB", "GB", "TB", "PB"]
    value = float(num)
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.3f} {units[unit]}"


BACKEND_COLUMNS = [
    "BackendId", "Host", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort", "ArrowFlightSqlPort",
    "LastStartTime", "LastHeartbeat", "Alive", "SystemDecommissioned", "TabletNum", "DataUsedCapacity",
    "TrashUsedCapacity", "AvailCapacity", "TotalCapacity", "UsedPct", "MaxDiskUsedPct", "RemoteUsedCapacity",
    "Tag", "ErrMsg", "Version", "Status", "HeartbeatFailureCounter", "NodeRole",
]


@handles(ShowBackends)
async def show_backends(session: Any, node: ShowBackends) -> Any:
    require_global(session.user, "ADMIN_PRIV", "NODE_PRIV")
    rows = []
    for b in session.fe.backends.all():
        st = session.fe.backends.status_of(b.id)
        rep = st.report
        total = rep.disk_total_bytes if rep else 0
        avail = rep.disk_available_bytes if rep else 0
        used_pct = f"{(total - avail) * 100 / total:.2f} %" if total else "0.00 %"
        rows.append((
            b.id, b.host, b.port, b.port, rep.http_port if rep and rep.http_port else -1, -1, b.port,
            time_text(st.last_start_time_ms),
            time_text(st.last_heartbeat_ms), bool_text(st.alive), "false", rep.tablet_count if rep else 0,
            size_text(rep.data_used_bytes if rep else 0), size_text(0), size_text(avail), size_text(total),
            used_pct, used_pct, size_text(0), '{"location" : "default"}', st.err_msg,
            rep.version if rep else "", '{"lastSuccessReportTabletsTime":"N/A"}', st.failures, "mix",
        ))
    return text_result(BACKEND_COLUMNS, rows)


FRONTEND_COLUMNS = [
    "Name", "Host", "EditLogPort", "HttpPort", "QueryPort", "RpcPort", "ArrowFlightSqlPort", "Role",
    "IsMaster", "ClusterId", "Join", "Alive", "ReplayedJournalId", "LastStartTime", "LastHeartbeat",
    "IsHelper", "ErrMsg", "Version", "CurrentConnected",
]


@handles(ShowFrontends)
async def show_frontends(session: Any, node: ShowFrontends) -> Any:
    require_global(session.user, "ADMIN_PRIV", "NODE_PRIV")
    fe = session.fe
    cfg = fe.config
    port = fe.query_port
    now = now_ms()
    row = (
        f"fe_{cfg.host.replace('.', '_')}_{port}", cfg.host, -1, fe.http_port, port, -1, -1, "FOLLOWER",
        "true", 1, "true", "true", 0, time_text(fe.start_time * 1000), time_text(now), "true", "",
        f"doris-br-{__version__}", "Yes",
    )
    return text_result(FRONTEND_COLUMNS, [row])


@handles(ShowBroker)
async def show_broker(session: Any, node: ShowBroker) -> Any:
    require_global(session.user, "ADMIN_PRIV", "NODE_PRIV")
    # Our brokers are served in-process (fsspec), so they are alive whenever the FE is.
    started = time_text(session.fe.start_time * 1000)
    rows = [(b.name, b.host, b.port, "true", started, time_text(now_ms()), "")
            for b in sorted(session.fe.catalog.all(Broker), key=lambda b: b.key)]
    return text_result(["Name", "Host", "Port", "Alive", "LastStartTime", "LastUpdateTime", "ErrMsg"], rows)


def alter_brokers(session: Any, node: AlterSystem) -> None:
    catalog = session.fe.catalog
    name = node.args["name"]
    for host, port in (parse_host_port(h) for h in node.args["hosts"]):
        existing = catalog.get(Broker, f"{name}@{host}:{port}")
        if node.args["action"] == "ADD":
            if existing is not None:
                raise DorisError(f"Broker({host}:{port}) already exists")
            catalog.commit([Broker(name, host, port, now_ms())])
        elif existing is None:
            raise DorisError(f"Broker({host}:{port}) has not in brokers.")
        else:
            catalog.commit(deletes=[existing])


@handles(AlterSystem)
async def alter_system(session: Any, node: AlterSystem) -> None:
    require_global(session.user, "NODE_PRIV")
    if node.args["kind"] == "BROKER":
        alter_brokers(session, node)
        return
    registry = session.fe.backends
    addresses = [parse_host_port(h) for h in node.args["hosts"]]
    action = node.args["action"]
    if action == "ADD":
        for host, port in addresses:
            registry.add(host, port)
        await registry.heartbeat_all()
    elif action in ("DROP", "DROPP"):
        for host, port in addresses:
            registry.drop(host, port)
    else:
        raise DorisError("DECOMMISSION BACKEND is not supported yet")


PROCESSLIST_COLUMNS = ["CurrentConnected", "Id", "User", "Host", "LoginTime", "Catalog", "Db", "Command", "Time",
                       "State", "QueryId", "Info", "FE"]


@handles(ShowProcesslist)
async def show_processlist(session: Any, node: ShowProcesslist) -> Any:
    see_all = has_privilege(session.user, "ADMIN_PRIV")
    rows = []
    now = time.time()
    for conn_id, other in sorted(session.fe.sessions.items()):
        if not see_all and other.username != session.username:
            continue
        info = other.current_sql if other.command == "Query" else ""
        if not node.args.get("full"):
            info = info[:100]
        rows.append((
            "Yes" if other is session else "No", conn_id, other.username, other.client_address,
            time_text(other.login_time * 1000), "internal", other.database or "",
            other.command, int(now - (other.query_started if other.command == "Query" else other.login_time)),
            "OK" if other.command == "Sleep" else "RUNNING", "", info, session.fe.config.host,
        ))
    return text_result(PROCESSLIST_COLUMNS, rows)


@handles(Kill)
async def kill(session: Any, node: Kill) -> None:
    target_id = int(node.this)
    target = session.fe.sessions.get(target_id)
    if target is None:
        raise DorisError(f"Unknown thread id: {target_id}", 1094)
    if target.username != session.username and not has_privilege(session.user, "ADMIN_PRIV"):
        raise DorisError(f"You are not owner of thread or query: {target_id}", 1095)
    if node.args.get("query"):
        if target.running is not None and target is not session:
            target.connection.kill(KillKind.QUERY)  # its statement stops (engine work included); it stays
        return
    target.connection.kill()


@handles(ShowCollation)
async def show_collation(session: Any, node: ShowCollation) -> Any:
    return compat.show_collation(node.args.get("like"))


@handles(ShowCharset)
async def show_charset(session: Any, node: ShowCharset) -> Any:
    return compat.show_charset(node.args.get("like"))


@handles(ShowEngines)
async def show_engines(session: Any, node: ShowEngines) -> Any:
    return compat.show_engines()


@handles(Sync)
async def sync(session: Any, node: Sync) -> None:
    """Doris's SYNC waits for metadata to reach followers; with one FE there is nothing to wait for."""


@handles(ShowFrontendConfig)
async def show_frontend_config(session: Any, node: ShowFrontendConfig) -> Any:
    require_global(session.user, "ADMIN_PRIV")
    fe = session.fe
    values = {
        "query_port": fe.config.query_port, "http_port": fe.config.http_port,
        "heartbeat_interval_second": fe.config.heartbeat_interval_s,
        MAX_JOBS_CONFIG: fe.jobs.max_jobs_per_db(), "backup_job_default_timeout_ms": 86400000,
        "max_backup_tablets_per_job": MAX_BACKUP_TABLETS, "mysql_server_version": SERVER_VERSION,
        **dynamic_partitions.CONFIG_DEFAULTS,
        snapshots.INTERVAL_CONFIG: fe.config.snapshot_retention_interval_s,
        **fe.frontend_config,
    }
    rows = [(k, str(v), "String", "true", "false", "") for k, v in sorted(values.items())]
    return text_result(["Key", "Value", "Type", "IsMutable", "MasterOnly", "Comment"],
                       compat.like_filtered(rows, node.args.get("like")))


@handles(AdminSetFrontendConfig)
async def admin_set_frontend_config(session: Any, node: AdminSetFrontendConfig) -> None:
    require_global(session.user, "ADMIN_PRIV")
    properties = {key: int_config(key, value) if key in INT_CONFIGS else value
                  for key, value in node.args["properties"].items()}
    session.fe.frontend_config.update(properties)
    if dynamic_partitions.INTERVAL_CONFIG in properties or dynamic_partitions.ENABLE_CONFIG in properties:
        session.fe.dynamic_partitions.wake()  # the new interval counts from now
    if snapshots.INTERVAL_CONFIG in properties:
        session.fe.snapshots.wake()  # a retention round now, then at the new interval


# Configs the FE reads as Java ints: a value Integer.parseInt refuses is refused as Doris's ConfigBase does.
INT_CONFIGS = frozenset({MAX_JOBS_CONFIG, dynamic_partitions.INTERVAL_CONFIG, dynamic_partitions.MAX_NUM_CONFIG})
_JAVA_INT = re.compile(r"[+-]?[0-9]+")


def int_config(key: str, value: str) -> str:
    """The value as Doris then shows it ('+2' is 2)."""
    if not _JAVA_INT.fullmatch(value) or not -2**31 <= int(value) < 2**31:
        raise DorisError(f"Failed to set config '{key}'. err: For input string: \"{value}\"")
    return str(int(value))
