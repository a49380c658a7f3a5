"""Issue 8: the web console in headless Chromium: log in, walk every page (a screenshot of each is kept in
test-artifacts/console/), press the backup button on a table's page and find the folder on disk, and
see job progress bars drawn to their width."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from doris_br.http.console import jobs_html
from tests.browser import Browser
from tests.cluster import Cluster

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "console"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser(ARTIFACTS / "chromium.log")
    yield b
    b.close()


def js(value: str) -> str:
    return json.dumps(value)


def login(browser: Browser, cluster: Cluster, user: str = "root", password: str = "") -> None:
    browser.goto(f"{cluster.http}/databases")
    assert browser.path() == "/login"
    browser.screenshot(ARTIFACTS / "00-login.png")
    browser.eval(f"document.getElementById('username').value = {js(user)}; "
                 f"document.getElementById('password').value = {js(password)}; "
                 "document.getElementById('login').click(); true")
    browser.wait("location.pathname === '/databases' && document.readyState === 'complete'")


def test_console_pages_and_table_backup_button(cluster: Cluster, browser: Browser, tmp_path: Path) -> None:
    cluster.query("CREATE DATABASE IF NOT EXISTS console_db")
    cluster.query("CREATE TABLE IF NOT EXISTS console_db.orders (id INT, amount DECIMAL(10, 2)) DUPLICATE KEY(id) "
                  "DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ('replication_num' = '1')")
    cluster.query("INSERT INTO console_db.orders VALUES (1, 9.5), (2, 3.25)")
    cluster.query(f'CREATE REPOSITORY console_repo WITH LOCAL ON LOCATION "file://{tmp_path}/repo"')

    # A wrong password stays on the log-in page with the error.
    browser.goto(f"{cluster.http}/login")
    browser.eval("document.getElementById('username').value = 'root'; "
                 "document.getElementById('password').value = 'wrong'; document.getElementById('login').click(); 1")
    browser.wait("document.querySelector('.error') !== null")
    assert "Access denied for user 'root'" in browser.eval("document.querySelector('.error').textContent")

    login(browser, cluster)
    assert "console_db" in browser.eval("document.body.innerText")
    # Every asset comes from the FE itself.
    assets = browser.eval("performance.getEntriesByType('resource').map(e => e.name)")
    assert assets and all(a.startswith(cluster.http + "/") for a in assets), assets
    browser.screenshot(ARTIFACTS / "02-databases.png")

    pages = [("/", "01-cluster.png", "Backends"), ("/databases/console_db", "03-database.png", "orders"),
             ("/repositories", "05-repositories.png", "console_repo"),
             ("/repositories/console_repo", "06-repository.png", "No snapshots"),
             ("/jobs", "07-jobs.png", "No backup or restore jobs."),
             ("/meta-backups", "08-meta-backups.png", "Metadata backups")]
    for path, shot, text in pages:
        browser.goto(cluster.http + path)
        assert text in browser.eval("document.body.innerText"), path
        browser.screenshot(ARTIFACTS / shot)
    browser.goto(cluster.http + "/")
    assert browser.eval("document.querySelectorAll('#backup-button[data-scope=system]').length") == 1
    browser.goto(cluster.http + "/databases/console_db")
    assert browser.eval("document.querySelector('#backup-button').dataset.scope") == "database"

    # The table's page: press its backup button and find the folder it names on disk.
    browser.goto(f"{cluster.http}/databases/console_db/orders")
    text = browser.eval("document.body.innerText")
    assert "Columns" in text and "amount" in text and "Partitions" in text
    browser.eval("document.getElementById('backup-button').click(); true")
    folder = Path(browser.wait("(document.querySelector('.backup-path') || {}).textContent"))
    browser.screenshot(ARTIFACTS / "04-table-backed-up.png")
    assert folder.is_dir() and folder.parent == (cluster.root / "meta_backups").resolve()
    assert folder.name.startswith("table_console_db.orders_")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["scope"] == {"kind": "table", "database": "console_db", "table": "orders"}
    assert (folder / "tables" / "console_db.orders.json").is_file()

    # The metadata backups page lists it with a download link.
    browser.goto(cluster.http + "/meta-backups")
    assert folder.name in browser.eval("document.body.innerText")
    href = browser.eval(f"document.querySelector('a[href*={js(folder.name)}]').getAttribute('href')")
    assert href == f"/rest/v1/meta_backups/{folder.name}/download"
    browser.screenshot(ARTIFACTS / "08-meta-backups.png")

    # Logging out ends the session.
    browser.goto(cluster.http + "/logout")
    browser.goto(cluster.http + "/jobs")
    assert browser.path() == "/login"


def test_job_progress_bars_render_to_their_width(browser: Browser) -> None:
    """The jobs table as the console draws it (no job kinds exist yet), with the console's own stylesheet."""
    css = (Path(__file__).resolve().parent.parent / "doris_br" / "http" / "static" / "console.css").read_text()
    rows = [{"id": i, "kind": "BACKUP", "database": "d", "label": f"snap{i}", "state": state, "progress": pct}
            for i, (state, pct) in enumerate([("PENDING", 0.0), ("UPLOADING", 42.0), ("FINISHED", 100.0)], 1)]
    page = ARTIFACTS / "09-job-progress.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f"<!DOCTYPE html><html><head><style>{css}</style></head><body><main>{jobs_html(rows)}"
                    "</main></body></html>")
    browser.goto(page.as_uri())
    widths = browser.eval("Array.from(document.querySelectorAll('.progress')).map(p => "
                          "p.querySelector('.bar').getBoundingClientRect().width / p.getBoundingClientRect().width)")
    assert [round(w, 2) for w in widths] == [0.0, 0.42, 1.0]
    assert browser.eval("Array.from(document.querySelectorAll('.progress .label')).map(l => l.textContent)") == [
        "0%", "42%", "100%"]
    browser.screenshot(ARTIFACTS / "09-job-progress.png")


