"""Issue 15 item 3: dynamic partitions (properties, scheduler, SHOW), AUTO PARTITION retention, and restores of
such tables, through a real FE and BEs."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from pathlib import Path

import pymysql
import pytest

from doris_br.fe.dynamic_partitions import system_time_zone
from tests.backup_helpers import backup_and_wait, create_local_repo, hold, release, wait_job
from tests.cluster import Cluster
from tests.s3server import S3Server

# Dynamic partitions follow the FE's zone unless dynamic_partition.time_zone says otherwise.
ZONE = zoneinfo.ZoneInfo(system_time_zone())


def error_of(cluster: Cluster, sql: str) -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        cluster.query(sql)
    return e.value.args[0], e.value.args[1]


def partitions(cluster: Cluster, table: str) -> dict[str, dict]:
    return {r["PartitionName"]: r for r in cluster.query_dicts(f"SHOW PARTITIONS FROM {table}")}


def set_interval(cluster: Cluster, seconds: int) -> None:
    cluster.query(f"ADMIN SET FRONTEND CONFIG ('dynamic_partition_check_interval_seconds' = '{seconds}')")


@pytest.fixture(autouse=True)
def clear_of_the_hour_end() -> None:
    """The expected partitions are computed from the clock: a test does not start in an hour's (and so a day's)
    last 40 seconds, where what it computed and what the FE computes could fall in different units."""
    now = local_now()
    if now.minute == 59 and now.second >= 20:
        time.sleep(61 - now.second)


@pytest.fixture
def fast_scheduler(cluster: Cluster):  # type: ignore[no-untyped-def]
    """The shared cluster's scheduler every second for this test, back to Doris's 600 s after it."""
    set_interval(cluster, 1)
    yield cluster
    set_interval(cluster, 600)


def local_now() -> dt.datetime:
    return dt.datetime.now(ZONE).replace(tzinfo=None)


def days(offset: int) -> dt.date:
    return local_now().date() + dt.timedelta(days=offset)


def day_name(offset: int, prefix: str = "p") -> str:
    return prefix + days(offset).strftime("%Y%m%d")


DAY_TABLE = """CREATE TABLE {name} (k DATE, v INT) DUPLICATE KEY(k)
PARTITION BY RANGE(k) ()
DISTRIBUTED BY HASH(v) BUCKETS 3
PROPERTIES ("replication_num" = "1", "dynamic_partition.time_unit" = "DAY", "dynamic_partition.start" = "-2",
"dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", "dynamic_partition.buckets" = "2",
"dynamic_partition.create_history_partition" = "true"{extra})"""


def test_create_gives_history_and_future_partitions_and_show_create(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE dp_create")
    cluster.query("USE dp_create")
    with cluster.connect(database="dp_create") as conn, conn.cursor() as cur:
        cur.execute(DAY_TABLE.format(name="t", extra=', "dynamic_partition.replication_num" = "2"'))
        cur.execute("SHOW PARTITIONS FROM t")
        rows = {r[1]: r for r in cur.fetchall()}
        # Right after CREATE, as Doris: start .. end days around today, one unit each, named prefix + yyyyMMdd.
        assert sorted(rows) == [day_name(i) for i in range(-2, 4)]
        today = rows[day_name(0)]
        assert today[6] == (f"[types: [DATEV2]; keys: [{days(0)}]; ..types: [DATEV2]; keys: [{days(1)}]; )")
        assert (today[8], today[9]) == ("2", "2")  # dynamic_partition.buckets and .replication_num
        cur.execute(f"INSERT INTO t VALUES ('{days(0)}', 1), ('{days(3)}', 2), ('{days(-2)}', 3)")
        cur.execute("SELECT v FROM t ORDER BY v")
        assert [r[0] for r in cur.fetchall()] == [1, 2, 3]
        cur.execute("SHOW CREATE TABLE t")
        text = cur.fetchone()[1]
    block = text.split('"is_being_synced" = "false",\n', 1)[1].split(',\n"storage_medium"', 1)[0]
    assert block.split(",\n") == [
        '"dynamic_partition.enable" = "true"', '"dynamic_partition.time_unit" = "DAY"',
        f'"dynamic_partition.time_zone" = "{system_time_zone()}"', '"dynamic_partition.start" = "-2"',
        '"dynamic_partition.end" = "3"', '"dynamic_partition.prefix" = "p"',
        '"dynamic_partition.replication_allocation" = "tag.location.default: 2"',
        '"dynamic_partition.buckets" = "2"', '"dynamic_partition.create_history_partition" = "true"',
        '"dynamic_partition.history_partition_num" = "-1"', '"dynamic_partition.hot_partition_num" = "0"',
        '"dynamic_partition.reserved_history_periods" = "NULL"', '"dynamic_partition.storage_policy" = ""']
    # What SHOW CREATE TABLE prints creates the same table again.
    cluster.query("DROP TABLE dp_create.t")
    with cluster.connect(database="dp_create") as conn, conn.cursor() as cur:
        cur.execute(text)
        cur.execute("SHOW CREATE TABLE t")
        assert cur.fetchone()[1] == text
    # Without create_history_partition only today and the future are made; defaults as Doris fills them in.
    cluster.query('CREATE TABLE dp_create.f (k DATE, v INT) PARTITION BY RANGE(k) () DISTRIBUTED BY HASH(v) '
                  'BUCKETS 4 PROPERTIES ("replication_num" = "1", "dynamic_partition.time_unit" = "day", '
                  '"dynamic_partition.end" = "2", "dynamic_partition.prefix" = "d_")')
    assert sorted(partitions(cluster, "dp_create.f")) == [day_name(i, "d_") for i in range(0, 3)]
    show = cluster.query_dicts("SHOW DYNAMIC PARTITION TABLES FROM dp_create")
    assert list(show[0]) == ["TableName", "Enable", "TimeUnit", "Start", "End", "Prefix", "Buckets",
                             "ReplicationNum", "ReplicaAllocation", "StartOf", "LastUpdateTime",
                             "LastSchedulerTime", "State", "LastCreatePartitionMsg", "LastDropPartitionMsg",
                             "ReservedHistoryPeriods"]
    f = next(r for r in show if r["TableName"] == "f")
    assert (f["Enable"], f["TimeUnit"], f["Start"], f["End"], f["Prefix"], f["Buckets"], f["ReplicationNum"],
            f["ReplicaAllocation"], f["StartOf"], f["State"], f["ReservedHistoryPeriods"]) == (
        "true", "DAY", "-2147483648", "2", "d_", "4", "1", "tag.location.default: 1", "N/A", "NORMAL", "NULL")
    assert len(f["LastSchedulerTime"]) == 19 and f["LastUpdateTime"] == "N/A"
    # ADD / DROP PARTITION wait until the table's dynamic partitioning is switched off.
    code, message = error_of(cluster, f"ALTER TABLE dp_create.f DROP PARTITION {day_name(0, 'd_')}")
    assert message.endswith("Cannot add/drop partition on a Dynamic Partition Table, Use command `ALTER TABLE f "
                            "SET (\"dynamic_partition.enable\" = \"false\")` firstly.")
    cluster.query('ALTER TABLE dp_create.f SET ("dynamic_partition.enable" = "false")')
    cluster.query(f"ALTER TABLE dp_create.f DROP PARTITION {day_name(0, 'd_')}")
    f = cluster.query_dicts("SHOW DYNAMIC PARTITION TABLES FROM dp_create")[0]
    assert f["Enable"] == "false" and len(f["LastUpdateTime"]) == 19
    # A table without dynamic partitions is not listed.
    cluster.query("CREATE TABLE dp_create.plain (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 "
                  "PROPERTIES ('replication_num' = '1')")
    assert [r["TableName"] for r in cluster.query_dicts("SHOW DYNAMIC PARTITION TABLES FROM dp_create")] == [
        "f", "t"]


def test_scheduler_runs_live_creates_hours_and_drops_old(fast_scheduler: Cluster) -> None:
    cluster = fast_scheduler
    hour = local_now().replace(minute=0, second=0, microsecond=0)
    old = hour - dt.timedelta(hours=5)
    cluster.query("CREATE DATABASE dp_hour")
    cluster.query(
        "CREATE TABLE dp_hour.h (k DATETIME, v INT) PARTITION BY RANGE(k) ("
        f"PARTITION p_old VALUES [('{old:%Y-%m-%d %H:%M:%S}'), ('{old + dt.timedelta(hours=1):%Y-%m-%d %H:%M:%S}')))"
        " DISTRIBUTED BY HASH(v) BUCKETS 1 PROPERTIES ('replication_num' = '1', "
        "'dynamic_partition.enable' = 'false', 'dynamic_partition.time_unit' = 'HOUR', "
        "'dynamic_partition.start' = '-2', 'dynamic_partition.end' = '1', 'dynamic_partition.prefix' = 'h')")
    assert list(partitions(cluster, "dp_hour.h")) == ["p_old"]  # not enabled: nothing scheduled
    cluster.query("ALTER TABLE dp_hour.h SET ('dynamic_partition.enable' = 'true')")
    want = [f"h{hour + dt.timedelta(hours=i):%Y%m%d%H}" for i in (0, 1)]
    # The next round (within the 1 s interval) drops p_old (ended before start) and adds this and the next hour.
    cluster.wait_for(lambda: sorted(partitions(cluster, "dp_hour.h")) == want, timeout=15)
    row = partitions(cluster, "dp_hour.h")[want[1]]
    assert row["Range"].endswith(f"keys: [{hour + dt.timedelta(hours=2):%Y-%m-%d %H:%M:%S}]; )")
    # The gate: with dynamic_partition_enable false nothing more happens, even after an ALTER.
    cluster.query("ADMIN SET FRONTEND CONFIG ('dynamic_partition_enable' = 'false')")
    try:
        cluster.query("ALTER TABLE dp_hour.h SET ('dynamic_partition.end' = '3')")
        time.sleep(2.5)  # two rounds' time
        assert sorted(partitions(cluster, "dp_hour.h")) == want
    finally:
        cluster.query("ADMIN SET FRONTEND CONFIG ('dynamic_partition_enable' = 'true')")
    cluster.wait_for(lambda: len(partitions(cluster, "dp_hour.h")) == 4, timeout=15)
    config = dict((r[0], r[1]) for r in cluster.query(
        "ADMIN SHOW FRONTEND CONFIG LIKE 'dynamic_partition%'"))
    assert config == {"dynamic_partition_check_interval_seconds": "1", "dynamic_partition_enable": "true"}
    assert error_of(cluster, "ADMIN SET FRONTEND CONFIG ('dynamic_partition_check_interval_seconds' = 'x')") == (
        1105, "errCode = 2, detailMessage = Failed to set config 'dynamic_partition_check_interval_seconds'. "
              "err: For input string: \"x\"")


def test_retention_count_keeps_the_newest_history_partitions(fast_scheduler: Cluster) -> None:
    cluster = fast_scheduler
    cluster.query("CREATE DATABASE dp_auto")
    cluster.query("CREATE TABLE dp_auto.a (k DATETIME NOT NULL, v INT) AUTO PARTITION BY RANGE "
                  "(date_trunc(k, 'day')) () DISTRIBUTED BY HASH(v) BUCKETS 1 PROPERTIES ("
                  "'replication_num' = '1', 'partition.retention_count' = '5')")
    values = ", ".join(f"('{days(i)} 10:00:00', {i})" for i in range(-5, 3))
    cluster.query(f"INSERT INTO dp_auto.a VALUES {values}")
    name = "p{:%Y%m%d}000000".format
    cluster.wait_for(lambda: sorted(partitions(cluster, "dp_auto.a")) == [name(days(i)) for i in range(-5, 3)]
                     or None, timeout=5)
    cluster.query("ALTER TABLE dp_auto.a SET ('partition.retention_count' = '2')")
    # History partitions are those ending by now: the newest 2 stay, and today's and the future ones.
    kept = [name(days(i)) for i in range(-2, 3)]
    cluster.wait_for(lambda: sorted(partitions(cluster, "dp_auto.a")) == kept, timeout=15)
    assert [r[0] for r in cluster.query("SELECT v FROM dp_auto.a ORDER BY v")] == [-2, -1, 0, 1, 2]
    assert '"partition.retention_count" = "2"' in cluster.query("SHOW CREATE TABLE dp_auto.a")[0][1]


ERRORS = [
    ('"dynamic_partition.time_unit" = "MINUTE", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p"',
     5065, "Unsupported time unit MINUTE. Expect HOUR/DAY/WEEK/MONTH/YEAR."),
    ('"dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p"', 1105,
     "Must assign dynamic_partition.time_unit properties"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.prefix" = "p"', 1105,
     "Must assign dynamic_partition.end properties"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3"', 1105,
     "Must assign dynamic_partition.prefix properties"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.start" = "1"', 5066, "Dynamic partition start must less than 0"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "0", "dynamic_partition.prefix" = "p"',
     5066, "Dynamic partition end must greater than 0"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "x", "dynamic_partition.prefix" = "p"',
     5066, "Invalid dynamic partition end x"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "1p"',
     5069, "Invalid dynamic partition prefix: 1p."),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.buckets" = "0"', 5067, "Dynamic partition buckets must greater than 0"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.enable" = "yes"', 5068, "Invalid dynamic partition enable: yes. Expected true or false"),
    ('"dynamic_partition.time_unit" = "HOUR", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p"',
     1105, "dynamic_partition.time_unit could not be HOUR when type of partition column k is DATE or DATEV2"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.create_history_partition" = "true"', 1105,
     "Provide start or history_partition_num property when create_history_partition=true. "
     "Otherwise set create_history_partition=false"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "600", "dynamic_partition.prefix" = "p"',
     1105, "Too many dynamic partitions: 600. Limit: 500"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.replication_num" = "0"', 5071, "Dynamic partition replication num must greater than 0"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.replication_num" = "9"', 1105, "Failed to find enough backend"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.time_zone" = "Mars/Base"', 1298, "Unknown or incorrect time zone: 'Mars/Base'"),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.reserved_history_periods" = "2020-01-01"', 5077,
     "Invalid \" dynamic_partition.reserved_history_periods \" value 2020-01-01."),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.reserved_history_periods" = "[2020-02-01,2020-01-01]"', 5079,
     "The first date is larger than the second date, [2020-02-01,2020-01-01] is invalid."),
    ('"dynamic_partition.time_unit" = "DAY", "dynamic_partition.end" = "3", "dynamic_partition.prefix" = "p", '
     '"dynamic_partition.start_day_of_week" = "8"', 1105, "dynamic_partition.start_day_of_week should between 1 and 7"),
    ('"dynamic_partition.colour" = "red"', 1105, "Invalid dynamic partition properties: dynamic_partition.colour"),
]


def test_property_errors_at_create_and_alter(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE dp_errors")
    for i, (props, code, message) in enumerate(ERRORS):
        got = error_of(cluster, f"CREATE TABLE dp_errors.t{i} (k DATE, v INT) PARTITION BY RANGE(k) () "
                                f"DISTRIBUTED BY HASH(v) BUCKETS 1 PROPERTIES ('replication_num' = '1', {props})")
        assert got[0] == code and got[1].startswith("errCode = 2, detailMessage = " + message), (props, got)
    assert cluster.query("SHOW TABLES FROM dp_errors") == []
    cluster.query("CREATE TABLE dp_errors.l (k DATE, v INT) PARTITION BY LIST(k) () DISTRIBUTED BY HASH(v) "
                  "BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    assert error_of(cluster, "ALTER TABLE dp_errors.l SET ('dynamic_partition.time_unit' = 'DAY', "
                             "'dynamic_partition.end' = '3', 'dynamic_partition.prefix' = 'p')")[1].endswith(
        "Dynamic partition only support single-column range partition")
    cluster.query(DAY_TABLE.format(name="dp_errors.ok", extra=""))
    assert error_of(cluster, "ALTER TABLE dp_errors.ok SET ('dynamic_partition.start' = '0')") == (
        5066, "errCode = 2, detailMessage = Dynamic partition start must less than 0")
    assert error_of(cluster, "SHOW DYNAMIC PARTITION TABLES FROM dp_nowhere") == (
        1049, "errCode = 2, detailMessage = Unknown database 'dp_nowhere'")
    assert error_of(cluster, "SHOW DYNAMIC PARTITION TABLES")[0] == 1046
    # Through the mariadb client too, with Doris's code.
    out = cluster.mariadb("ALTER TABLE dp_errors.ok SET ('dynamic_partition.time_unit' = 'DECADE')")
    assert out.returncode == 1
    assert "ERROR 5065 (42000)" in out.stderr and "Unsupported time unit DECADE." in out.stderr


def test_backup_holds_partitions_and_restore_switches_dynamic_off(fast_scheduler: Cluster, tmp_path: Path) -> None:
    cluster = fast_scheduler
    cluster.query("CREATE DATABASE dp_br")
    cluster.query(DAY_TABLE.format(name="dp_br.t", extra=""))
    cluster.query(f"INSERT INTO dp_br.t VALUES ('{days(-2)}', 1), ('{days(0)}', 2)")
    create_local_repo(cluster, "dp_br_repo", tmp_path)
    ts = backup_and_wait(cluster, "dp_br", "full", "dp_br_repo")
    # A backup that has planned the table holds its partitions: a start that expires day -2 waits for it.
    hold(cluster, "BACKUP.UPLOADING")
    try:
        cluster.query("BACKUP SNAPSHOT dp_br.held TO dp_br_repo ON (t)")
        wait_job(cluster, "BACKUP", "dp_br", "held", states=("UPLOADING",))
        cluster.query("ALTER TABLE dp_br.t SET ('dynamic_partition.start' = '-1')")
        time.sleep(2.5)  # two scheduler rounds
        assert day_name(-2) in partitions(cluster, "dp_br.t")
    finally:
        release(cluster)
    assert wait_job(cluster, "BACKUP", "dp_br", "held")["State"] == "FINISHED"
    cluster.wait_for(lambda: day_name(-2) not in partitions(cluster, "dp_br.t"), timeout=15)
    # RESTORE switches dynamic partitioning off unless reserve_dynamic_partition_enable says otherwise.
    cluster.query(f"RESTORE SNAPSHOT dp_br.full FROM dp_br_repo ON (t AS t_off) "
                  f"PROPERTIES ('backup_timestamp' = '{ts}', 'replication_num' = '1')")
    assert wait_job(cluster, "RESTORE", "dp_br", "full")["State"] == "FINISHED"
    cluster.query(f"RESTORE SNAPSHOT dp_br.full FROM dp_br_repo ON (t AS t_on) PROPERTIES ("
                  f"'backup_timestamp' = '{ts}', 'replication_num' = '1', 'reserve_dynamic_partition_enable' = 'true')")
    rows = cluster.query_dicts("SHOW RESTORE FROM dp_br")
    assert [r["ReserveDynamicPartitionEnable"] for r in rows] == ["false", "true"]
    assert wait_job(cluster, "RESTORE", "dp_br", "full")["State"] == "FINISHED"
    off = cluster.query("SHOW CREATE TABLE dp_br.t_off")[0][1]
    assert '"dynamic_partition.enable" = "false"' in off and '"dynamic_partition.end" = "3"' in off
    assert '"dynamic_partition.enable" = "true"' in cluster.query("SHOW CREATE TABLE dp_br.t_on")[0][1]
    # The restored data reads back, in the backed-up partitions.
    assert sorted(r[0] for r in cluster.query("SELECT v FROM dp_br.t_off")) == [1, 2]
    assert sorted(partitions(cluster, "dp_br.t_off")) == [day_name(i) for i in range(-2, 4)]
    enabled = {r["TableName"]: r["Enable"] for r in cluster.query_dicts("SHOW DYNAMIC PARTITION TABLES FROM dp_br")}
    assert enabled == {"t": "true", "t_off": "false", "t_on": "true"}


def test_dynamic_partitions_survive_an_fe_restart(own_cluster: Cluster) -> None:
    cluster = own_cluster
    cluster.query("CREATE DATABASE dp_restart")
    cluster.query(DAY_TABLE.format(name="dp_restart.t", extra=""))
    # Changed properties take effect at the next round, 600 s away: the FE is killed before it comes.
    cluster.query("ALTER TABLE dp_restart.t SET ('dynamic_partition.end' = '5')")
    assert sorted(partitions(cluster, "dp_restart.t")) == [day_name(i) for i in range(-2, 4)]
    before = cluster.query("SHOW CREATE TABLE dp_restart.t")[0][1]
    cluster.kill_fe()
    cluster.start_fe(auto_backends=False)
    # The restarted FE has the journaled properties and partitions, and its first round (at start, as Doris's
    # daemon) adds what the new end asks for.
    assert '"dynamic_partition.end" = "5"' in before
    cluster.wait_for(lambda: sorted(partitions(cluster, "dp_restart.t")) == [day_name(i) for i in range(-2, 6)],
                     timeout=15)
    assert cluster.query("SHOW CREATE TABLE dp_restart.t")[0][1].split("PROPERTIES")[1] == before.split(
        "PROPERTIES")[1]
    cluster.query(f"INSERT INTO dp_restart.t VALUES ('{days(5)}', 5)")
    assert cluster.query("SELECT v FROM dp_restart.t") == [(5,)]


def test_week_month_and_year_units(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE dp_units")
    today = local_now().date()
    made = {}
    for unit, extra in (("WEEK", ", 'dynamic_partition.start_day_of_week' = '3'"),
                        ("MONTH", ", 'dynamic_partition.start_day_of_month' = '1'"), ("YEAR", "")):
        cluster.query(f"CREATE TABLE dp_units.{unit} (k DATE, v INT) PARTITION BY RANGE(k) () DISTRIBUTED BY "
                      f"HASH(v) BUCKETS 1 PROPERTIES ('replication_num' = '1', 'dynamic_partition.time_unit' = "
                      f"'{unit}', 'dynamic_partition.end' = '1', 'dynamic_partition.prefix' = 'p'{extra})")
        made[unit] = sorted(partitions(cluster, f"dp_units.{unit}").values(), key=lambda r: r["Range"])
    # WEEK: weeks from Wednesday (start_day_of_week 3), named p<year>_<week>. As Doris's
    # getPartitionRangeOfWeek has it, "this week" starts on the Wednesday of this Monday-based week, which is
    # after today on a Monday or Tuesday.
    wednesday = today + dt.timedelta(days=3 - today.isoweekday())
    assert [r["Range"].split("keys: [")[1][:10] for r in made["WEEK"]] == [
        str(wednesday), str(wednesday + dt.timedelta(weeks=1))]
    assert all(r["PartitionName"][:2] == "p2" and r["PartitionName"][5] == "_" for r in made["WEEK"])
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    assert [r["PartitionName"] for r in made["MONTH"]] == [f"p{first:%Y%m}", f"p{following:%Y%m}"]
    assert made["MONTH"][0]["Range"].endswith(f"keys: [{following}]; )")
    assert [r["PartitionName"] for r in made["YEAR"]] == [f"p{today.year}", f"p{today.year + 1}"]
    shown = {r["TableName"]: r["StartOf"] for r in cluster.query_dicts("SHOW DYNAMIC PARTITION TABLES FROM dp_units")}
    assert shown == {"MONTH": "1st", "WEEK": "WEDNESDAY", "YEAR": "N/A"}
    assert '"dynamic_partition.start_day_of_week" = "3"' in cluster.query("SHOW CREATE TABLE dp_units.WEEK")[0][1]


def test_s3_round_trip_of_dynamic_and_retained_tables(fast_scheduler: Cluster, s3: S3Server) -> None:
    cluster = fast_scheduler
    cluster.query("CREATE DATABASE dp_s3")
    cluster.query(DAY_TABLE.format(name="dp_s3.d", extra=""))
    cluster.query("CREATE TABLE dp_s3.a (k DATETIME NOT NULL, v INT) AUTO PARTITION BY RANGE "
                  "(date_trunc(k, 'day')) () DISTRIBUTED BY HASH(v) BUCKETS 1 PROPERTIES ("
                  "'replication_num' = '1', 'partition.retention_count' = '3')")
    cluster.query(f"INSERT INTO dp_s3.d VALUES ('{days(-1)}', 1), ('{days(2)}', 2)")
    cluster.query("INSERT INTO dp_s3.a VALUES " + ", ".join(f"('{days(i)} 01:00:00', {i})" for i in range(-3, 1)))
    bucket = s3.create_bucket("dp-bucket")
    cluster.query(f'CREATE REPOSITORY dp_s3_repo WITH S3 ON LOCATION "s3://{bucket}/r" {s3.properties()}')
    ts = backup_and_wait(cluster, "dp_s3", "snap", "dp_s3_repo")
    cluster.query("DROP DATABASE dp_s3")
    cluster.query(f"RESTORE SNAPSHOT dp_s3.snap FROM dp_s3_repo PROPERTIES ('backup_timestamp' = '{ts}', "
                  "'replication_num' = '1', 'reserve_dynamic_partition_enable' = 'true')")
    assert wait_job(cluster, "RESTORE", "dp_s3", "snap")["State"] == "FINISHED"
    assert sorted(cluster.query("SELECT v FROM dp_s3.d")) == [(1,), (2,)]
    assert sorted(cluster.query("SELECT v FROM dp_s3.a")) == [(-3,), (-2,), (-1,), (0,)]
    assert '"dynamic_partition.enable" = "true"' in cluster.query("SHOW CREATE TABLE dp_s3.d")[0][1]
    # The restored AUTO PARTITION table keeps its retention, and the scheduler applies it to it.
    cluster.query("ALTER TABLE dp_s3.a SET ('partition.retention_count' = '1')")
    cluster.wait_for(lambda: sorted(cluster.query("SELECT v FROM dp_s3.a")) == [(-1,), (0,)], timeout=15)


def test_history_num_time_zone_and_reserved_periods(fast_scheduler: Cluster) -> None:
    cluster = fast_scheduler
    cluster.query("CREATE DATABASE dp_more")
    # history_partition_num limits the history create_history_partition makes, when nearer than start.
    cluster.query(DAY_TABLE.format(name="dp_more.n", extra=', "dynamic_partition.history_partition_num" = "1"'))
    assert sorted(partitions(cluster, "dp_more.n")) == [day_name(i) for i in range(-1, 4)]
    # time_zone: the hours are Tokyo's.
    tokyo = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo")).replace(tzinfo=None, minute=0, second=0,
                                                                      microsecond=0)
    cluster.query("CREATE TABLE dp_more.z (k DATETIME, v INT) PARTITION BY RANGE(k) () DISTRIBUTED BY HASH(v) "
                  "BUCKETS 1 PROPERTIES ('replication_num' = '1', 'dynamic_partition.time_unit' = 'HOUR', "
                  "'dynamic_partition.end' = '1', 'dynamic_partition.prefix' = 'h', "
                  "'dynamic_partition.time_zone' = 'Asia/Tokyo')")
    assert sorted(partitions(cluster, "dp_more.z")) == [f"h{tokyo + dt.timedelta(hours=i):%Y%m%d%H}" for i in (0, 1)]
    # reserved_history_periods: expired partitions inside a period stay.
    old = [days(-30), days(-20), days(-10)]
    items = ", ".join(f"PARTITION o{i} VALUES [('{d}'), ('{d + dt.timedelta(days=1)}'))" for i, d in enumerate(old))
    cluster.query(f"CREATE TABLE dp_more.r (k DATE, v INT) PARTITION BY RANGE(k) ({items}) DISTRIBUTED BY HASH(v) "
                  "BUCKETS 1 PROPERTIES ('replication_num' = '1', 'dynamic_partition.enable' = 'false', "
                  "'dynamic_partition.time_unit' = 'DAY', 'dynamic_partition.start' = '-3', "
                  "'dynamic_partition.end' = '1', 'dynamic_partition.prefix' = 'p', "
                  f"'dynamic_partition.reserved_history_periods' = '[{old[1]},{old[1]}],[{old[0]},{old[0]}]')")
    cluster.query("ALTER TABLE dp_more.r SET ('dynamic_partition.enable' = 'true')")
    cluster.wait_for(lambda: sorted(partitions(cluster, "dp_more.r")) == ["o0", "o1", day_name(0), day_name(1)],
                     timeout=15)
    shown = cluster.query_dicts("SHOW DYNAMIC PARTITION TABLES FROM dp_more")
    assert next(r for r in shown if r["TableName"] == "r")["ReservedHistoryPeriods"] == (
        f"[{old[0]},{old[0]}],[{old[1]},{old[1]}]")  # sorted, as Doris shows them


def test_a_table_under_restore_is_left_alone(cluster: Cluster, tmp_path: Path) -> None:
    old = days(-10)
    cluster.query("CREATE DATABASE dp_rs")
    cluster.query(f"CREATE TABLE dp_rs.t (k DATE, v INT) PARTITION BY RANGE(k) (PARTITION o VALUES [('{old}'), "
                  f"('{old + dt.timedelta(days=1)}'))) DISTRIBUTED BY HASH(v) BUCKETS 1 PROPERTIES ("
                  "'replication_num' = '1', 'dynamic_partition.enable' = 'false', 'dynamic_partition.time_unit' = "
                  "'DAY', 'dynamic_partition.start' = '-3', 'dynamic_partition.end' = '1', "
                  "'dynamic_partition.prefix' = 'p')")
    cluster.query(f"INSERT INTO dp_rs.t VALUES ('{old}', 1)")
    create_local_repo(cluster, "dp_rs_repo", tmp_path)
    ts = backup_and_wait(cluster, "dp_rs", "snap", "dp_rs_repo")
    cluster.query("ADMIN SET FRONTEND CONFIG ('dynamic_partition_enable' = 'false')")
    hold(cluster, "RESTORE.COMMIT")
    try:
        cluster.query("ALTER TABLE dp_rs.t SET ('dynamic_partition.enable' = 'true')")
        cluster.query(f"RESTORE SNAPSHOT dp_rs.snap FROM dp_rs_repo ON (t) PROPERTIES ('backup_timestamp' = "
                      f"'{ts}', 'replication_num' = '1')")
        wait_job(cluster, "RESTORE", "dp_rs", "snap", states=("COMMIT",))
        cluster.query("ADMIN SET FRONTEND CONFIG ('dynamic_partition_enable' = 'true')")
        set_interval(cluster, 1)
        time.sleep(2.5)  # rounds run, and leave the table alone: its restore swaps its partitions at commit
        assert list(partitions(cluster, "dp_rs.t")) == ["o"]
    finally:
        release(cluster)
        cluster.query("ADMIN SET FRONTEND CONFIG ('dynamic_partition_enable' = 'true')")
    try:
        assert wait_job(cluster, "RESTORE", "dp_rs", "snap")["State"] == "FINISHED"
        # Once the restore has ended the table is scheduled again: o expired, today and tomorrow come.
        cluster.wait_for(lambda: sorted(partitions(cluster, "dp_rs.t")) == [day_name(0), day_name(1)], timeout=15)
    finally:
        set_interval(cluster, 600)
