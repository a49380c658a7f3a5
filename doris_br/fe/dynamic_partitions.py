"""Dynamic partitions and partition retention: Doris's `dynamic_partition.*` rules and the FE's scheduler.

The rules (DynamicPartitionUtil): which properties exist, their defaults, their checks and error texts, and
how SHOW CREATE TABLE prints them. The scheduler (DynamicPartitionScheduler): every
`dynamic_partition_check_interval_seconds` (gated by `dynamic_partition_enable`) it gives each table with
`"dynamic_partition.enable" = "true"` its partitions from `start` (with create_history_partition) to `end`
time units around now, drops those that ended before `start`, and keeps only the newest
`partition.retention_count` history partitions of AUTO PARTITION tables. Its changes are journaled as
ALTER TABLE ADD / DROP PARTITION are; it never drops a partition a running backup has planned, and leaves
tables under restore alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs
from mysql_mimic.errors import SQLSTATES

from doris_br.clock import now_ms, time_text
from doris_br.errors import DorisError
from doris_br.fe.olap import NOT_ENOUGH_BACKENDS, Partition, Table, partitions_of, replication_num, sortable_key
from doris_br.names import check_partition_name
from doris_br.schema import PartitionDesc, base_type

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend

log = logging.getLogger(__name__)

PREFIX = "dynamic_partition."
ENABLE = PREFIX + "enable"
TIME_UNIT = PREFIX + "time_unit"
TIME_ZONE = PREFIX + "time_zone"
START = PREFIX + "start"
END = PREFIX + "end"
NAME_PREFIX = PREFIX + "prefix"
BUCKETS = PREFIX + "buckets"
REPLICATION_NUM = PREFIX + "replication_num"
REPLICATION_ALLOCATION = PREFIX + "replication_allocation"
CREATE_HISTORY = PREFIX + "create_history_partition"
HISTORY_NUM = PREFIX + "history_partition_num"
HOT_NUM = PREFIX + "hot_partition_num"
RESERVED = PREFIX + "reserved_history_periods"
STORAGE_POLICY = PREFIX + "storage_policy"
STORAGE_MEDIUM = PREFIX + "storage_medium"
START_DAY_OF_WEEK = PREFIX + "start_day_of_week"
START_DAY_OF_MONTH = PREFIX + "start_day_of_month"
KNOWN = frozenset({ENABLE, TIME_UNIT, TIME_ZONE, START, END, NAME_PREFIX, BUCKETS, REPLICATION_NUM,
                   REPLICATION_ALLOCATION, CREATE_HISTORY, HISTORY_NUM, HOT_NUM, RESERVED, STORAGE_POLICY,
                   STORAGE_MEDIUM, START_DAY_OF_WEEK, START_DAY_OF_MONTH})
# Keys whose presence makes a table dynamic (DynamicPartitionUtil.checkInputDynamicPartitionProperties): with any
# of them the required ones must be there and the rest get their defaults.
_TRIGGERS = (ENABLE, TIME_UNIT, TIME_ZONE, NAME_PREFIX, START, END, BUCKETS, CREATE_HISTORY, HISTORY_NUM, RESERVED)
RETENTION_COUNT = "partition.retention_count"

MIN_START = -2**31
NOT_SET = -1
NO_PERIODS = "NULL"
UNITS = ("HOUR", "DAY", "WEEK", "MONTH", "YEAR")
# Doris's FE configs: how often the scheduler runs, whether it runs, how many partitions one table may get.
INTERVAL_CONFIG = "dynamic_partition_check_interval_seconds"
ENABLE_CONFIG = "dynamic_partition_enable"
MAX_NUM_CONFIG = "max_dynamic_partition_num"
DEFAULT_INTERVAL_S = 600
DEFAULT_MAX_NUM = 500
CONFIG_DEFAULTS = {INTERVAL_CONFIG: str(DEFAULT_INTERVAL_S), ENABLE_CONFIG: "true",
                   MAX_NUM_CONFIG: str(DEFAULT_MAX_NUM)}

# Doris's ErrorCode numbers for these checks (the SQLSTATE is 42000 for all of them).
ER_TIME_UNIT, ER_START_END, ER_BUCKETS, ER_ENABLE, ER_PREFIX = 5065, 5066, 5067, 5068, 5069
ER_REPLICATION_ZERO, ER_REPLICATION_FORMAT, ER_CREATE_HISTORY, ER_HISTORY_NUM = 5071, 5072, 5074, 5075
ER_PERIODS_EMPTY, ER_PERIODS_INVALID, ER_PERIODS_ORDER = 5076, 5077, 5079
SQLSTATES.update({code: b"42000" for code in (
    ER_TIME_UNIT, ER_START_END, ER_BUCKETS, ER_ENABLE, ER_PREFIX, ER_REPLICATION_ZERO, ER_REPLICATION_FORMAT,
    ER_CREATE_HISTORY, ER_HISTORY_NUM, ER_PERIODS_EMPTY, ER_PERIODS_INVALID, ER_PERIODS_ORDER)})


def system_time_zone() -> str:
    """The zone Doris's FE takes from its JVM: TZ, else what /etc/localtime links to, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = os.readlink("/etc/localtime")
            name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
        except OSError:
            name = ""
    try:
        zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name or "UTC"


