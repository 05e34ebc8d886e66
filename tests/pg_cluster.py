"""A throwaway PostgreSQL cluster for tests and benchmarks (Debian's postgresql-15 server binaries).

``initdb`` in a temporary folder, ``postgres`` on a free loopback port with fsync off, a superuser
role ``chataudit`` reached over TCP with trust authentication (loopback only). The server refuses
to run as root, and CI runs as root: then the cluster belongs to the unprivileged ``postgres``
system user (created by the Debian package) and its commands run through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN_DIRS = [Path(p) for p in os.environ.get("CHATAUDIT_PG_BIN", "").split(os.pathsep) if p] + sorted(
    Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
ROLE = "chataudit"


class Unavailable(Exception):
    """The server cannot run here (say why: the tests are skipped with this reason)."""


def server_bin() -> Path:
    for folder in BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise Unavailable("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin; `make test` installs postgresql-15)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    folder: Path
    port: int
    bin: Path
    user: str | None  # the system user the server runs as (None: this process's user)
    settings: tuple[tuple[str, str], ...] = ()  # more server settings (a benchmark's pg_stat_statements)

    @property
    def dsn(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.folder / "data"
        self._run(self.bin / "initdb", "-D", data, "-U", ROLE, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        self._run(self.bin / "pg_ctl", "-D", data, "-l", self.folder / "server.log", "-w", "-t", "60", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder}"
                  " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                  " -c shared_buffers=128MB" + "".join(f" -c {name}={value}" for name, value in self.settings),
                  "start")

    def create_database(self, name: str, template: str = "template1") -> str:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def stop(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", self.folder / "data", "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster(settings: dict[str, str] | None = None) -> Cluster:
    """A running throwaway cluster (with ``settings`` beside the ones above); :class:`Unavailable`
    when this machine cannot run one."""
    binaries = server_bin()
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no unprivileged 'postgres' system user to run the server") from None
        if shutil.which("runuser") is None:
            raise Unavailable("running as root and runuser is missing")
        user = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="chataudit-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o700)
    cluster = Cluster(folder, _free_port(), binaries, user, tuple((settings or {}).items()))
    try:
        cluster.start()
    except subprocess.CalledProcessError as error:
        log = (folder / "server.log").read_text(errors="replace")[-2000:] if (folder / "server.log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"the PostgreSQL server did not start: {error.stderr.strip()[-500:]} {log}") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", cluster.port)) == 0:
                return cluster
        time.sleep(0.1)
    cluster.stop()
    raise Unavailable("the PostgreSQL server did not accept connections within 30 s")
