"""Issue 8: the FE's HTTP port. Stream Load with curl and requests (good and bad files, labels, privileges),
and the REST API with, without and with wrong credentials."""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import requests

from doris_br import duck
from tests.backup_helpers import backup_and_wait, make_sales_db
from tests.bodies import BENCH_COLUMNS, write_json_array
from tests.cluster import Cluster
from tests.s3server import SECRET_KEY, S3Server

ROOT = ("root", "")


def stream_load(cluster: Cluster, db: str, table: str, body: bytes, auth: tuple[str, str] = ROOT,
                **headers: str) -> dict:
    r = requests.put(f"{cluster.http}/api/{db}/{table}/_stream_load", data=body, auth=auth,
                     headers=headers, timeout=60)
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def version(cluster: Cluster, db: str, table: str) -> int:
    return int(cluster.query_dicts(f"SHOW PARTITIONS FROM {db}.{table}")[0]["VisibleVersion"])


def make_table(cluster: Cluster, db: str, table: str = "t") -> None:
    cluster.query(f"CREATE DATABASE IF NOT EXISTS {db}")
    cluster.query(f"CREATE TABLE {db}.{table} (k INT NOT NULL, name VARCHAR(5), amount DECIMAL(10, 2), d DATE) "
                  "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ('replication_num' = '2')")


def test_stream_load_csv_with_curl_and_label_reuse(cluster: Cluster, tmp_path: Path) -> None:
    make_table(cluster, "sl_curl")
    data = tmp_path / "data.csv"
    data.write_text("1,a,1.50,2024-01-01\n2,bb,2.25,2024-01-02\n3,\\N,\\N,\\N\n")

    def curl(label: str) -> dict:
        out = subprocess.run(["curl", "-sS", "--location-trusted", "-u", "root:", "-H", f"label:{label}", "-H",
                              "column_separator:,", "-T", str(data), f"{cluster.http}/api/sl_curl/t/_stream_load"],
                             capture_output=True, text=True, timeout=60, check=True)
        return json.loads(out.stdout)

    answer = curl("l1")
    assert answer["Status"] == "Success" and answer["Message"] == "OK", answer
    assert answer["Label"] == "l1" and answer["TxnId"] > 0
    assert (answer["NumberTotalRows"], answer["NumberLoadedRows"], answer["NumberFilteredRows"]) == (3, 3, 0)
    assert answer["LoadBytes"] == data.stat().st_size and answer["LoadTimeMs"] >= 0
    assert version(cluster, "sl_curl", "t") == 2  # one new version for the whole load
    assert cluster.query("SELECT k, name, CAST(amount AS VARCHAR(10)), CAST(d AS VARCHAR(10)) FROM sl_curl.t "
                         "ORDER BY k") == [(1, "a", "1.50", "2024-01-01"), (2, "bb", "2.25", "2024-01-02"),
                                           (3, None, None, None)]
    again = curl("l1")
    assert again["Status"] == "Label Already Exists", again
    assert f"Label [l1] has already been used, relate to txn [{answer['TxnId']}]" in again["Message"]
    assert version(cluster, "sl_curl", "t") == 2
    # The label is shared with INSERT ... WITH LABEL: one namespace per database.
    with cluster.connect(database="sl_curl") as conn, conn.cursor() as cur:
        try:
            cur.execute("INSERT INTO t WITH LABEL l1 VALUES (9, 'z', 1, '2024-01-01')")
            raise AssertionError("the label was accepted twice")
        except Exception as e:  # noqa: BLE001
            assert "has already been used" in str(e)


def test_stream_load_bad_rows_fail_or_are_filtered(cluster: Cluster) -> None:
    make_table(cluster, "sl_bad")
    bad = b"1,a,1.5,2024-01-01\nx,bb,2.25,2024-01-02\n3,toolongname,1,2024-01-01\n4,c\n5,e,5,2024-01-05\n"
    answer = stream_load(cluster, "sl_bad", "t", bad, label="b1", column_separator=",")
    assert answer["Status"] == "Fail", answer
    message = answer["Message"]
    assert message.startswith("[DATA_QUALITY_ERROR]too many filtered rows"), message
    assert "line 2: x,bb,2.25,2024-01-02" in message and "column k: 'x' is not a valid INT" in message
    assert version(cluster, "sl_bad", "t") == 1  # nothing loaded
    log = requests.get(answer["ErrorURL"], timeout=10).text.splitlines()
    assert len(log) == 3
    assert "toolongname" in log[1] and "longer than varchar(5)" in log[1]
    assert "line 4: 4,c" in log[2] and "wrong number of columns" in log[2]
    # A failed load does not use up its label; a ratio that allows 3 bad rows of 5 lets the 2 good ones in.
    answer = stream_load(cluster, "sl_bad", "t", bad, label="b1", column_separator=",", max_filter_ratio="0.6")
    assert answer["Status"] == "Success", answer["Message"]
    assert (answer["NumberTotalRows"], answer["NumberLoadedRows"], answer["NumberFilteredRows"]) == (5, 2, 3)
    assert cluster.query("SELECT k FROM sl_bad.t ORDER BY k") == [(1,), (5,)]
    assert version(cluster, "sl_bad", "t") == 2
    # A NULL in a NOT NULL column is a bad row too.
    answer = stream_load(cluster, "sl_bad", "t", b"\\N,a,1,2024-01-01\n", column_separator=",")
    assert answer["Status"] == "Fail" and "column k is NOT NULL but got NULL" in answer["Message"], answer