# ---- the properties ----------------------------------------------------------------------------------------


@attrs.frozen
class DynamicPartition:
    """A table's dynamic_partition.* as Doris's DynamicPartitionProperty reads them from the stored strings."""

    enable: bool
    time_unit: str
    time_zone: str
    start: int
    end: int
    prefix: str
    buckets: int
    replication: int  # NOT_SET: the table's
    create_history: bool
    history_num: int
    hot_num: int
    reserved_periods: str
    storage_policy: str
    storage_medium: str
    start_day_of_week: int
    start_day_of_month: int

    @classmethod
    def of(cls, properties: dict[str, str]) -> DynamicPartition | None:
        """None when the table has no dynamic partition properties."""
        if TIME_UNIT not in properties:
            return None
        allocation = properties.get(REPLICATION_ALLOCATION)
        return cls(
            enable=properties.get(ENABLE, "false").lower() == "true", time_unit=properties[TIME_UNIT],
            time_zone=properties.get(TIME_ZONE) or system_time_zone(),
            start=int(properties.get(START, MIN_START)), end=int(properties.get(END, 0)),
            prefix=properties.get(NAME_PREFIX, "p"), buckets=int(properties.get(BUCKETS, 0)),
            replication=replication_num({"replication_allocation": allocation}) if allocation else NOT_SET,
            create_history=properties.get(CREATE_HISTORY, "false").lower() == "true",
            history_num=int(properties.get(HISTORY_NUM, NOT_SET)), hot_num=int(properties.get(HOT_NUM, 0)),
            reserved_periods=properties.get(RESERVED, NO_PERIODS), storage_policy=properties.get(STORAGE_POLICY, ""),
            storage_medium=properties.get(STORAGE_MEDIUM, ""),
            start_day_of_week=int(properties.get(START_DAY_OF_WEEK, 1)),
            start_day_of_month=int(properties.get(START_DAY_OF_MONTH, 1)),
        )

    @property
    def unit(self) -> str:
        return self.time_unit.upper()

    def replication_of(self, table: Table) -> int:
        return table.replication_num if self.replication == NOT_SET else self.replication

    def first_offset(self) -> int:
        """The oldest offset the scheduler creates: `start`, or -history_partition_num if that is nearer."""
        if not self.create_history:
            return 0
        if self.history_num == NOT_SET:
            return self.start
        return max(self.start, -self.history_num)

    def start_of(self) -> str:
        """SHOW DYNAMIC PARTITION TABLES' StartOf: the first day of a week or month, N/A for other units."""
        if self.unit == "WEEK":
            return ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")[
                self.start_day_of_week - 1]
        if self.unit == "MONTH":
            day = self.start_day_of_month
            suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
            return f"{day}{suffix}"
        return "N/A"  # FeConstants.null_string, as Doris's documentation shows it


def show_create_properties(table: Table) -> list[tuple[str, str]]:
    """What SHOW CREATE TABLE prints for the dynamic partition, in Doris's order (DynamicPartitionProperty
    .getProperties): every property, defaults included, replicas as the resolved allocation."""
    dp = DynamicPartition.of(table.properties)
    if dp is None:
        return []
    out = [(ENABLE, "true" if dp.enable else "false"), (TIME_UNIT, dp.time_unit), (TIME_ZONE, dp.time_zone),
           (START, str(dp.start)), (END, str(dp.end)), (NAME_PREFIX, dp.prefix),
           (REPLICATION_ALLOCATION, f"tag.location.default: {dp.replication_of(table)}"),
           (BUCKETS, str(dp.buckets)), (CREATE_HISTORY, "true" if dp.create_history else "false"),
           (HISTORY_NUM, str(dp.history_num)), (HOT_NUM, str(dp.hot_num)), (RESERVED, dp.reserved_periods),
           (STORAGE_POLICY, dp.storage_policy)]
    if dp.storage_medium:
        out.append((STORAGE_MEDIUM, dp.storage_medium))
    if dp.unit == "WEEK":
        out.append((START_DAY_OF_WEEK, str(dp.start_day_of_week)))
    elif dp.unit == "MONTH":
        out.append((START_DAY_OF_MONTH, str(dp.start_day_of_month)))
    return out


