from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.s3server import S3Server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "in_process: needs no doris-br process and no client program "
                                       "(tests/inprocess.py), so no package run.sh installs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_clients = any(item.get_closest_marker("in_process") is None for item in items)
    if needs_clients and shutil.which("mariadb") is None:
        raise pytest.UsageError("the mariadb client is missing: run the tests through ./run.sh test")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster shared by the tests that do not kill or restart processes."""
    c = Cluster(tmp_path_factory.mktemp("cluster")).start()
    yield c
    c.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of the test's own, for tests that kill or restart processes."""
    c = Cluster(tmp_path / "cluster").start()
    yield c
    c.stop()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port."""
    server = S3Server()
    yield server
    server.stop()
