"""Issue 16: Stream Load clients written for Doris, which follow the FE's 307 to a BE.

With fe.conf stream_load_redirect_to_be the FE answers a Stream Load with 307 and a Location on an alive BE's
webserver_port; the BE relays the request, body streamed, to the FE, which loads it. Without it the FE loads the
body itself, as before. Real FE and BE processes on free loopback ports (tests/cluster.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.cluster import Cluster

ROOT = ("root", "")


@pytest.fixture(scope="module")
def redirecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two BEs, and an FE that redirects Stream Loads to them."""
    c = Cluster(tmp_path_factory.mktemp("redirect"), backends=2)
    c.conf.write_text(c.conf.read_text() + "stream_load_redirect_to_be = true\n")
    c.start()
    c.wait_for(lambda: all(r["Alive"] == "true" and int(r["HttpPort"]) > 0
                           for r in c.query_dicts("SHOW BACKENDS")))
    yield c
    c.stop()


def make_table(cluster: Cluster, db: str) -> None:
    cluster.query(f"CREATE DATABASE IF NOT EXISTS {db}")
    cluster.query(f"CREATE TABLE {db}.t (k INT NOT NULL, v VARCHAR(20)) DUPLICATE KEY(k) "
                  "DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '1')")


def curl(url: str, data: Path, *headers: str, user: str = "root:") -> tuple[int, dict, str, int]:
    """curl as Doris's documentation runs it: the HTTP status, the JSON answer, the URL it ended at, and the
    number of redirects it followed."""
    args = ["curl", "-sS", "--location-trusted", "-u", user, "-T", str(data), "-w",
            "\n%{http_code} %{url_effective} %{num_redirects}"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=120, check=True)
    body, _, trailer = out.stdout.rpartition("\n")
    status, effective, redirects = trailer.split()
    return int(status), json.loads(body), effective, int(redirects)


def be_http_ports(cluster: Cluster) -> set[int]:
    return {int(r["HttpPort"]) for r in cluster.query_dicts("SHOW BACKENDS")}


def test_curl_location_trusted_loads_through_a_be(redirecting: Cluster, tmp_path: Path) -> None:
    make_table(redirecting, "slc_curl")
    data = tmp_path / "data.csv"
    data.write_text("1,a\n2,b\n3,c\n")
    status, answer, effective, redirects = curl(f"{redirecting.http}/api/slc_curl/t/_stream_load", data,
                                                "label:c1", "column_separator:,")
    assert status == 200 and answer["Status"] == "Success" and answer["Label"] == "c1", answer
    assert redirects == 1 and urlsplit(effective).port in be_http_ports(redirecting), effective
    assert urlsplit(effective).path == "/api/slc_curl/t/_stream_load"
    assert answer["NumberLoadedRows"] == 3 and answer["LoadBytes"] == data.stat().st_size
    assert redirecting.query("SELECT k, v FROM slc_curl.t ORDER BY k") == [(1, "a"), (2, "b"), (3, "c")]