@attrs.frozen
class TableShape:
    """What the checks need of the table: its partitioning, partition column type, buckets and replicas."""

    partition_kind: str
    partition_columns: tuple[str, ...]
    partition_type: str  # the partition column's type text, "" without exactly one column
    auto_partition: bool
    auto_unit: str
    buckets: int
    replication: int


def shape_of(table: Table) -> TableShape:
    column_type = table.column(table.partition_columns[0]).type if len(table.partition_columns) == 1 else ""
    return TableShape(table.partition_kind, table.partition_columns, column_type, table.auto_partition,
                      table.auto_unit, table.buckets, table.replication_num)


def _java_int(value: str) -> int | None:
    """Integer.parseInt: an optional sign and digits, within 32 bits; None otherwise."""
    if not re.fullmatch(r"[+-]?[0-9]+", value or ""):
        return None
    number = int(value)
    return number if -2**31 <= number < 2**31 else None


def _boolean(value: str | None) -> bool:
    return (value or "").lower() in ("true", "false")


def analyze(shape: TableShape, current: dict[str, str], given: dict[str, str], alive_backends: int,
            max_partitions: int = DEFAULT_MAX_NUM) -> dict[str, str]:
    """The table's properties after `given` (CREATE TABLE's or ALTER TABLE SET's) are applied, with Doris's
    checks (DynamicPartitionUtil.checkAndSetDynamicPartitionProperty) and defaults filled in."""
    unknown = [k for k in given if k.startswith(PREFIX) and k not in KNOWN]
    if unknown:
        raise DorisError("Invalid dynamic partition properties: " + ", ".join(unknown))
    changes = {k: v for k, v in given.items() if k in KNOWN}
    if not changes:
        return {**current, **given}
    if shape.partition_kind != "RANGE" or len(shape.partition_columns) != 1:
        raise DorisError("Dynamic partition only support single-column range partition")
    if TIME_UNIT not in current:  # becoming dynamic now: the required ones must be there, the rest defaulted
        changes = _with_defaults(shape, changes)
    merged = {**current, **changes}
    _check(shape, changes, merged, alive_backends, max_partitions)
    if REPLICATION_NUM in changes:  # stored as Doris does: an allocation
        merged.pop(REPLICATION_NUM)
        merged[REPLICATION_ALLOCATION] = f"tag.location.default: {int(changes[REPLICATION_NUM])}"
    others = {k: v for k, v in given.items() if k not in KNOWN}
    return {**merged, **others}


def _with_defaults(shape: TableShape, given: dict[str, str]) -> dict[str, str]:
    if not any(given.get(k) for k in _TRIGGERS):
        return given
    out = dict(given)
    out.setdefault(ENABLE, "true")
    for key in (TIME_UNIT, NAME_PREFIX, END):
        if not out.get(key):
            raise DorisError(f"Must assign {key} properties")
    if not out.get(ENABLE):
        out[ENABLE] = "true"
    defaults = {START: str(MIN_START), BUCKETS: str(shape.buckets), TIME_ZONE: system_time_zone(),
                CREATE_HISTORY: "false", HISTORY_NUM: str(NOT_SET), RESERVED: NO_PERIODS}
    for key, value in defaults.items():
        if not out.get(key):
            out[key] = value
    return out


