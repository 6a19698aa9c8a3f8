"""A throwaway PostgreSQL server for the store tests and ``benchmarks/store_speed.py``.

Uses Debian's server binaries (``/usr/lib/postgresql/*/bin/initdb`` and ``pg_ctl``, installed
by ``scripts/setup.sh --test``). PostgreSQL refuses to run as root, so under root the
server runs as the ``postgres`` system user (created by the Debian package) in a temporary
folder that user owns. Missing binaries raise ``PostgresUnavailable``, which the ``postgres_server``
fixture (tests/conftest.py) turns into a failed test (never a skip): a store that was never
tested against PostgreSQL must not look green.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from tests.harness import HarnessError

class PostgresUnavailable(HarnessError):
    """The server binaries, or the user to run them, are missing, or the server did not start."""


SETUP_HINT = "run scripts/setup.sh --test (it installs the Debian package postgresql), or apt-get install -y postgresql"


@dataclass
class PostgresServer:
    """A running server: connect as ``user`` (trust auth) on 127.0.0.1:``port``."""

    port: int
    user: str
    data_dir: str

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        auth = self.user if password is None else f"{self.user}:{password}"
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its name."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def find_binaries() -> tuple[str, str]:
    """Paths of initdb and pg_ctl of the newest installed server; ``PostgresUnavailable`` without them."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found.sort(key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise PostgresUnavailable(f"PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): {SETUP_HINT}")
    bindir = os.path.dirname(found[-1])
    return os.path.join(bindir, "initdb"), os.path.join(bindir, "pg_ctl")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (the server refuses root), else as ourselves."""
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(f"running as root but there is no 'postgres' system user to run the server: {SETUP_HINT}")
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """initdb into a temporary folder, start on a free port, yield, stop and delete."""
    initdb, pg_ctl = find_binaries()
    # Not under pytest's tmp_path: that lives in a 0700 folder of root's, which the postgres
    # user cannot enter.
    root = tempfile.mkdtemp(prefix="datamap-pg-")
    data, socket_dir, log = os.path.join(root, "data"), os.path.join(root, "sock"), os.path.join(root, "server.log")
    os.makedirs(socket_dir)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (root, socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(root, 0o700)
    user = "postgres"
    try:
        subprocess.run(
            _as_server_user([initdb, "-D", data, "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"]),
            check=True, capture_output=True, text=True,
        )
        port = _free_port()
        # fsync off: the tests kill clients, never the server, so server durability is not
        # what they check, and it keeps CREATE DATABASE per test fast.
        options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        subprocess.run(
            _as_server_user([pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]),
            check=True, capture_output=True, text=True,
        )
    except subprocess.CalledProcessError as error:
        tail = open(log).read()[-2000:] if os.path.exists(log) else ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"could not start PostgreSQL ({' '.join(error.cmd)}): {error.stderr}{tail}") from error
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield PostgresServer(port=port, user=user, data_dir=data)
    finally:
        subprocess.run(_as_server_user([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