def test_curl_streams_a_large_body_through_the_relay(redirecting: Cluster, tmp_path: Path) -> None:
    """Some MB, sent after the FE's 307 (curl's Expect: 100-continue): every row arrives, in one load."""
    make_table(redirecting, "slc_big")
    data = tmp_path / "big.csv"
    rows = 300_000
    data.write_text("".join(f"{i},value-{i}\n" for i in range(rows)))
    assert data.stat().st_size > 4 << 20
    status, answer, effective, redirects = curl(f"{redirecting.http}/api/slc_big/t/_stream_load", data,
                                                "column_separator:,")
    assert status == 200 and answer["Status"] == "Success", answer
    assert redirects == 1 and answer["NumberLoadedRows"] == rows and answer["LoadBytes"] == data.stat().st_size
    assert redirecting.query("SELECT COUNT(*), SUM(k), MAX(v) FROM slc_big.t") == [
        (rows, rows * (rows - 1) // 2, "value-99999")]


def test_requests_following_the_redirect_by_hand(redirecting: Cluster) -> None:
    """What the doris-stream-load package does: requests drops Authorization on a redirect to another port, so
    the client reads Location and sends the PUT again with its credentials."""
    make_table(redirecting, "slc_req")
    url = f"{redirecting.http}/api/slc_req/t/_stream_load?source=test"
    seen = set()
    for i in range(4):
        first = requests.put(url, data=f"{i}\tr{i}\n".encode(), auth=ROOT, headers={"label": f"r{i}"},
                             allow_redirects=False, timeout=60)
        assert first.status_code == 307, first.text
        location = urlsplit(first.headers["Location"])
        assert (location.scheme, location.hostname) == ("http", "127.0.0.1")
        assert location.path == "/api/slc_req/t/_stream_load" and location.query == "source=test"
        assert location.username is None  # no password in a URL
        seen.add(location.port)
        again = requests.put(first.headers["Location"], data=f"{i}\tr{i}\n".encode(), auth=ROOT,
                             headers={"label": f"r{i}"}, allow_redirects=False, timeout=60)
        assert again.status_code == 200 and again.json()["Status"] == "Success", again.text
        assert again.json()["Label"] == f"r{i}"
    assert seen == be_http_ports(redirecting)  # round robin: every BE has its turn
    assert redirecting.query("SELECT k, v FROM slc_req.t ORDER BY k") == [(i, f"r{i}") for i in range(4)]
    # Followed automatically, requests sends no credentials to the BE: the FE behind it refuses the load.
    followed = requests.put(url, data=b"9\tx\n", auth=ROOT, timeout=60)
    assert followed.history and followed.history[0].status_code == 307
    assert followed.status_code == 401 and followed.json()["status"] == "FAILED"
    assert redirecting.query("SELECT COUNT(*) FROM slc_req.t") == [(4,)]


def test_a_chunked_body_through_a_be(redirecting: Cluster) -> None:
    """The path with a trailing slash, as the doris-stream-load package sends it, and a body of unknown size."""
    make_table(redirecting, "slc_chunked")
    first = requests.put(f"{redirecting.http}/api/slc_chunked/t/_stream_load/", data=b"", auth=ROOT,
                         allow_redirects=False, timeout=60)
    assert first.status_code == 307 and first.headers["Location"].endswith("/api/slc_chunked/t/_stream_load/")
    parts = [f"{i}\tpart{i}\n".encode() for i in range(50)]
    r = requests.put(first.headers["Location"], data=iter(parts), auth=ROOT, timeout=60)
    assert r.status_code == 200 and r.json()["Status"] == "Success", r.text
    assert r.json()["NumberLoadedRows"] == 50 and r.json()["LoadBytes"] == sum(map(len, parts))
    assert redirecting.query("SELECT COUNT(*) FROM slc_chunked.t") == [(50,)]


def test_without_the_option_the_fe_loads_itself(cluster: Cluster) -> None:
    make_table(cluster, "slc_direct")
    r = requests.put(f"{cluster.http}/api/slc_direct/t/_stream_load", data=b"7\tdirect\n", auth=ROOT,
                     headers={"label": "d1"}, allow_redirects=False, timeout=60)
    assert r.status_code == 200 and "Location" not in r.headers, r.headers
    assert r.json()["Status"] == "Success" and r.json()["Label"] == "d1", r.text
    assert cluster.query("SELECT k, v FROM slc_direct.t") == [(7, "direct")]
    # ADMIN SET FRONTEND CONFIG turns the redirect on (and off again) without a restart.
    cluster.query('ADMIN SET FRONTEND CONFIG ("stream_load_redirect_to_be" = "true")')
    try:
        r = requests.put(f"{cluster.http}/api/slc_direct/t/_stream_load", data=b"8\tx\n", auth=ROOT,
                         allow_redirects=False, timeout=60)
        assert r.status_code == 307 and urlsplit(r.headers["Location"]).port in be_http_ports(cluster)
    finally:
        cluster.query('ADMIN SET FRONTEND CONFIG ("stream_load_redirect_to_be" = "false")')
    r = requests.put(f"{cluster.http}/api/slc_direct/t/_stream_load", data=b"9\tagain\n", auth=ROOT,
                     allow_redirects=False, timeout=60)
    assert r.status_code == 200 and r.json()["Status"] == "Success", r.text


def test_wrong_password_is_refused_by_the_fe_without_redirect(redirecting: Cluster, tmp_path: Path) -> None:
    make_table(redirecting, "slc_auth")
    url = f"{redirecting.http}/api/slc_auth/t/_stream_load"
    r = requests.put(url, data=b"1\ta\n", auth=("root", "wrong"), allow_redirects=False, timeout=60)
    assert r.status_code == 401 and "Location" not in r.headers
    assert r.json() == {"status": "FAILED", "msg": "Access denied for user 'root'@'127.0.0.1' (using password: YES)"}
    data = tmp_path / "d.csv"
    data.write_text("1,a\n")
    status, answer, _, redirects = curl(url, data, "column_separator:,", user="root:wrong")  # Expect: 100-continue
    assert (status, redirects) == (401, 0) and "Access denied for user 'root'" in answer["msg"]
    # No LOAD privilege: the FE's answer, no redirect either.
    redirecting.query("CREATE USER IF NOT EXISTS slc_reader IDENTIFIED BY 'pw'")
    redirecting.query("GRANT SELECT_PRIV ON slc_auth.* TO slc_reader")
    r = requests.put(url, data=b"1\ta\n", auth=("slc_reader", "pw"), allow_redirects=False, timeout=60)
    assert r.status_code == 200 and "Location" not in r.headers
    assert r.json()["Status"] == "Fail" and "LOAD command denied to user 'slc_reader'" in r.json()["Message"], r.text
    # A wrong password sent to a BE is refused by the FE behind it, in the FE's words.
    r = requests.put(f"{redirecting.be_http(1)}/api/slc_auth/t/_stream_load", data=b"1\ta\n",
                     auth=("root", "wrong"), timeout=60)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="doris-br"'
    assert r.json()["msg"] == "Access denied for user 'root'@'127.0.0.1' (using password: YES)"
    assert redirecting.query("SELECT COUNT(*) FROM slc_auth.t") == [(0,)]


def test_label_reused_through_a_be_is_the_fes_answer(redirecting: Cluster, tmp_path: Path) -> None:
    make_table(redirecting, "slc_label")
    data = tmp_path / "d.csv"
    data.write_text("1,a\n")
    url = f"{redirecting.http}/api/slc_label/t/_stream_load"
    _, first, _, _ = curl(url, data, "label:same", "column_separator:,")
    assert first["Status"] == "Success", first
    status, again, effective, redirects = curl(url, data, "label:same", "column_separator:,")
    assert status == 200 and redirects == 1 and urlsplit(effective).port in be_http_ports(redirecting)
    assert again == {"TxnId": -1, "Label": "same", "Comment": "", "TwoPhaseCommit": "false",
                     "Status": "Label Already Exists",
                     "Message": f"errCode = 2, detailMessage = Label [same] has already been used, relate to txn "
                                f"[{first['TxnId']}]", "ExistingJobStatus": "FINISHED"}
    # The label is the FE's: INSERT ... WITH LABEL meets it too.
    with redirecting.connect(database="slc_label") as conn, conn.cursor() as cur:
        with pytest.raises(Exception, match="has already been used"):
            cur.execute("INSERT INTO t WITH LABEL same VALUES (2, 'b')")
    assert redirecting.query("SELECT COUNT(*) FROM slc_label.t") == [(1,)]


def test_bad_rows_through_a_be_name_the_fes_error_log(redirecting: Cluster) -> None:
    make_table(redirecting, "slc_bad")
    r = requests.put(f"{redirecting.be_http(0)}/api/slc_bad/t/_stream_load", data=b"1\ta\nx\tb\n", auth=ROOT,
                     timeout=60)
    answer = r.json()
    assert answer["Status"] == "Fail" and "column k: 'x' is not a valid INT" in answer["Message"], answer
    assert urlsplit(answer["ErrorURL"]).port == redirecting.http_port  # the log is kept by the FE
    assert "line 2: x\tb" in requests.get(answer["ErrorURL"], timeout=10).text


def test_a_client_cannot_skip_the_redirect_by_guessing_the_relay_mark(redirecting: Cluster) -> None:
    make_table(redirecting, "slc_mark")
    r = requests.put(f"{redirecting.http}/api/slc_mark/t/_stream_load", data=b"1\ta\n", auth=ROOT,
                     headers={"X-Doris-BR-Relay": "guess"}, allow_redirects=False, timeout=60)
    assert r.status_code == 307
    # A BE replaces the mark a client sends with the FE's own: the load goes through.
    r = requests.put(f"{redirecting.be_http(0)}/api/slc_mark/t/_stream_load", data=b"1\ta\n", auth=ROOT,
                     headers={"X-Doris-BR-Relay": "guess"}, timeout=60)
    assert r.status_code == 200 and r.json()["Status"] == "Success", r.text


def test_the_relay_refuses_hostile_requests(redirecting: Cluster) -> None:
    make_table(redirecting, "slc_hostile")
    be = f"{redirecting.be_http(1)}/api/slc_hostile/t/_stream_load"
    many = {f"x-h{i}": "v" for i in range(110)}  # more than the relay sends on (aiohttp refuses above 128)
    r = requests.put(be, data=b"1\ta\n", auth=ROOT, headers=many, timeout=60)
    assert r.status_code == 431 and r.json()["Message"] == "too many headers: more than 100", r.text
    r = requests.put(be, data=b"1\ta\n", auth=ROOT, headers={"x-long": "v" * 20000}, timeout=60)
    assert r.status_code == 400 and "Traceback" not in r.text  # aiohttp's own bound on a header's size
    # A Content-Length above the FE's body limit is refused before any of the body is read.
    with socket.create_connection(("127.0.0.1", redirecting.be_http_ports[1]), timeout=10) as s:
        s.sendall(b"PUT /api/slc_hostile/t/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cm9vdDo=\r\n"
                  b"Content-Length: 99999999999999\r\n\r\n1\ta\n")
        head = s.recv(65536).decode(errors="replace")
    assert head.startswith("HTTP/1.1 413"), head
    assert "Traceback" not in head
    # Other methods and paths are not served.
    assert requests.get(be, auth=ROOT, timeout=10).status_code == 405
    assert requests.put(f"{redirecting.be_http(1)}/api/x", data=b"", auth=ROOT, timeout=10).status_code == 404
    assert redirecting.query("SELECT COUNT(*) FROM slc_hostile.t") == [(0,)]


def test_a_client_gone_mid_body_loads_nothing(redirecting: Cluster) -> None:
    """The relay's upload to the FE breaks with the client's: the FE gives the load up, and its label stays free."""
    make_table(redirecting, "slc_cut")
    with socket.create_connection(("127.0.0.1", redirecting.be_http_ports[0]), timeout=10) as s:
        s.sendall(b"PUT /api/slc_cut/t/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cm9vdDo=\r\n"
                  b"label: cut\r\nContent-Length: 100000\r\n\r\n" + b"1\ta\n" * 100)
        time.sleep(0.5)  # the first bytes reach the FE
    time.sleep(1.0)  # the FE notices the broken upload
    r = requests.put(f"{redirecting.be_http(0)}/api/slc_cut/t/_stream_load", data=b"2\tb\n", auth=ROOT,
                     headers={"label": "cut"}, timeout=60)
    assert r.json()["Status"] == "Success", r.text
    assert redirecting.query("SELECT k, v FROM slc_cut.t") == [(2, "b")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webserver_port_from_be_conf(tmp_path: Path) -> None:
    port = _free_port()
    c = Cluster(tmp_path / "fixed", backends=1, be_conf=f"webserver_port = {port}\n")
    c.conf.write_text(c.conf.read_text() + "stream_load_redirect_to_be = true\n")
    c.start()
    try:
        c.wait_for(lambda: c.query_dicts("SHOW BACKENDS")[0]["HttpPort"] == str(port))
        make_table(c, "slc_fixed")
        first = requests.put(f"{c.http}/api/slc_fixed/t/_stream_load", data=b"5\tfive\n", auth=ROOT,
                             allow_redirects=False, timeout=60)
        assert first.headers["Location"] == f"http://127.0.0.1:{port}/api/slc_fixed/t/_stream_load"
        r = requests.put(first.headers["Location"], data=b"5\tfive\n", auth=ROOT, timeout=60)
        assert r.json()["Status"] == "Success", r.text
        assert c.query("SELECT k, v FROM slc_fixed.t") == [(5, "five")]
        # Without its FE the BE answers in the Stream Load answer's shape, with no Python text.
        c.kill_fe()
        r = requests.put(f"http://127.0.0.1:{port}/api/slc_fixed/t/_stream_load", data=b"6\tsix\n", auth=ROOT,
                         headers={"label": "orphan"}, timeout=60)
        assert r.status_code == 502, r.text
        assert r.json()["Status"] == "Fail" and r.json()["Label"] == "orphan"
        assert r.json()["Message"].startswith("the FE at 127.0.0.1:") and "Error" not in r.text
    finally:
        c.stop()