def _check(shape: TableShape, changes: dict[str, str], merged: dict[str, str], alive: int,
           max_partitions: int) -> None:
    """DynamicPartitionUtil.analyzeDynamicPartition, in its order, on the properties being set."""
    if TIME_UNIT in changes:
        _check_time_unit(shape, changes[TIME_UNIT])
    if NAME_PREFIX in changes:
        try:
            check_partition_name(changes[NAME_PREFIX])
        except DorisError:
            raise DorisError(f"Invalid dynamic partition prefix: {changes[NAME_PREFIX]}.", ER_PREFIX) from None
    if BUCKETS in changes:
        _check_positive(changes[BUCKETS], "Dynamic partition buckets is empty", ER_START_END,
                        f"Invalid dynamic partition buckets {changes[BUCKETS]}", ER_BUCKETS,
                        "Dynamic partition buckets must greater than 0", ER_BUCKETS)
    if ENABLE in changes and not _boolean(changes[ENABLE]):
        raise DorisError(f"Invalid dynamic partition enable: {changes[ENABLE]}. Expected true or false", ER_ENABLE)
    start = MIN_START
    if START in changes:
        start = _check_start(changes[START])
    end, has_end = 2**31 - 1, END in changes
    if has_end:
        end = _check_end(changes[END], shape.auto_partition)
    create_history = False
    if CREATE_HISTORY in changes:
        if not _boolean(changes[CREATE_HISTORY]):
            raise DorisError(f"Invalid dynamic partition create_history_partition: {changes[CREATE_HISTORY]}. "
                             "Expected true or false", ER_CREATE_HISTORY)
        create_history = changes[CREATE_HISTORY].lower() == "true"
    history_num = NOT_SET
    if HISTORY_NUM in changes:
        history_num = _check_history_num(changes[HISTORY_NUM])
    first = 0
    if create_history:
        first = start if history_num == NOT_SET else max(start, -history_num)
        if first == MIN_START:
            raise DorisError("Provide start or history_partition_num property when create_history_partition=true. "
                             "Otherwise set create_history_partition=false")
    enabled = changes.get(ENABLE, "true").lower() == "true"
    if has_end and end - first > max_partitions and enabled:
        raise DorisError(f"Too many dynamic partitions: {end - first}. Limit: {max_partitions}")
    if START_DAY_OF_MONTH in changes:
        _check_day(changes[START_DAY_OF_MONTH], START_DAY_OF_MONTH, 28)
    if START_DAY_OF_WEEK in changes:
        _check_day(changes[START_DAY_OF_WEEK], START_DAY_OF_WEEK, 7)
    if TIME_ZONE in changes:
        _check_time_zone(changes[TIME_ZONE])
    if HOT_NUM in changes:
        hot = _java_int(changes[HOT_NUM])
        if hot is None:
            raise DorisError(f"Invalid {HOT_NUM} value")
        if hot < 0:
            raise DorisError(f"{HOT_NUM} must larger than 0.")
    replication = shape.replication
    if REPLICATION_NUM in changes:
        replication = _check_replication(changes[REPLICATION_NUM])
    elif merged.get(REPLICATION_ALLOCATION):
        replication = replication_num({"replication_allocation": merged[REPLICATION_ALLOCATION]})
    _check_backends(replication, alive)  # as Doris, at every change: the next partitions need them
    if RESERVED in changes:
        _check_periods(changes[RESERVED], merged.get(TIME_UNIT, "DAY"))
    if STORAGE_MEDIUM in changes and changes[STORAGE_MEDIUM].upper() not in ("SSD", "HDD"):
        raise DorisError(f"invalid storage medium: {changes[STORAGE_MEDIUM]}. Should be SSD or HDD")
    if changes.get(STORAGE_POLICY):
        raise DorisError(f"{STORAGE_POLICY}: {changes[STORAGE_POLICY]} doesn't exist.")


def _check_time_unit(shape: TableShape, unit: str) -> None:
    if unit.upper() not in UNITS:
        raise DorisError(f"Unsupported time unit {unit}. Expect HOUR/DAY/WEEK/MONTH/YEAR.", ER_TIME_UNIT)
    column_type = base_type(shape.partition_type)
    column = shape.partition_columns[0]
    if unit.upper() == "HOUR" and column_type == "date":
        raise DorisError(f"{TIME_UNIT} could not be HOUR when type of partition column {column} is DATE or DATEV2")
    if unit.upper() == "HOUR" and column_type in ("tinyint", "smallint", "int", "bigint", "largeint"):
        raise DorisError(f"{TIME_UNIT} could not be HOUR when type of partition column {column} is Integer")
    if column_type not in ("date", "datetime", "tinyint", "smallint", "int", "bigint", "largeint"):
        raise DorisError("Dynamic Partition Only Support DATE, DATETIME and INTEGER Type Now.")
    if shape.auto_partition and unit.lower() != (shape.auto_unit or "day"):
        raise DorisError("If support auto partition and dynamic partition at same time, "
                         "they must have the same interval unit.")


def _check_positive(value: str, empty: str, empty_code: int, bad: str, bad_code: int, zero: str,
                    zero_code: int) -> int:
    if not value:
        raise DorisError(empty, empty_code)
    number = _java_int(value)
    if number is None:
        raise DorisError(bad, bad_code)
    if number <= 0:
        raise DorisError(zero, zero_code)
    return number


def _check_start(value: str) -> int:
    number = _java_int(value)
    if number is None:
        raise DorisError(f"Invalid dynamic partition start {value}", ER_START_END)
    if number >= 0:
        raise DorisError("Dynamic partition start must less than 0", ER_START_END)
    return number


def _check_end(value: str, auto_partition: bool) -> int:
    if not value:
        raise DorisError("Dynamic partition end is empty", ER_START_END)
    number = _java_int(value)
    if number is None:
        raise DorisError(f"Invalid dynamic partition end {value}", ER_START_END)
    if number < 0 or (number == 0 and not auto_partition):  # an AUTO PARTITION table may create none ahead
        raise DorisError("Dynamic partition end must greater than 0", ER_START_END)
    return number


def _check_history_num(value: str) -> int:
    number = _java_int(value)
    if number is None:
        raise DorisError(f"Invalid properties: {HISTORY_NUM}")
    if number < 0 and number != NOT_SET:
        raise DorisError("Dynamic history partition num must greater than 0", ER_HISTORY_NUM)
    return number