def test_stream_load_json_lines_and_columns(cluster: Cluster) -> None:
    make_table(cluster, "sl_json")
    body = b'{"k": 1, "name": "a", "amount": 1.5, "d": "2024-01-01"}\n{"k": 2, "name": "b"}\n'
    answer = stream_load(cluster, "sl_json", "t", body, format="json", label="j1")
    assert answer["Status"] == "Success" and answer["NumberLoadedRows"] == 2, answer
    # columns names the file's columns; the others get their defaults.
    answer = stream_load(cluster, "sl_json", "t", b"c\t3\n", columns="name,k")
    assert answer["Status"] == "Success", answer["Message"]
    answer = stream_load(cluster, "sl_json", "t", b'[{"k": 4, "name": "d"}]', format="json",
                         strip_outer_array="true")
    assert answer["Status"] == "Success", answer["Message"]
    assert cluster.query("SELECT k, name, CAST(amount AS VARCHAR(10)) FROM sl_json.t ORDER BY k") == [
        (1, "a", "1.50"), (2, "b", None), (3, "c", None), (4, "d", None)]
    bad = b'{"k": 5, "name": "e"}\n{"k": "five"}\nnot json\n'
    answer = stream_load(cluster, "sl_json", "t", bad, format="json")
    assert answer["Status"] == "Fail" and "line 2" in answer["Message"] and "'five'" in answer["Message"], answer
    answer = stream_load(cluster, "sl_json", "t", bad, format="json", max_filter_ratio="0.7")
    assert answer["Status"] == "Success" and answer["NumberFilteredRows"] == 2, answer
    assert version(cluster, "sl_json", "t") == 5


def test_stream_load_needs_credentials_and_load_privilege(cluster: Cluster) -> None:
    make_table(cluster, "sl_priv")
    cluster.query("CREATE USER IF NOT EXISTS 'sl_loader'@'%' IDENTIFIED BY 'pw'")
    cluster.query("GRANT SELECT_PRIV ON sl_priv.* TO sl_loader")
    url = f"{cluster.http}/api/sl_priv/t/_stream_load"
    assert requests.put(url, data=b"1\n", timeout=10).status_code == 401
    wrong = requests.put(url, data=b"1\n", auth=("sl_loader", "nope"), timeout=10)
    assert wrong.status_code == 401 and "Access denied for user 'sl_loader'" in wrong.json()["msg"]
    stranger = requests.put(url, data=b"1\n", auth=("nobody", "nope"), timeout=10)
    assert stranger.status_code == 401 and stranger.json()["msg"].startswith("Access denied for user 'nobody'")
    denied = stream_load(cluster, "sl_priv", "t", b"1\n", auth=("sl_loader", "pw"), columns="k")
    assert denied["Status"] == "Fail" and "LOAD command denied to user 'sl_loader'" in denied["Message"], denied
    cluster.query("GRANT LOAD_PRIV ON sl_priv.t TO sl_loader")
    ok = stream_load(cluster, "sl_priv", "t", b"1\n", auth=("sl_loader", "pw"), columns="k")
    assert ok["Status"] == "Success", ok
    missing = stream_load(cluster, "sl_priv", "nope", b"1\n")
    assert missing["Status"] == "Fail" and "Unknown table 'nope'" in missing["Message"]


# ---- REST API ---------------------------------------------------------------------------------------------


