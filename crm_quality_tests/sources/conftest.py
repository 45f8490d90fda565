"""A real PostgreSQL server for the database source: Debian's binaries (installed by `make test`),
a fresh cluster in a temporary directory, listening on 127.0.0.1 on a free port, password login."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

PASSWORD = "pg-Secret-7731"


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str = "crm"

    def url(self, database: str = "crm", password: str = PASSWORD, port: int | None = None) -> str:
        return f"postgresql+psycopg://{self.user}:{password}@127.0.0.1:{port or self.port}/{database}"

    def connect(self, database: str = "crm"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=PASSWORD,
                               dbname=database, autocommit=True)


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.fail("PostgreSQL is not installed: `make test` installs Debian's postgresql package")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """PostgreSQL refuses to run as root, so as root the server runs as the postgres user."""
    bin_dir = _binaries()
    base = Path(tempfile.mkdtemp(prefix="crm-quality-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    (base / "pw").write_text(PASSWORD)
    if as_user:
        shutil.chown(base / "pw", "postgres", "postgres")
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, text=True, timeout=120)

    run(str(bin_dir / "initdb"), "-D", str(base / "data"), "-U", "crm", f"--pwfile={base / 'pw'}",
        "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
    run(str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-o",
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} -c fsync=off", "start")
    server = Postgres(port)
    try:
        with server.connect("postgres") as db:
            db.execute("CREATE DATABASE crm")
        yield server
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