def _check_day(value: str, key: str, last: int) -> None:
    number = _java_int(value)
    if number is None:
        raise DorisError(f"Invalid properties: {key}")
    if not 1 <= number <= last:
        raise DorisError(f"{key} should between 1 and {last}")


def _check_time_zone(value: str) -> None:
    try:
        if value.upper() not in ("UTC", "GMT") and not re.fullmatch(r"[+-][0-9]{1,2}:[0-9]{2}", value):
            zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DorisError(f"Unknown or incorrect time zone: '{value}'", 1298) from None


def _check_replication(value: str) -> int:
    if not value:
        raise DorisError(f"Invalid properties: {REPLICATION_NUM}")
    number = _java_int(value)
    if number is None:
        raise DorisError(f"Invalid dynamic partition replication num: {value}.", ER_REPLICATION_FORMAT)
    if number <= 0:
        raise DorisError("Dynamic partition replication num must greater than 0", ER_REPLICATION_ZERO)
    return number


def _check_backends(replication: int, alive: int) -> None:
    if alive < replication:
        raise DorisError(NOT_ENOUGH_BACKENDS.format(need=replication, medium="HDD"))


_PERIOD_DAY = re.compile(r"\[([0-9]{4}-[0-9]{2}-[0-9]{2}),([0-9]{4}-[0-9]{2}-[0-9]{2})\]")
_PERIOD_HOUR = re.compile(r"\[([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}),"
                          r"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})\]")


def periods(text: str, unit: str) -> list[tuple[str, str]]:
    """reserved_history_periods as (first, last) pairs, sorted by their first date."""
    if text == NO_PERIODS:
        return []
    pattern = _PERIOD_HOUR if unit.upper() == "HOUR" else _PERIOD_DAY
    return sorted(pattern.findall(text))


def _check_periods(text: str, unit: str) -> None:
    if not text:
        raise DorisError("Dynamic reserved history periods is empty.", ER_PERIODS_EMPTY)
    if text == NO_PERIODS:
        return
    invalid = DorisError(
        f"Invalid \" {RESERVED} \" value {text}. It must be like \"[yyyy-MM-dd,yyyy-MM-dd],[...,...]\" while "
        "time_unit is DAY/WEEK/MONTH or \"[yyyy-MM-dd HH:mm:ss,yyyy-MM-dd HH:mm:ss],[...,...]\" while time_unit "
        "is HOUR.", ER_PERIODS_INVALID)
    if not text.startswith("[") or not text.endswith("]"):
        raise invalid
    found = (_PERIOD_HOUR if unit.upper() == "HOUR" else _PERIOD_DAY).findall(text)
    for first, last in found:
        if first > last:
            raise DorisError(f"The first date is larger than the second date, [{first},{last}] is invalid.",
                             ER_PERIODS_ORDER)
    if len(found) != len(text.split("],[")):
        raise invalid
    parse = "%Y-%m-%d %H:%M:%S" if unit.upper() == "HOUR" else "%Y-%m-%d"
    for pair in found:
        for value in pair:
            try:
                dt.datetime.strptime(value, parse)
            except ValueError:
                raise DorisError(
                    f"Invalid {RESERVED} value. It must be correct DATE value \"[yyyy-MM-dd,yyyy-MM-dd],[...,...]\" "
                    "while time_unit is DAY/WEEK/MONTH or \"[yyyy-MM-dd HH:mm:ss,yyyy-MM-dd HH:mm:ss],[...,...]\" "
                    "while time_unit is HOUR.") from None


def refuse_partition_ddl(table: Table) -> None:
    """Doris's DynamicPartitionUtil.checkAlterAllowed: ADD / DROP PARTITION wait for the scheduler to be off."""
    dp = DynamicPartition.of(table.properties)
    if dp is not None and dp.enable:
        raise DorisError("Cannot add/drop partition on a Dynamic Partition Table, Use command `ALTER TABLE "
                         f"{table.name} SET (\"dynamic_partition.enable\" = \"false\")` firstly.")


# ---- partition ranges --------------------------------------------------------------------------------------