def test_rest_api_credentials(cluster: Cluster) -> None:
    cluster.query("CREATE USER IF NOT EXISTS 'rest_reader'@'%' IDENTIFIED BY 'pw'")
    cluster.query("CREATE DATABASE IF NOT EXISTS rest_seen")
    cluster.query("CREATE DATABASE IF NOT EXISTS rest_hidden")
    cluster.query("GRANT SELECT_PRIV ON rest_seen.* TO rest_reader")
    url = f"{cluster.http}/rest/v1/databases"
    none = requests.get(url, timeout=10)
    assert none.status_code == 401 and none.headers["WWW-Authenticate"].startswith("Basic")
    assert none.json()["status"] == "FAILED"
    wrong = requests.get(url, auth=("root", "wrong"), timeout=10)
    assert wrong.status_code == 401 and "using password: YES" in wrong.json()["msg"]
    ok = requests.get(url, auth=ROOT, timeout=10)
    assert ok.status_code == 200 and {"rest_seen", "rest_hidden"} <= set(ok.json()["data"])
    # A user sees what SHOW shows them, and admin endpoints answer 403.
    mine = requests.get(url, auth=("rest_reader", "pw"), timeout=10).json()["data"]
    assert "rest_seen" in mine and "rest_hidden" not in mine
    for path in ("backends", "frontends", "repositories", "meta_backups"):
        r = requests.get(f"{cluster.http}/rest/v1/{path}", auth=("rest_reader", "pw"), timeout=10)
        assert r.status_code == 403, (path, r.text)
    assert requests.get(f"{cluster.http}/rest/v1/databases/rest_hidden/tables", auth=("rest_reader", "pw"),
                        timeout=10).status_code == 404
    # Basic auth through the console's pages too; without it they send you to the log-in page.
    page = requests.get(f"{cluster.http}/databases", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert "rest_seen" in requests.get(f"{cluster.http}/databases", auth=("rest_reader", "pw"), timeout=10).text
    hidden = requests.get(f"{cluster.http}/databases/rest_hidden", auth=("rest_reader", "pw"), timeout=10)
    assert hidden.status_code == 404 and "Unknown database &#x27;rest_hidden&#x27;" in hidden.text


def test_rest_api_cluster_and_catalog(cluster: Cluster) -> None:
    make_table(cluster, "rest_cat")
    get = lambda path: requests.get(f"{cluster.http}/rest/v1/{path}", auth=ROOT, timeout=10).json()["data"]  # noqa: E731
    fe = get("frontends")
    assert len(fe) == 1 and fe[0]["HttpPort"] == str(cluster.http_port) and fe[0]["QueryPort"] == str(cluster.port)
    assert len(get("backends")) == 3 and all(b["Alive"] == "true" for b in get("backends"))
    assert get("databases/rest_cat/tables") == [{"name": "t", "type": "BASE TABLE"}]
    detail = get("databases/rest_cat/tables/t")
    assert [c["Field"] for c in detail["columns"]] == ["k", "name", "amount", "d"]
    assert detail["partitions"][0]["VisibleVersion"] == "1" and "CREATE TABLE `t`" in detail["create"]["Create Table"]
    assert isinstance(get("jobs"), list)  # the rows themselves: test_jobs_over_rest


def test_rest_api_repositories_hide_secrets(cluster: Cluster, s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.create_bucket("rest-bucket")
    cluster.query(f'CREATE REPOSITORY `rest_s3` WITH S3 ON LOCATION "s3://{bucket}/b" {s3.properties()}')
    cluster.query(f'CREATE REPOSITORY `rest_local` WITH LOCAL ON LOCATION "file://{tmp_path}/repo"')
    r = requests.get(f"{cluster.http}/rest/v1/repositories", auth=ROOT, timeout=10)
    assert SECRET_KEY not in r.text
    repos = {x["RepoName"]: x for x in r.json()["data"]}
    assert repos["rest_s3"]["Properties"]["s3.secret_key"] == "*XXX" and repos["rest_s3"]["Type"] == "S3"
    snaps = requests.get(f"{cluster.http}/rest/v1/repositories/rest_local/snapshots", auth=ROOT, timeout=10)
    assert snaps.json() == {"status": "OK", "data": []}
    console = requests.get(f"{cluster.http}/repositories", auth=ROOT, timeout=10).text
    assert "rest_s3" in console and SECRET_KEY not in console


def test_rest_api_metadata_backups(cluster: Cluster) -> None:
    make_table(cluster, "rest_meta")
    url = f"{cluster.http}/rest/v1/meta_backups"
    written = {}
    for scope in ({"scope": "system"}, {"scope": "database", "database": "rest_meta"},
                  {"scope": "table", "database": "rest_meta", "table": "t"}):
        r = requests.post(url, json=scope, auth=ROOT, timeout=60)
        assert r.status_code == 200, r.text
        written[scope["scope"]] = Path(r.json()["data"]["path"])
    assert written["system"].parent == (cluster.root / "meta_backups").resolve()
    assert written["database"].name.startswith("project_rest_meta_")
    assert written["table"].name.startswith("table_rest_meta.t_")
    manifest = json.loads((written["table"] / "manifest.json").read_text())
    assert manifest["scope"] == {"kind": "table", "database": "rest_meta", "table": "t"}
    assert manifest["counts"]["tables"] == 1 and (written["table"] / "tables" / "rest_meta.t.json").is_file()
    # Written exactly as `doris-br metastore backup` writes it: the command lists it and reads it alike.
    listing = subprocess.run([sys.executable, "-m", "doris_br", "metastore", "list", "--data-dir", str(cluster.root)],
                             capture_output=True, text=True, timeout=60)
    assert all(p.name in listing.stdout for p in written.values())
    rows = {b["name"]: b for b in requests.get(url, auth=ROOT, timeout=10).json()["data"]}
    assert rows[written["database"].name]["scope"] == "database rest_meta"
    assert rows[written["table"].name]["status"] == "OK"
    z = requests.get(f"{url}/{written['table'].name}/download", auth=ROOT, timeout=30)
    assert z.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert f"{written['table'].name}/manifest.json" in names and len(names) == len(manifest["files"]) + 1
    assert requests.get(f"{url}/..%2Fetc/download", auth=ROOT, timeout=10).status_code in (400, 404)
    bad = requests.post(url, json={"scope": "table", "database": "rest_meta", "table": "nope"}, auth=ROOT,
                        timeout=10)
    assert bad.status_code == 400 and "Unknown table 'nope'" in bad.json()["msg"]
    cluster.query("CREATE USER IF NOT EXISTS 'rest_meta_user'@'%' IDENTIFIED BY 'pw'")
    assert requests.post(url, json={"scope": "system"}, auth=("rest_meta_user", "pw"), timeout=10).status_code == 403


def test_jobs_over_rest(cluster: Cluster, tmp_path: Path) -> None:
    make_sales_db(cluster, "rest_jobs", rows=6)
    cluster.query(f'CREATE REPOSITORY rest_jobs_repo WITH LOCAL ON LOCATION "file://{tmp_path}"')
    backup_and_wait(cluster, "rest_jobs", "rj", "rest_jobs_repo", "ON (dup)")
    rows = requests.get(f"{cluster.http}/rest/v1/jobs", auth=ROOT, timeout=10).json()["data"]
    mine = [r for r in rows if r["database"] == "rest_jobs"]
    assert [(r["kind"], r["label"], r["state"], r["progress"]) for r in mine] == [("BACKUP", "rj", "FINISHED", 100.0)]
    assert mine[0]["detail"]["SnapshotName"] == "rj" and mine[0]["detail"]["Status"] == "[OK]"
    cluster.query("CREATE USER IF NOT EXISTS 'rest_jobs_user'@'%' IDENTIFIED BY 'pw'")
    theirs = requests.get(f"{cluster.http}/rest/v1/jobs", auth=("rest_jobs_user", "pw"), timeout=10).json()["data"]
    assert theirs == []  # no privilege on any database: no jobs


def test_stream_load_headers_partitions_and_empty_bodies(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE IF NOT EXISTS sl_more")
    cluster.query("CREATE TABLE sl_more.r (k INT, v VARCHAR(10)) DUPLICATE KEY(k) PARTITION BY RANGE(k) "
                  "(PARTITION p1 VALUES LESS THAN ('10'), PARTITION p2 VALUES LESS THAN ('20')) "
                  "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')")
    answer = stream_load(cluster, "sl_more", "r", b"k|v\n1|a\n15|b\n", format="csv_with_names", column_separator="|")
    assert answer["Status"] == "Success" and answer["NumberLoadedRows"] == 2, answer
    # A row outside the named partitions fails the load.
    answer = stream_load(cluster, "sl_more", "r", b"2\tc\n16\td\n", partitions="p1")
    assert answer["Status"] == "Fail" and "no partition for this tuple" in answer["Message"], answer
    answer = stream_load(cluster, "sl_more", "r", b"2\tc\n", partitions="p1")
    assert answer["Status"] == "Success", answer["Message"]
    assert {r["PartitionName"]: r["VisibleVersion"] for r in cluster.query_dicts("SHOW PARTITIONS FROM sl_more.r")} \
        == {"p1": "3", "p2": "2"}
    for body, ratio in ((b"", "0"), (b"x\ty\n", "1")):
        answer = stream_load(cluster, "sl_more", "r", body, max_filter_ratio=ratio)
        assert answer["Status"] == "Fail" and "all partitions have no load data" in answer["Message"], answer
    # Separators of several bytes, as Doris takes them; a bad row is shown with the body's own separator.
    answer = stream_load(cluster, "sl_more", "r", b"3||e\n4||f||x\n", column_separator="||")
    assert answer["Status"] == "Fail" and "line 2: 4||f||x" in answer["Message"], answer
    assert stream_load(cluster, "sl_more", "r", b"3||e\n", column_separator="||")["Status"] == "Success"
    assert stream_load(cluster, "sl_more", "r", b"4\x01\x02f\n", column_separator="\\x0102")["Status"] == "Success"
    answer = stream_load(cluster, "sl_more", "r", b"5||g\n", column_separator="||", enclose='"')
    assert answer["Status"] == "Fail" and "cannot be combined with enclose" in answer["Message"], answer
    assert cluster.query("SELECT k, v FROM sl_more.r ORDER BY k") == [(1, "a"), (2, "c"), (3, "e"), (4, "f"),
                                                                       (15, "b")]


def test_stream_load_clients_with_a_trailing_slash_or_no_host(cluster: Cluster) -> None:
    make_table(cluster, "sl_clients")
    # The doris-stream-load package puts to .../_stream_load/ (with a slash).
    r = requests.put(f"{cluster.http}/api/sl_clients/t/_stream_load/", data=b"1,a,1,2024-01-01\n", auth=ROOT,
                     headers={"column_separator": ","}, timeout=60)
    assert r.status_code == 200 and r.json()["Status"] == "Success", r.text
    # An HTTP/1.0 client sends no Host: the ErrorURL names the address and port it reached, and answers.
    body = b"2,b,2,2024-01-02\nx,c,3,2024-01-03\n"
    request = (b"PUT /api/sl_clients/t/_stream_load HTTP/1.0\r\nAuthorization: Basic "
               + base64.b64encode(b"root:") + b"\r\ncolumn_separator: ,\r\nmax_filter_ratio: 0.5\r\n"
               + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with socket.create_connection(("127.0.0.1", cluster.http_port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    result = json.loads(payload)
    assert result["Status"] == "Success" and result["NumberLoadedRows"] == 1, result
    assert result["ErrorURL"].startswith(f"{cluster.http}/api/_load_error_log?file="), result["ErrorURL"]
    assert "column k: 'x' is not a valid INT" in requests.get(result["ErrorURL"], timeout=10).text
    assert cluster.query("SELECT k FROM sl_clients.t ORDER BY k") == [(1,), (2,)]


def test_console_login_cookie_and_csrf_header(cluster: Cluster) -> None:
    s = requests.Session()
    bad = s.post(f"{cluster.http}/login", data={"username": "root", "password": "x"}, allow_redirects=False,
                 timeout=10)
    assert bad.status_code == 401 and "doris_br_session" not in s.cookies
    ok = s.post(f"{cluster.http}/login?next=/jobs", data={"username": "root", "password": ""},
                allow_redirects=False, timeout=10)
    assert ok.status_code == 302 and ok.headers["Location"] == "/jobs" and "doris_br_session" in s.cookies
    assert "Backup and restore jobs" in s.get(f"{cluster.http}/jobs", timeout=10).text
    assert s.get(f"{cluster.http}/rest/v1/jobs", timeout=10).json()["status"] == "OK"
    # A cookie alone does not make a state-changing call: the console's own header must come with it.
    refused = s.post(f"{cluster.http}/rest/v1/meta_backups", json={"scope": "system"}, timeout=10)
    assert refused.status_code == 403
    s.get(f"{cluster.http}/logout", timeout=10)
    assert s.get(f"{cluster.http}/rest/v1/jobs", timeout=10).status_code == 401


def console_login(cluster: Cluster, user: str, password: str) -> requests.Session:
    s = requests.Session()
    ok = s.post(f"{cluster.http}/login", data={"username": user, "password": password}, allow_redirects=False,
                timeout=10)
    assert ok.status_code == 302, ok.text
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    return s


def test_console_cookie_ends_with_its_password_and_user_and_redirects_stay_here(cluster: Cluster) -> None:
    """Issue 13: a console cookie survived SET PASSWORD and came back to life when a dropped user was created
    again; POST /login?next=%2F%09%2Fevil.example redirected to //evil.example (a browser drops the tab)."""
    jobs = f"{cluster.http}/rest/v1/jobs"
    cluster.query("CREATE USER 'cookie_u' IDENTIFIED BY 'pw1'")
    s = console_login(cluster, "cookie_u", "pw1")
    assert s.get(jobs, timeout=10).status_code == 200
    cluster.query("SET PASSWORD FOR 'cookie_u' = PASSWORD('pw2')")
    assert s.get(jobs, timeout=10).status_code == 401
    s = console_login(cluster, "cookie_u", "pw2")
    assert s.get(jobs, timeout=10).status_code == 200
    cluster.query("DROP USER 'cookie_u'")
    assert s.get(jobs, timeout=10).status_code == 401
    cluster.query("CREATE USER 'cookie_u' IDENTIFIED BY 'pw2'")  # the same name and password: another user
    assert s.get(jobs, timeout=10).status_code == 401
    assert console_login(cluster, "cookie_u", "pw2").get(jobs, timeout=10).status_code == 200
    cluster.query("DROP USER 'cookie_u'")
    for target, location in (("%2F%09%2Fevil.example", "/"), ("%2F%0A%2Fevil.example", "/"), ("//evil.example", "/"),
                             ("%2F%5Cevil.example", "/"), ("https%3A%2F%2Fevil.example", "/"), ("%20/jobs", "/"),
                             ("/%0D%0ASet-Cookie:x=1", "/"), ("%2Fjobs%3Fx%3D1", "/jobs?x=1"), ("/jobs", "/jobs")):
        r = requests.post(f"{cluster.http}/login?next={target}", data={"username": "root", "password": ""},
                          allow_redirects=False, timeout=10)
        assert (r.status_code, r.headers["Location"]) == (302, location), target


def test_stream_loads_racing_for_one_label(cluster: Cluster) -> None:
    make_table(cluster, "sl_race")
    body = b"".join(b"%d,n,1,2024-01-01\n" % i for i in range(20000))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: stream_load(cluster, "sl_race", "t", body, label="race",
                                                      column_separator=","), range(4)))
    assert sorted(a["Status"] for a in answers) == ["Label Already Exists"] * 3 + ["Success"], answers
    assert cluster.query("SELECT count(*) FROM sl_race.t") == [(20000,)]
    assert version(cluster, "sl_race", "t") == 2


def test_stream_load_in_blocks_keeps_line_numbers_and_atomicity(tmp_path: Path) -> None:
    """Bodies parsed and sent in many small blocks: line numbers, header skipping, filtering and the version are
    those of one read, and a load failing in a late block leaves no file on any BE."""
    cluster = Cluster(tmp_path / "cluster")
    cluster.conf.write_text(cluster.conf.read_text() + "stream_load_block_bytes = 100\n")
    cluster.start()
    try:
        make_table(cluster, "sl_blocks")
        rows = [b"%d,n%d,%d.5,2024-01-%02d" % (i, i % 7, i, i % 28 + 1) for i in range(1, 201)]
        rows[49] = b"x,a,1,2024-01-01"  # line 51 of the file (after its header)
        rows[149] = b"150,a"  # line 151
        body = b"k,name,amount,d\n" + b"\n".join(rows) + b"\n"
        answer = stream_load(cluster, "sl_blocks", "t", body, format="csv_with_names", column_separator=",")
        assert answer["Status"] == "Fail", answer
        assert "2 of 200 rows filtered" in answer["Message"] and "line 51: x,a,1,2024-01-01" in answer["Message"]
        log = requests.get(answer["ErrorURL"], timeout=10).text.splitlines()
        assert len(log) == 2 and "line 151: 150,a" in log[1] and "wrong number of columns" in log[1], log
        assert version(cluster, "sl_blocks", "t") == 1
        answer = stream_load(cluster, "sl_blocks", "t", body, format="csv_with_names", column_separator=",",
                             max_filter_ratio="0.05", label="blocks")
        assert answer["Status"] == "Success", answer["Message"]
        assert (answer["NumberTotalRows"], answer["NumberLoadedRows"], answer["LoadBytes"]) == (200, 198, len(body))
        assert cluster.query("SELECT count(*), sum(k) FROM sl_blocks.t") == [(198, sum(range(1, 201)) - 50 - 150)]
        assert version(cluster, "sl_blocks", "t") == 2
        # JSON lines go in blocks too, numbered by line across them (blank lines counted, as a text editor does).
        # A first block of blank lines counts too, and a line break inside a JSON string (U+2028) is no line end.
        lines = [b'{"k": %d, "name": "j"}' % i for i in range(1000, 1100)]
        lines[10] = b""
        lines[20] = '{"k": 1020, "name": "\u2028"}'.encode()
        lines[70] = b'{"k": "seventy"}'  # line 71 of the lines, 191 of the body
        body = b"\n" * 120 + b"\n".join(lines) + b"\n"
        answer = stream_load(cluster, "sl_blocks", "t", body, format="json", max_filter_ratio="0.05")
        assert answer["Status"] == "Success" and answer["NumberFilteredRows"] == 1, answer
        log = requests.get(answer["ErrorURL"], timeout=10).text
        assert "line 191: " in log and "seventy" in log, log
        assert cluster.query("SELECT count(*) FROM sl_blocks.t WHERE k >= 1000") == [(98,)]
        # A JSON array goes in blocks cut between its elements, numbered by element across them, pretty-printed
        # or not, with strings holding brackets, commas, quotes and backslashes.
        items = [{"k": i, "name": ["a,]", "b\\\"", "[{"][i % 3]} for i in range(2000, 2100)]
        items[70] = {"k": "seventy"}
        items[80] = [2080]  # an element that is not an object
        for indent in (None, 1):
            body = b" \n" + json.dumps(items, indent=indent).encode() + b"\n"
            answer = stream_load(cluster, "sl_blocks", "t", body, format="json", strip_outer_array="true",
                                 max_filter_ratio="0.05", label=f"array{indent}")
            assert answer["Status"] == "Success" and answer["NumberFilteredRows"] == 2, answer
            assert answer["LoadBytes"] == len(body)
            log = requests.get(answer["ErrorURL"], timeout=10).text.splitlines()
            assert "line 71: " in log[0] and "seventy" in log[0] and "line 81: [2080]" in log[1], log
        assert cluster.query("SELECT count(*), max(name) FROM sl_blocks.t WHERE k >= 2000") == [(196, "b\\\"")]
        # An array broken anywhere fails the whole load, late blocks included: nothing is loaded.
        good = json.dumps(items[:60])[1:-1]
        before = version(cluster, "sl_blocks", "t")
        for broken, reason in ((f"[{good}, {{\"k\": 1,}}]", "element 61"), (f"[{good},, {{}}]", "element 61 is empty"),
                               (f"[{good}] x", "follows its closing ']'"), (f"[{good}", "ends inside the array"),
                               (f"{{{good}}}", "not a JSON array")):
            answer = stream_load(cluster, "sl_blocks", "t", broken.encode(), format="json", strip_outer_array="true",
                                 max_filter_ratio="1")
            assert answer["Status"] == "Fail" and reason in answer["Message"], (broken[-20:], answer)
        assert version(cluster, "sl_blocks", "t") == before
        answer = stream_load(cluster, "sl_blocks", "t", b" [ ]\n", format="json", strip_outer_array="true")
        assert answer["Status"] == "Fail" and answer["Message"] == "all partitions have no load data", answer
        # A strict-mode failure in a late block gives up the streams already sent: nothing is kept.
        cluster.query("CREATE TABLE sl_blocks.r (k INT, v VARCHAR(10)) DUPLICATE KEY(k) PARTITION BY RANGE(k) "
                      "(PARTITION p1 VALUES LESS THAN ('150')) DISTRIBUTED BY HASH(k) BUCKETS 2 "
                      "PROPERTIES ('replication_num' = '3')")
        before = sorted(p.name for p in (tmp_path / "cluster").rglob("v*.parquet"))
        answer = stream_load(cluster, "sl_blocks", "r", b"".join(b"%d\tv\n" % i for i in range(200)))
        assert answer["Status"] == "Fail" and "no partition for this tuple" in answer["Message"], answer
        assert sorted(p.name for p in (tmp_path / "cluster").rglob("v*.parquet")) == before
        assert not list((tmp_path / "cluster").rglob("*.tmp"))
        cluster.wait_for(lambda: not list((tmp_path / "cluster").rglob("txn_*.parquet")))  # what it staged is gone
        assert version(cluster, "sl_blocks", "r") == 1
        # kill -9 of a BE while its streams are open: the load fails with a clear message, nothing is kept,
        # and once the BE is back the table loads again.
        rows_before = cluster.query("SELECT count(*) FROM sl_blocks.r")

        def body_killing_a_backend() -> Iterator[bytes]:
            yield b"".join(b"%d\tv\n" % i for i in range(100))
            time.sleep(1)  # the first blocks reach every replica
            cluster.kill_be(0)
            yield b"".join(b"%d\tv\n" % i for i in range(100, 140))

        r = requests.put(f"{cluster.http}/api/sl_blocks/r/_stream_load", data=body_killing_a_backend(), auth=ROOT,
                         timeout=120)
        assert r.json()["Status"] == "Fail", r.json()
        assert version(cluster, "sl_blocks", "r") == 1
        cluster.start_be(0)
        cluster.wait_for(lambda: all(row[9] == "true" for row in cluster.query("SHOW BACKENDS")), timeout=60)
        assert cluster.query("SELECT count(*) FROM sl_blocks.r") == rows_before
        answer = stream_load(cluster, "sl_blocks", "r", b"".join(b"%d\tv\n" % i for i in range(140)))
        assert answer["Status"] == "Success", answer["Message"]
        assert cluster.query("SELECT count(*), sum(k) FROM sl_blocks.r") == [(140, sum(range(140)))]
    finally:
        cluster.stop()


def test_stream_load_from_a_stalled_client_is_given_up(cluster: Cluster) -> None:
    """A client that stops sending is answered with [TIMEOUT] after stream_load_idle_timeout_second, and the
    next load of the table goes through."""
    make_table(cluster, "sl_stall")
    assert "timeout must be between" in stream_load(cluster, "sl_stall", "t", b"1\n", timeout="0")["Message"]
    cluster.query("ADMIN SET FRONTEND CONFIG ('stream_load_idle_timeout_second' = '1')")
    try:
        host, port = cluster.http.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(b"PUT /api/sl_stall/t/_stream_load HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Basic " + base64.b64encode(b"root:") + b"\r\n"
                      b"column_separator: ,\r\nContent-Length: 100000\r\n\r\n1,a,1.00,2024-01-01\n")
            started = time.monotonic()
            reply = b""
            while b"}" not in reply:
                part = s.recv(65536)
                if not part:
                    break
                reply += part
        assert time.monotonic() - started < 15
        answer = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert answer["Status"] == "Fail" and answer["Message"].startswith("[TIMEOUT]no data received for 1 s")
    finally:
        cluster.query("ADMIN SET FRONTEND CONFIG ('stream_load_idle_timeout_second' = '300')")
    assert stream_load(cluster, "sl_stall", "t", b"2,b,2.00,2024-01-02\n", column_separator=",")["Status"] == "Success"
    assert cluster.query("SELECT k FROM sl_stall.t") == [(2,)]


def test_a_slow_stream_load_holds_its_table_only_to_commit(cluster: Cluster) -> None:
    """Its rows are staged while the body arrives, so an INSERT into the table does not wait for it; a TRUNCATE
    meanwhile fails the load, with nothing loaded."""
    make_table(cluster, "sl_slow")
    url = f"{cluster.http}/api/sl_slow/t/_stream_load"

    def load_around(step: str) -> dict:
        gate = threading.Event()

        def body() -> Iterator[bytes]:
            yield b"1,a,1.00,2024-01-01\n"
            gate.wait(30)
            yield b"2,b,2.00,2024-01-02\n"

        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(requests.put, url, data=body(), auth=ROOT, headers={"column_separator": ","},
                                  timeout=60)
            time.sleep(1)  # the load has begun and waits for the rest of its body
            started = time.monotonic()
            cluster.query(step)
            waited = time.monotonic() - started
            gate.set()
            answer = pending.result().json()
        assert waited < 5, waited
        return answer

    answer = load_around("INSERT INTO sl_slow.t VALUES (3, 'c', 3.00, '2024-01-03')")
    assert answer["Status"] == "Success", answer
    assert sorted(cluster.query("SELECT k FROM sl_slow.t")) == [(1,), (2,), (3,)]
    answer = load_around("TRUNCATE TABLE sl_slow.t")
    assert answer["Status"] == "Fail", answer
    assert cluster.query("SELECT count(*) FROM sl_slow.t") == [(0,)]
    assert stream_load(cluster, "sl_slow", "t", b"4,d,4.00,2024-01-04\n", column_separator=",")["Status"] == "Success"


def test_stream_load_column_mappings(cluster: Cluster) -> None:
    """Doris's `columns: k, tmp, v = expr`: file columns that are not in the table feed expressions (Doris SQL),
    results are checked like any value, and an expression can only read its row."""
    make_table(cluster, "sl_map")
    columns = ("k, tmp_name, tmp_amount, raw_d, name = upper(tmp_name), amount = tmp_amount * 2, "
               "d = str_to_date(raw_d, '%Y%m%d')")
    body = b"1,x,5,20240101\n2,yy,7.5,20240102\n"
    answer = stream_load(cluster, "sl_map", "t", body, columns=columns, column_separator=",")
    assert answer["Status"] == "Success", answer["Message"]
    assert cluster.query("SELECT k, name, amount, d FROM sl_map.t ORDER BY k") == [
        (1, "X", Decimal("10.00"), date(2024, 1, 1)), (2, "YY", Decimal("15.00"), date(2024, 1, 2))]
    answer = stream_load(cluster, "sl_map", "t", b"3,abcdef,1,20240103\n", columns=columns, column_separator=",")
    assert answer["Status"] == "Fail" and "line 1:" in answer["Message"] and "name" in answer["Message"], answer
    answer = stream_load(cluster, "sl_map", "t", b'{"k": 4, "n": "ab"}\n', format="json",
                         columns="k, n, name = concat(n, '!')")
    assert answer["Status"] == "Success", answer["Message"]
    assert cluster.query("SELECT name FROM sl_map.t WHERE k = 4") == [("ab!",)]
    for bad, message in (("k, x, name = (SELECT 1)", "may only use the row's columns"),
                         ("k, x, nope = x", "Unknown column 'nope'"),
                         ("k, k = 1", "Duplicate column")):
        answer = stream_load(cluster, "sl_map", "t", b"5,a\n", columns=bad, column_separator=",")
        assert answer["Status"] == "Fail" and message in answer["Message"], answer
    assert cluster.query("SELECT count(*) FROM sl_map.t") == [(3,)]
    # And the DuckDB that runs them cannot read files, should an expression find a way to ask.
    cur = duck.cursor()
    with pytest.raises(duckdb.PermissionException):
        cur.sql("SELECT * FROM read_text('/etc/hostname')").fetchall()
    cur.close()


JSON_LIMIT = 100 << 20  # Doris's streaming_load_json_max_mb


def json_too_big(size: int) -> str:
    return (f"[INTERNAL_ERROR]The size of this batch exceed the max size [{JSON_LIMIT}]  of json type data  data "
            f"[ {size} ]. Split the file, or use 'read_json_by_line'")


def test_a_100_mb_json_array_loads_in_bounded_memory_and_a_bigger_one_is_refused(tmp_path: Path) -> None:
    """Issue 13: a 100 MB JSON array (strip_outer_array) took the FE to 1.5 GB, 200 MB to 8.9 GB. The array is
    parsed in blocks now: 100 MB loads with the FE's peak RSS under 1 GiB. Above streaming_load_json_max_mb
    (100, as Doris) it is refused with Doris's text: by its Content-Length before it is read, and a chunked one
    once that much has arrived; ADMIN SET FRONTEND CONFIG raises the limit."""
    cluster = Cluster(tmp_path / "cluster").start()
    try:
        cluster.query("CREATE DATABASE sl_big")
        cluster.query(f"CREATE TABLE sl_big.t ({BENCH_COLUMNS}) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 8 "
                      "PROPERTIES ('replication_num' = '3')")
        path = tmp_path / "array.json"
        rows = write_json_array(path, JSON_LIMIT)
        assert JSON_LIMIT - (1 << 20) < path.stat().st_size <= JSON_LIMIT
        url = f"{cluster.http}/api/sl_big/t/_stream_load"
        headers = {"format": "json", "strip_outer_array": "true"}
        with open(path, "rb") as body:
            answer = requests.put(url, data=body, auth=ROOT, headers={**headers, "label": "big"}, timeout=300).json()
        assert answer["Status"] == "Success", answer
        assert answer["NumberLoadedRows"] == rows and answer["LoadBytes"] == path.stat().st_size
        peak = cluster.fe_peak_rss()
        assert peak < 1 << 30, f"FE peak RSS {peak >> 20} MiB"
        assert cluster.query("SELECT count(*), sum(id), min(d), max(name) FROM sl_big.t") == [
            (rows, rows * (rows - 1) // 2, date(2024, 1, 1), "name_999")]
        # One byte over the limit (white space after the array): refused, and nothing loaded.
        with open(path, "ab") as f:
            f.write(b" " * (JSON_LIMIT - path.stat().st_size + 1))
        with open(path, "rb") as body:
            answer = requests.put(url, data=body, auth=ROOT, headers={**headers, "label": "over"}, timeout=300).json()
        assert (answer["Status"], answer["Message"]) == ("Fail", json_too_big(JSON_LIMIT + 1)), answer

        def chunked() -> Iterator[bytes]:
            with open(path, "rb") as f:
                yield from iter(lambda: f.read(1 << 20), b"")

        answer = requests.put(url, data=chunked(), auth=ROOT, headers={**headers, "label": "over"}, timeout=300).json()
        assert answer["Status"] == "Fail" and answer["Message"].startswith(json_too_big(0).split("data [")[0]), answer
        assert cluster.query("SELECT count(*) FROM sl_big.t") == [(rows,)]
        cluster.query('ADMIN SET FRONTEND CONFIG ("streaming_load_json_max_mb" = "101")')
        answer = requests.put(url, data=chunked(), auth=ROOT, headers={**headers, "label": "over"}, timeout=300).json()
        assert answer["Status"] == "Success", answer
        assert cluster.query("SELECT count(*) FROM sl_big.t") == [(2 * rows,)]
    finally:
        cluster.stop()
