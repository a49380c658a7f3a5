"""Issue 15 item 4: roles (CREATE / DROP ROLE, GRANT ... TO ROLE, GRANT 'r' TO user, SHOW ROLES, SHOW GRANTS),
privileges held only through a role on every path (MySQL port, REST API, console, Stream Load), roles across an
FE restart and in metadata backups."""

from __future__ import annotations

import json

import pymysql
import pytest
import requests

from tests.cluster import Cluster
from tests.test_http import console_login, make_table, stream_load
from tests.test_metastore import backup, metastore

ROLE_COLUMNS = ["Name", "Comment", "Users", "GlobalPrivs", "CatalogPrivs", "DatabasePrivs", "TablePrivs",
                "ResourcePrivs", "WorkloadGroupPrivs"]


def error(cluster: Cluster, sql: str, user: str = "root", password: str = "") -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        cluster.query(sql, user=user, password=password)
    code, message = e.value.args
    return code, message.removeprefix("errCode = 2, detailMessage = ")


def roles(cluster: Cluster) -> dict[str, dict]:
    return {row["Name"]: row for row in cluster.query_dicts("SHOW ROLES")}


def test_role_statements_show_roles_and_errors(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE IF NOT EXISTS role_db")
    cluster.query("CREATE ROLE role_reader COMMENT 'reads role_db'")
    cluster.query("CREATE ROLE IF NOT EXISTS role_reader")  # no error, nothing changes
    cluster.query("GRANT SELECT_PRIV, LOAD_PRIV ON role_db.* TO ROLE 'role_reader'")
    cluster.query("GRANT ALTER_PRIV ON internal.role_db.t TO ROLE role_reader")
    cluster.query("CREATE USER 'role_u'@'%' IDENTIFIED BY 'pw' DEFAULT ROLE 'role_reader'")

    with cluster.connect(cursorclass=pymysql.cursors.DictCursor) as conn, conn.cursor() as cur:
        cur.execute("SHOW ROLES")
        assert [d[0] for d in cur.description] == ROLE_COLUMNS
        shown = {row["Name"]: row for row in cur.fetchall()}
    assert shown["role_reader"] == {
        "Name": "role_reader", "Comment": "reads role_db", "Users": "'role_u'@'%'", "GlobalPrivs": None,
        "CatalogPrivs": None, "DatabasePrivs": "internal.role_db.*: Select_priv,Load_priv",
        "TablePrivs": "internal.role_db.t: Alter_priv", "ResourcePrivs": None, "WorkloadGroupPrivs": None}
    # The built-in roles, with their holders; Doris joins their global table and resource privileges.
    assert shown["operator"]["Users"] == "'root'@'%'" and shown["admin"]["Users"] == "'admin'@'%'"
    assert shown["operator"]["GlobalPrivs"] == "Node_priv,Admin_priv Node_priv,Admin_priv"
    grants = cluster.query_dicts("SHOW GRANTS FOR role_u")[0]
    assert grants["Roles"] == "role_reader"
    assert grants["DatabasePrivs"] == "internal.role_db: Select_priv,Load_priv"
    assert grants["TablePrivs"] == "internal.role_db.t: Alter_priv"
    assert cluster.query_dicts("SHOW GRANTS FOR root")[0]["Roles"] == "operator"
    assert cluster.query_dicts("SHOW GRANTS FOR root")[0]["GlobalPrivs"] == "Node_priv,Admin_priv"
    cluster.query("ALTER ROLE role_reader COMMENT 'still reads'")
    assert roles(cluster)["role_reader"]["Comment"] == "still reads"

    exists = "Role role: role_reader, db table privs: {}, resource privs: {}, workload group privs: {} already exists"
    assert error(cluster, "CREATE ROLE role_reader") == (1105, exists)
    assert error(cluster, "CREATE ROLE admin") == (1105, "Can not create role: admin")
    assert error(cluster, "CREATE ROLE 'bad name'") == (1105, "invalid role format: bad name")
    assert error(cluster, "DROP ROLE operator") == (1105, "Can not drop role: operator")
    assert error(cluster, "DROP ROLE Admin") == (1105, "Can not drop role: Admin")
    assert error(cluster, "DROP ROLE no_such_role") == (1105, "Role no_such_role does not exist")
    cluster.query("DROP ROLE IF EXISTS no_such_role")
    assert error(cluster, "GRANT SELECT_PRIV ON role_db.* TO ROLE 'no_such_role'") == (
        1105, "Role no_such_role does not exist")
    assert error(cluster, "GRANT SELECT_PRIV ON role_db.* TO ROLE 'admin'") == (1105, "Can not grant to role: admin")
    assert error(cluster, "GRANT 'no_such_role' TO role_u") == (1105, "role:no_such_role does not exist")
    assert error(cluster, "GRANT 'role_reader' TO nobody") == (1105, "user: 'nobody'@'%' does not exist")
    assert error(cluster, "REVOKE 'operator' FROM root") == (1105, "Can not revoke role: operator")
    assert error(cluster, "REVOKE 'admin' FROM admin") == (1105, "Unsupported operation")
    assert error(cluster, "CREATE USER role_v DEFAULT ROLE 'no_such_role'") == (
        1105, "Role: no_such_role does not exist")
    assert error(cluster, "CREATE ROLE")[0] == 1064
    # Role statements need GRANT_PRIV (or ADMIN_PRIV) on *.*: 1227 naming the operation.
    need = "Access denied; you need (at least one of) the ({}) privilege(s) for this operation"
    assert error(cluster, "SHOW ROLES", "role_u", "pw") == (1227, need.format("GRANT"))
    assert error(cluster, "CREATE ROLE r2", "role_u", "pw") == (1227, need.format("CREATE ROLE"))
    assert error(cluster, "DROP ROLE role_reader", "role_u", "pw") == (1227, need.format("DROP ROLE"))
    assert error(cluster, "GRANT 'role_reader' TO root", "role_u", "pw") == (1227, need.format("GRANT/REVOKE"))
    # Better than Doris: holding GRANT_PRIV is not enough to hand out the operator role and its NODE_PRIV.
    cluster.query("GRANT GRANT_PRIV ON *.* TO role_u")
    assert error(cluster, "GRANT 'operator' TO role_u", "role_u", "pw") == (1227, need.format("NODE"))
    cluster.query("GRANT 'admin' TO CURRENT_USER()", "role_u", "pw")
    assert cluster.query_dicts("SHOW GRANTS FOR role_u")[0]["Roles"] == "role_reader,admin"
    cluster.query("REVOKE 'admin' FROM role_u")
    cluster.query("REVOKE GRANT_PRIV ON *.* FROM role_u")
    # The mariadb client sees the same.
    out = cluster.mariadb("SHOW ROLES")
    assert out.returncode == 0 and "role_reader\tstill reads\t'role_u'@'%'" in out.stdout
    denied = cluster.mariadb("DROP ROLE operator")
    assert "ERROR 1105 (HY000) at line 1: errCode = 2, detailMessage = Can not drop role: operator" in denied.stderr

    cluster.query("DROP ROLE role_reader")
    assert "role_reader" not in roles(cluster)
    assert cluster.query_dicts("SHOW GRANTS FOR role_u")[0]["Roles"] == ""
    cluster.query("DROP USER role_u")


def test_privilege_through_role_on_the_mysql_port(cluster: Cluster) -> None:
    make_table(cluster, "role_sql")
    cluster.query("INSERT INTO role_sql.t VALUES (1, 'a', 1.5, '2024-01-01')")
    cluster.query("CREATE USER 'role_sql_u' IDENTIFIED BY 'pw'")
    cluster.query("CREATE ROLE role_sql_r")
    cluster.query("GRANT SELECT_PRIV ON role_sql.* TO ROLE 'role_sql_r'")
    denied = error(cluster, "SELECT k FROM role_sql.t", "role_sql_u", "pw")
    assert denied[0] == 1142 and "SELECT command denied to user 'role_sql_u'" in denied[1]

    cluster.query("GRANT 'role_sql_r' TO 'role_sql_u'@'%'")
    assert cluster.query("SELECT k FROM role_sql.t", "role_sql_u", "pw") == [(1,)]
    out = cluster.mariadb("SELECT k FROM role_sql.t", "role_sql_u", "pw")
    assert out.returncode == 0 and out.stdout.split() == ["k", "1"]
    cluster.query("REVOKE 'role_sql_r' FROM role_sql_u")
    assert error(cluster, "SELECT k FROM role_sql.t", "role_sql_u", "pw")[0] == 1142

    # Held again: a privilege revoked from the role, or the role dropped, is gone from its users at once.
    cluster.query("GRANT 'role_sql_r' TO role_sql_u")
    with cluster.connect("role_sql_u", "pw") as conn, conn.cursor() as cur:
        def denied_after(statement: str) -> None:
            """The open session loses SELECT at once when `statement` takes it from the role."""
            cur.execute("SELECT k FROM role_sql.t")
            cluster.query(statement)
            with pytest.raises(pymysql.err.MySQLError) as e:
                cur.execute("SELECT k FROM role_sql.t")
            assert e.value.args[0] == 1142

        denied_after("REVOKE SELECT_PRIV ON role_sql.* FROM ROLE 'role_sql_r'")
        cluster.query("GRANT SELECT_PRIV ON role_sql.* TO ROLE 'role_sql_r'")
        denied_after("DROP ROLE role_sql_r")
    # A role created again under the dropped one's name is not held by its old users.
    cluster.query("CREATE ROLE role_sql_r")
    cluster.query("GRANT SELECT_PRIV ON role_sql.* TO ROLE 'role_sql_r'")
    assert error(cluster, "SELECT k FROM role_sql.t", "role_sql_u", "pw")[0] == 1142
    cluster.query("DROP ROLE role_sql_r")


def test_privilege_through_role_over_rest(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE IF NOT EXISTS role_rest")
    cluster.query("CREATE USER 'role_rest_u' IDENTIFIED BY 'pw'")
    cluster.query("CREATE ROLE role_rest_r")
    cluster.query("GRANT SELECT_PRIV ON role_rest.* TO ROLE 'role_rest_r'")
    url = f"{cluster.http}/rest/v1/databases/role_rest/tables"
    assert requests.get(url, auth=("role_rest_u", "pw"), timeout=10).status_code == 404
    cluster.query("GRANT 'role_rest_r' TO role_rest_u")
    assert requests.get(url, auth=("role_rest_u", "pw"), timeout=10).status_code == 200
    cluster.query("REVOKE 'role_rest_r' FROM role_rest_u")
    assert requests.get(url, auth=("role_rest_u", "pw"), timeout=10).status_code == 404
    # Admin endpoints count a global privilege held through a role, here the built-in admin role.
    backends = f"{cluster.http}/rest/v1/backends"
    assert requests.get(backends, auth=("role_rest_u", "pw"), timeout=10).status_code == 403
    cluster.query("GRANT 'admin' TO role_rest_u")
    assert requests.get(backends, auth=("role_rest_u", "pw"), timeout=10).status_code == 200
    cluster.query("REVOKE 'admin' FROM role_rest_u")
    assert requests.get(backends, auth=("role_rest_u", "pw"), timeout=10).status_code == 403
    cluster.query("DROP ROLE role_rest_r")


def test_privilege_through_role_in_the_console(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE IF NOT EXISTS role_console")
    cluster.query("CREATE USER 'role_console_u' IDENTIFIED BY 'pw'")
    cluster.query("CREATE ROLE role_console_r")
    cluster.query("GRANT SELECT_PRIV ON role_console.* TO ROLE 'role_console_r'")
    cluster.query("GRANT 'role_console_r' TO role_console_u")
    s = console_login(cluster, "role_console_u", "pw")
    page = f"{cluster.http}/databases/role_console"
    assert s.get(page, timeout=10).status_code == 200
    assert 'href="/databases/role_console"' in s.get(f"{cluster.http}/databases", timeout=10).text
    cluster.query("DROP ROLE role_console_r")  # the same login, the role gone
    assert s.get(page, timeout=10).status_code == 404
    assert 'href="/databases/role_console"' not in s.get(f"{cluster.http}/databases", timeout=10).text


def test_privilege_through_role_for_stream_load(cluster: Cluster) -> None:
    make_table(cluster, "role_load")
    cluster.query("CREATE USER 'role_load_u' IDENTIFIED BY 'pw'")
    cluster.query("CREATE ROLE role_load_r")
    cluster.query("GRANT LOAD_PRIV ON role_load.t TO ROLE 'role_load_r'")
    auth = ("role_load_u", "pw")
    denied = stream_load(cluster, "role_load", "t", b"1\n", auth=auth, columns="k")
    assert denied["Status"] == "Fail" and "LOAD command denied to user 'role_load_u'" in denied["Message"]
    cluster.query("GRANT 'role_load_r' TO role_load_u")
    ok = stream_load(cluster, "role_load", "t", b"1\n2\n", auth=auth, columns="k")
    assert ok["Status"] == "Success" and ok["NumberLoadedRows"] == 2, ok
    cluster.query("REVOKE LOAD_PRIV ON role_load.t FROM ROLE 'role_load_r'")
    again = stream_load(cluster, "role_load", "t", b"3\n", auth=auth, columns="k")
    assert again["Status"] == "Fail" and "LOAD command denied" in again["Message"]
    assert cluster.query("SELECT count(*) FROM role_load.t") == [(2,)]
    cluster.query("DROP ROLE role_load_r")


def test_roles_survive_a_restart_and_go_into_metadata_backups(own_cluster: Cluster) -> None:
    c = own_cluster
    c.query("CREATE DATABASE shop")
    c.query("CREATE DATABASE other")
    c.query("CREATE ROLE shop_reader COMMENT 'reads the shop'")
    c.query("GRANT SELECT_PRIV ON shop.* TO ROLE 'shop_reader'")
    c.query("CREATE ROLE other_reader")
    c.query("GRANT SELECT_PRIV ON other.* TO ROLE 'other_reader'")
    c.query("CREATE USER 'clerk' IDENTIFIED BY 'pw' DEFAULT ROLE 'shop_reader'")
    c.query("CREATE USER 'bystander'")
    c.kill_fe()
    c.start_fe(auto_backends=False)
    assert roles(c)["shop_reader"]["Users"] == "'clerk'@'%'"
    assert roles(c)["shop_reader"]["DatabasePrivs"] == "internal.shop.*: Select_priv"
    with c.connect("clerk", "pw", database="shop"):
        pass  # USE shop: allowed through the role

    # A database backup holds the roles granted on it and the users holding them; a whole backup holds all.
    shop = backup(c, "--database", "shop")
    assert json.loads((shop / "roles" / "shop_reader.json").read_text())["grants"] == [
        {"db": "shop", "table": "*", "privileges": ["SELECT_PRIV"]}]
    assert sorted(p.name for p in (shop / "roles").iterdir()) == ["shop_reader.json"]
    assert sorted(p.name for p in (shop / "users").iterdir()) == ["clerk@%.json"]
    whole = backup(c)
    assert sorted(p.name for p in (whole / "roles").iterdir()) == ["other_reader.json", "shop_reader.json"]

    # Restoring the database's backup brings the dropped role back, held by its user again.
    c.query("DROP ROLE shop_reader")
    c.kill_fe()
    restored = metastore("restore", str(shop), "--data-dir", str(c.root))
    assert restored.returncode == 0, restored.stderr
    c.start_fe(auto_backends=False)
    assert roles(c)["shop_reader"]["Comment"] == "reads the shop"
    assert c.query_dicts("SHOW GRANTS FOR clerk")[0]["Roles"] == "shop_reader"
    assert "other_reader" in roles(c)  # a database restore leaves other roles alone