def _zone(name: str) -> dt.tzinfo:
    if re.fullmatch(r"[+-][0-9]{1,2}:[0-9]{2}", name):
        sign = -1 if name[0] == "-" else 1
        hours, minutes = name[1:].split(":")
        return dt.timezone(sign * dt.timedelta(hours=int(hours), minutes=int(minutes)))
    try:
        return zoneinfo.ZoneInfo("UTC" if name.upper() in ("UTC", "GMT") else name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _add_months(day: dt.datetime, months: int) -> dt.datetime:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def unit_start(dp: DynamicPartition, now: dt.datetime, offset: int) -> dt.datetime:
    """The first moment of the unit `offset` units from the one holding `now` (DynamicPartitionUtil
    .getPartitionRangeString), naive, in the table's time zone."""
    if dp.unit == "HOUR":
        return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=offset)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if dp.unit == "DAY":
        return day + dt.timedelta(days=offset)
    if dp.unit == "WEEK":
        moved = day + dt.timedelta(weeks=offset)
        return moved + dt.timedelta(days=dp.start_day_of_week - moved.isoweekday())
    if dp.unit == "MONTH":
        if day.day < dp.start_day_of_month:  # the month began on its start day of the month before
            day = _add_months(day, -1)
        return _add_months(day, offset).replace(day=dp.start_day_of_month)
    return day.replace(year=day.year + offset, month=1, day=1)


def _week_of_year(day: dt.datetime) -> tuple[int, int]:
    """Java's Calendar.WEEK_OF_YEAR (weeks from Sunday, week 1 holds January 1st), with Doris's fix that
    the last days of December are week 53 of their own year, not week 1 of the next."""
    jan1 = dt.date(day.year, 1, 1)
    week = (day.timetuple().tm_yday - 1 + (jan1.isoweekday() % 7)) // 7 + 1
    next_jan1 = dt.date(day.year + 1, 1, 1)
    if day.month == 12 and (next_jan1 - day.date()).days <= next_jan1.isoweekday() % 7:
        week = 53
    return day.year, week


def partition_name(dp: DynamicPartition, lower: dt.datetime) -> str:
    """prefix + the unit's suffix: yyyyMMddHH, yyyyMMdd, yyyy_ww, yyyyMM or yyyy."""
    if dp.unit == "WEEK":
        year, week = _week_of_year(lower)
        return f"{dp.prefix}{year}_{week:02d}"
    digits = lower.strftime("%Y%m%d%H")
    return dp.prefix + digits[:{"HOUR": 10, "DAY": 8, "MONTH": 6, "YEAR": 4}[dp.unit]]


def bound_text(type_text: str, moment: dt.datetime) -> str:
    base = base_type(type_text)
    if base == "date":
        return moment.strftime("%Y-%m-%d")
    if base == "datetime":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%Y%m%d")  # integer columns hold yyyyMMdd


def table_now(dp: DynamicPartition, now: dt.datetime | None = None) -> dt.datetime:
    moment = now or dt.datetime.now(dt.UTC)
    return moment.astimezone(_zone(dp.time_zone)).replace(tzinfo=None)


def wanted_partitions(table: Table, dp: DynamicPartition, now: dt.datetime) -> list[PartitionDesc]:
    """The partitions the table should have from its first offset to `end`, each one unit wide."""
    type_text = table.column(table.partition_columns[0]).type
    out = []
    for offset in range(dp.first_offset(), dp.end + 1):
        lower, upper = unit_start(dp, now, offset), unit_start(dp, now, offset + 1)
        out.append(PartitionDesc(name=partition_name(dp, lower), lower=(bound_text(type_text, lower),),
                                 upper=(bound_text(type_text, upper),)))
    return out


def _intersects(table: Table, desc: PartitionDesc, p: Partition) -> bool:
    """[lower, upper) ranges share a point (None: the type's minimum / MAXVALUE)."""
    below = p.upper is None or sortable_key(table, desc.lower or ()) < sortable_key(table, p.upper)
    above = p.lower is None or desc.upper is None or sortable_key(table, p.lower) < sortable_key(table, desc.upper)
    return below and above


def missing_partitions(table: Table, existing: list[Partition], wanted: list[PartitionDesc]) -> list[PartitionDesc]:
    """Wanted ranges no existing partition overlaps, whose names are free (Doris skips the others)."""
    names = {p.name for p in existing}
    return [d for d in wanted if d.name not in names and not any(_intersects(table, d, p) for p in existing)]


def expired_partitions(table: Table, dp: DynamicPartition, existing: list[Partition],
                       now: dt.datetime) -> list[Partition]:
    """Partitions that end at or before `start` units ago, outside every reserved history period."""
    if dp.start == MIN_START:
        return []
    type_text = table.column(table.partition_columns[0]).type
    limit = (bound_text(type_text, unit_start(dp, now, dp.start)),)
    kept = [(bound_text(type_text, _parse_period(a)), bound_text(type_text, _parse_period(b)))
            for a, b in periods(dp.reserved_periods, dp.unit)]
    out = []
    for p in existing:
        if p.upper is None or sortable_key(table, p.upper) > sortable_key(table, limit):
            continue
        if any(_in_period(table, p, first, last) for first, last in kept):
            continue
        out.append(p)
    return out