def test_jobs_page_updates_progress_bars_live(cluster: Cluster, browser: Browser) -> None:
    """The jobs page polls /rest/v1/jobs every second and redraws its bars. No job kind exists yet, so the
    answer is stubbed in the page: a running job's bar goes from 42% to 100% without a reload."""
    browser.goto(f"{cluster.http}/login?next=/jobs")
    browser.eval("document.getElementById('username').value = 'root'; document.getElementById('login').click(); 1")
    browser.wait("location.pathname === '/jobs' && document.readyState === 'complete'")
    assert browser.eval("getComputedStyle(document.getElementById('jobs-empty')).display") != "none"
    browser.eval("""window.__job = {id: 7, kind: 'BACKUP', database: 'console_db', label: 'snap', state: 'UPLOADING',
                                     progress: 42};
                    window.fetch = () => Promise.resolve({json: () => Promise.resolve({status: 'OK',
                                                                                       data: [window.__job]})});
                    true""")
    ratio = ("(() => { const p = document.querySelector('#jobs-body .progress'); if (!p) return 0; "
             "return p.querySelector('.bar').getBoundingClientRect().width / p.getBoundingClientRect().width; })()")
    browser.wait(f"Math.abs({ratio} - 0.42) < 0.01")
    assert browser.eval("getComputedStyle(document.getElementById('jobs-empty')).display") == "none"
    browser.screenshot(ARTIFACTS / "10-jobs-live-42.png")
    browser.eval("window.__job = Object.assign({}, window.__job, {state: 'FINISHED', progress: 100}); true")
    browser.wait(f"Math.abs({ratio} - 1) < 0.01 && "
                 "document.querySelector('#jobs-body .progress .label').textContent === '100%'")
    assert "FINISHED" in browser.eval("document.getElementById('jobs-body').innerText")
    browser.screenshot(ARTIFACTS / "11-jobs-live-100.png")