def _parse_period(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _in_period(table: Table, p: Partition, first: str, last: str) -> bool:
    """The partition's range meets the closed period [first, last]."""
    starts_before = p.lower is None or sortable_key(table, p.lower) <= sortable_key(table, (last,))
    ends_after = p.upper is None or sortable_key(table, p.upper) > sortable_key(table, (first,))
    return starts_before and ends_after


def beyond_retention(table: Table, existing: list[Partition], now: dt.datetime) -> list[Partition]:
    """AUTO PARTITION's partition.retention_count = N: history partitions (those ending by now) beyond the N
    newest; current and future ones are always kept. A value that is no positive int is kept and not applied
    (Doris's TableProperty.buildPartitionRetentionCount)."""
    count = _java_int(table.properties.get(RETENTION_COUNT, ""))
    if not table.auto_partition or count is None or count <= 0:
        return []
    type_text = table.column(table.partition_columns[0]).type
    current = (bound_text(type_text, now),)
    history = [p for p in existing if p.upper is not None and sortable_key(table, p.upper) <= sortable_key(
        table, current)]
    history.sort(key=lambda p: sortable_key(table, p.upper or ()), reverse=True)
    return history[count:]


# ---- the scheduler -----------------------------------------------------------------------------------------


@attrs.define
class RuntimeInfo:
    """What SHOW DYNAMIC PARTITION TABLES tells of the scheduler's last work on a table (memory only, as in
    Doris)."""

    last_update_time: str = "N/A"
    last_scheduler_time: str = "N/A"
    state: str = "NORMAL"
    create_message: str = "N/A"
    drop_message: str = "N/A"


def held_by_backups(fe: Frontend) -> tuple[set[int], set[tuple[int, str]]]:
    """Partition ids an unfinished backup has planned (its tablets and its meta), and (db, table) of those
    that have not planned yet, whose every partition is held."""
    ids: set[int] = set()
    tables: set[tuple[int, str]] = set()
    for job in fe.jobs.unfinished():
        if job.type != "BACKUP":
            continue
        if job.state == "PENDING":
            tables |= {(job.db_id, ref.table) for ref in job.objects}
        ids |= {t.partition_id for t in job.tablets}
        for entry in (job.meta.get("tables") or {}).values():
            ids |= {int(p["id"]) for p in entry.get("partitions", [])}
    return ids, tables


class DynamicPartitionScheduler:
    def __init__(self, fe: Frontend) -> None:
        self.fe = fe
        self.runtime: dict[int, RuntimeInfo] = {}
        self._wake = asyncio.Event()

    def interval_s(self) -> float:
        value = _java_int(str(self.fe.frontend_config.get(INTERVAL_CONFIG, DEFAULT_INTERVAL_S)))
        return float(value) if value is not None and value > 0 else float(DEFAULT_INTERVAL_S)

    def enabled(self) -> bool:
        return str(self.fe.frontend_config.get(ENABLE_CONFIG, "true")).lower() == "true"

    def max_partitions(self) -> int:
        value = _java_int(str(self.fe.frontend_config.get(MAX_NUM_CONFIG, DEFAULT_MAX_NUM)))
        return value if value is not None else DEFAULT_MAX_NUM

    def wake(self) -> None:
        """A changed interval takes effect now, not after the old one has run out."""
        self._wake.set()

    def info(self, table_id: int) -> RuntimeInfo:
        return self.runtime.setdefault(table_id, RuntimeInfo())

    def touched(self, table_id: int) -> None:
        """ALTER TABLE SET changed the table's dynamic partition properties (LastUpdateTime; N/A after CREATE,
        as Doris's documentation shows)."""
        self.info(table_id).last_update_time = time_text(now_ms()) or "N/A"

    async def run_forever(self) -> None:
        """A round at start (as Doris's daemon: tables whose time came while the FE was down), then one per
        interval; a wake (a changed interval or gate) starts the next round at once."""
        while True:
            self._wake.clear()
            if self.enabled():
                await self.run_once()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s())
            except TimeoutError:
                pass

    async def run_once(self) -> None:
        known = {t.id for t in self.fe.catalog.all(Table)}
        for table_id in [i for i in self.runtime if i not in known]:  # dropped tables leave no news behind
            del self.runtime[table_id]
        for table in self.scheduled_tables():
            try:
                await self.schedule(table.id)
            except Exception:  # one table's trouble must not stop the others' partitions
                log.exception("dynamic partition scheduling of table %s failed", table.name)

    def scheduled_tables(self) -> list[Table]:
        """Tables with enabled dynamic partitions, and AUTO PARTITION tables with a retention count."""
        out = []
        for table in self.fe.catalog.all(Table):
            dp = DynamicPartition.of(table.properties)
            if table.partition_kind != "RANGE" or len(table.partition_columns) != 1:
                continue  # what the checks refuse; a table could only come by it from a foreign snapshot
            if (dp is not None and dp.enable) or (table.auto_partition and RETENTION_COUNT in table.properties):
                out.append(table)
        return sorted(out, key=lambda t: t.id)

    async def schedule(self, table_id: int) -> None:
        """One table's round, holding the table as ALTER TABLE does: create what is missing, drop what expired.
        A partition that cannot be created (too few alive BEs) is noted in State and LastCreatePartitionMsg
        and tried again next round; at CREATE TABLE too, whose table stands and gets them later."""
        from doris_br.fe.load import table_lock
        from doris_br.fe.placement import create_partitions, drop_tablets

        async with table_lock(table_id):
            table = self.fe.catalog.get(Table, str(table_id))
            if table is None or self.fe.jobs.restore_of(table.db_id, table.name, table.id) is not None:
                return  # a restore swaps this table's partitions at its commit: leave it alone until then
            info = self.info(table.id)
            info.last_scheduler_time = time_text(now_ms()) or "N/A"
            dp = DynamicPartition.of(table.properties)
            existing = partitions_of(self.fe.catalog, table)
            if dp is not None and dp.enable:
                now = table_now(dp)
                expired = expired_partitions(table, dp, existing, now)
                dropped = self._droppable(table, expired)
                remaining = [p for p in existing if p not in dropped]
                wanted = [d for d in wanted_partitions(table, dp, now) if not _expired_desc(table, dp, d, now)]
                new_descs = missing_partitions(table, remaining, wanted)
                new = await self._create(table, dp, new_descs, create_partitions)
            else:
                dropped = self._droppable(table, beyond_retention(table, existing, fe_now()))
                new = []
            if not new and not dropped:
                return
            self.fe.catalog.commit(puts=new, deletes=dropped)
        if dropped:
            info.drop_message = "N/A"
            await drop_tablets(self.fe, dropped)

    async def _create(self, table: Table, dp: DynamicPartition, descs: list[PartitionDesc],
                      create: Any) -> list[Partition]:
        if not descs:
            return []
        shaped = attrs.evolve(table, distribution=attrs.evolve(table.distribution, buckets=dp.buckets))
        info = self.info(table.id)
        try:
            made = await create(self.fe, shaped, descs, replication=dp.replication_of(table))
        except DorisError as e:
            info.state, info.create_message = "ERROR", e.detail
            return []
        info.state, info.create_message = "NORMAL", "N/A"
        return list(made)

    def _droppable(self, table: Table, victims: Iterable[Partition]) -> list[Partition]:
        """Victims no running backup holds; the held ones wait for a later round."""
        held_ids, held_tables = held_by_backups(self.fe)
        if (table.db_id, table.name) in held_tables:
            return []
        return [p for p in victims if p.id not in held_ids]


def _expired_desc(table: Table, dp: DynamicPartition, desc: PartitionDesc, now: dt.datetime) -> bool:
    """A history partition that the same round would drop again (history_partition_num beyond start)."""
    if dp.start == MIN_START or desc.upper is None:
        return False
    type_text = table.column(table.partition_columns[0]).type
    limit = (bound_text(type_text, unit_start(dp, now, dp.start)),)
    return sortable_key(table, desc.upper) <= sortable_key(table, limit)


def fe_now() -> dt.datetime:
    """Now, naive, in the FE's own zone: AUTO PARTITION bounds are local dates of the loaded values."""
    return dt.datetime.now(dt.UTC).astimezone(_zone(system_time_zone())).replace(tzinfo=None)


def show_rows(fe: Frontend, tables: list[Table]) -> list[tuple[Any, ...]]:
    """SHOW DYNAMIC PARTITION TABLES' rows for the tables with dynamic partition properties."""
    rows = []
    for table in tables:
        dp = DynamicPartition.of(table.properties)
        if dp is None:
            continue
        info = fe.dynamic_partitions.info(table.id)
        replication = dp.replication_of(table)
        rows.append((table.name, "true" if dp.enable else "false", dp.unit, dp.start, dp.end, dp.prefix,
                     dp.buckets, replication, f"tag.location.default: {replication}", dp.start_of(),
                     info.last_update_time, info.last_scheduler_time, info.state, info.create_message,
                     info.drop_message, ",".join(f"[{a},{b}]" for a, b in periods(dp.reserved_periods, dp.unit))
                     or NO_PERIODS))
    return rows


SHOW_COLUMNS = ["TableName", "Enable", "TimeUnit", "Start", "End", "Prefix", "Buckets", "ReplicationNum",
                "ReplicaAllocation", "StartOf", "LastUpdateTime", "LastSchedulerTime", "State",
                "LastCreatePartitionMsg", "LastDropPartitionMsg", "ReservedHistoryPeriods"]
