"""The postgres-16 offering's scripts, run for real against a PostgreSQL server on loopback.

The scripts are read from offerings/postgres-16.yaml (the same text the service's Secret carries),
and run with Debian's server binaries (/usr/lib/postgresql/<major>/bin), 15 or 16. The server
is set up like the image's: the unix socket is trusted, TCP needs a scram-sha-256 password.
As root, the server and scripts run as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from managed_services.catalog import load_catalog

pytestmark = pytest.mark.timeout(180)

OFFERING = load_catalog(Path(__file__).resolve().parents[2] / "offerings").get("postgres-16")
USER = "app"


def _script(name: str) -> str:
    return next(f.content for f in OFFERING.files if f.name == name)


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
            "install them with `apt-get install postgresql` (CI does)",
            pytrace=False,
        )
    return found[-1].parent


def _identity() -> dict[str, Any]:
    """subprocess arguments that drop root to the postgres user (initdb and pg_ctl refuse root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root but there is no `postgres` user: `apt-get install postgresql` creates it")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Cluster:
    bin: Path
    work: Path
    identity: dict[str, Any]

    def mkdir(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(mode=0o700)
        if self.identity:
            os.chown(path, self.identity["user"], self.identity["group"])
        return path

    def run(
        self, argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        base = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(self.work),
            "PGPASSFILE": "/nonexistent",
            "LC_ALL": "C",
        }
        return subprocess.run(
            argv,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            **self.identity,
        )

    def check(self, argv: list[str], env: Mapping[str, str] | None = None) -> str:
        result = self.run(argv, env)
        assert result.returncode == 0, f"{argv[0]} failed: {result.stdout}{result.stderr}"
        return result.stdout

    def script(self, name: str, env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        path = self.work / name
        if not path.exists():
            path.write_text(_script(name))
            path.chmod(0o555)
        return self.run(["sh", str(path)], env, timeout)


@dataclass
class Server:
    cluster: Cluster
    data: Path
    sock: Path
    port: int

    def start(self, *options: str) -> None:
        opts = f"-c port={self.port} -c unix_socket_directories={self.sock} " + " ".join(options)
        log = self.data.parent / f"{self.data.name}.log"
        self.cluster.check(["pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(log), "-o", opts])

    def log(self) -> str:
        return (self.data.parent / f"{self.data.name}.log").read_text(errors="replace")

    def stop(self) -> None:
        self.cluster.run(["pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data)])

    def sql(self, query: str) -> str:
        """Run SQL as the superuser over the trusted socket (test set-up, not the code under test)."""
        argv = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.sock), "-p", str(self.port)]
        return self.cluster.check([*argv, "-U", USER, "-d", "postgres", "-c", query]).strip()

    def env(self, **extra: str) -> dict[str, str]:
        """What the container env gives the scripts, pointed at this server."""
        return {"POSTGRES_USER": USER, "MS_PG_SOCKET_DIR": str(self.sock), "PGPORT": str(self.port), **extra}


def tcp_login(server: Server, user: str, password: str, replication: bool = False) -> subprocess.CompletedProcess[str]:
    """Log in over TCP 127.0.0.1, where pg_hba asks for a scram-sha-256 password."""
    dsn = f"host=127.0.0.1 port={server.port} user={user} dbname=postgres connect_timeout=5"
    query = "IDENTIFY_SYSTEM" if replication else "SELECT current_user"
    if replication:
        dsn += " replication=true"
    return server.cluster.run(["psql", "-X", "-A", "-t", dsn, "-c", query], {"PGPASSWORD": password})


def can_login(server: Server, user: str, password: str, replication: bool = False) -> bool:
    result = tcp_login(server, user, password, replication)
    if result.returncode == 0:
        return True
    assert "password authentication failed" in result.stderr, result.stderr
    return False


def wait_until(predicate: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bin_dir = _bin_dir()
    identity = _identity()
    work = Path(tempfile.mkdtemp(prefix="ms-pg-rotation-"))
    work.chmod(0o755)
    if identity:
        os.chown(work, identity["user"], identity["group"])
    try:
        yield Cluster(bin_dir, work, identity)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def primary(cluster: Cluster) -> Iterator[Server]:
    volume = cluster.mkdir("primary")
    server = Server(cluster, volume / "pgdata", cluster.mkdir("primary-sock"), _free_port())
    pwfile = volume / "initial-password"
    pwfile.write_text("initial-password\n")
    if cluster.identity:
        os.chown(pwfile, cluster.identity["user"], cluster.identity["group"])
    cluster.check(["initdb", "-D", str(server.data), "-U", USER, f"--pwfile={pwfile}", "-A", "trust"])
    # Like the image: the socket is trusted, every TCP connection needs a password (the image
    # appends `host all all all scram-sha-256`; its loopback trust lines are left out on purpose).
    (server.data / "pg_hba.conf").write_text(
        "local all all trust\nlocal replication all trust\nhost all all all scram-sha-256\n"
    )
    # log_statement=all: the scripts must turn statement logging off for their own session.
    server.start("-c listen_addresses=127.0.0.1", "-c log_statement=all")
    # The offering's initdb script, as the image's entrypoint runs it (psql on the socket).
    result = cluster.script(
        "20-replication.sh",
        {
            "POSTGRES_USER": USER,
            "PGDATA": str(server.data),
            "PGHOST": str(server.sock),
            "PGPORT": str(server.port),
            "REPLICATION_PASSWORD": "replication-1",
        },
    )
    assert result.returncode == 0, result.stderr
    cluster.check(["pg_ctl", "reload", "-D", str(server.data)])
    wait_until(
        lambda: tcp_login(server, "replicator", "replication-1", replication=True).returncode == 0,
        "pg_hba reload",
    )
    try:
        yield server
    finally:
        server.stop()


def test_postgres_server_binaries_are_installed() -> None:
    # Fails (rather than skips) without them, so CI cannot silently stop testing the scripts.
    assert (_bin_dir() / "pg_ctl").exists()


def test_rotation_applies_the_new_password_and_retires_the_old(primary: Server) -> None:
    primary.sql("ALTER ROLE app PASSWORD 'password-A'")
    primary.sql("ALTER ROLE replicator PASSWORD 'replication-A'")
    assert can_login(primary, USER, "password-A")

    result = primary.cluster.script(
        "rotate-passwords.sh",
        primary.env(POSTGRES_PASSWORD="password-B", REPLICATION_PASSWORD="replication-B"),
    )
    assert result.returncode == 0, result.stderr
    assert "passwords applied" in result.stderr
    output = result.stdout + result.stderr
    assert "password-B" not in output and "replication-B" not in output
    assert "password-B" not in primary.log() and "replication-B" not in primary.log()
    assert "ALTER ROLE app PASSWORD 'password-A'" in primary.log()  # the test's own set-up is logged

    assert can_login(primary, USER, "password-B")
    assert not can_login(primary, USER, "password-A")
    assert can_login(primary, "replicator", "replication-B", replication=True)
    assert not can_login(primary, "replicator", "replication-A", replication=True)
    # Stored as SCRAM, matching the scram-sha-256 pg_hba lines.
    assert primary.sql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app'") == "t"

    # Idempotent: running again (every container start does) changes nothing visible.
    again = primary.cluster.script(
        "rotate-passwords.sh",
        primary.env(POSTGRES_PASSWORD="password-B", REPLICATION_PASSWORD="replication-B"),
    )
    assert again.returncode == 0, again.stderr
    assert can_login(primary, USER, "password-B")
    assert can_login(primary, "replicator", "replication-B", replication=True)


def test_without_a_replication_password_only_the_user_changes(primary: Server) -> None:
    primary.sql("ALTER ROLE replicator PASSWORD 'replication-keep'")
    for replication in ("", None):
        env = primary.env(POSTGRES_PASSWORD="password-C")
        if replication is not None:
            env["REPLICATION_PASSWORD"] = replication  # empty: must not clear the replicator's password
        result = primary.cluster.script("rotate-passwords.sh", env)
        assert result.returncode == 0, result.stderr
    assert can_login(primary, USER, "password-C")
    assert can_login(primary, "replicator", "replication-keep", replication=True)


@pytest.mark.parametrize(
    "password",
    [
        "it's-a-trap'; DROP ROLE replicator; --",
        ":'pw' \\! touch /tmp/ms-rotation-pwned",
        '$(touch /tmp/ms-rotation-pwned)"`id`\\',
        "  spaces and ünïcödé  ",
    ],
)
def test_no_password_can_break_out_of_the_literal(primary: Server, password: str) -> None:
    marker = Path("/tmp/ms-rotation-pwned")
    marker.unlink(missing_ok=True)
    result = primary.cluster.script("rotate-passwords.sh", primary.env(POSTGRES_PASSWORD=password))
    assert result.returncode == 0, result.stderr
    assert can_login(primary, USER, password)
    assert primary.sql("SELECT count(*) FROM pg_roles WHERE rolname IN ('app', 'replicator')") == "2"
    assert not marker.exists()
    assert password not in result.stdout + result.stderr


def test_a_persistent_failure_exits_1_without_printing_the_password(primary: Server) -> None:
    env = primary.env(POSTGRES_USER="nosuchrole", POSTGRES_PASSWORD="secret-D", MS_ROTATE_MAX_FAILURES="2")
    result = primary.cluster.script("rotate-passwords.sh", env)
    assert result.returncode == 1
    assert 'role "nosuchrole" does not exist' in result.stderr
    assert "secret-D" not in result.stdout + result.stderr


def test_the_wait_for_a_server_is_bounded(cluster: Cluster) -> None:
    sock = cluster.mkdir("no-server-sock")
    env = {
        "POSTGRES_USER": USER,
        "POSTGRES_PASSWORD": "password-E",
        "MS_PG_SOCKET_DIR": str(sock),
        "PGPORT": str(_free_port()),
        "MS_ROTATE_WAIT_SECONDS": "2",
    }
    started = time.monotonic()
    result = cluster.script("rotate-passwords.sh", env, timeout=30)
    assert time.monotonic() - started < 15
    # No server is not the hook's failure to report (the kubelet would kill the container).
    assert result.returncode == 0
    assert "no server accepted connections" in result.stderr and "passwords not applied" in result.stderr


def test_replicas_clone_stream_skip_rotation_and_follow_a_new_replication_password(
    cluster: Cluster, primary: Server
) -> None:
    primary.sql("ALTER ROLE replicator PASSWORD 'replication-F'")
    volume = cluster.mkdir("replica-1")
    replica = Server(cluster, volume / "pgdata", cluster.mkdir("replica-1-sock"), _free_port())
    clone_env = {
        "MS_POD_NAME": "svc-abcde-1",
        "MS_PRIMARY_HOST": "127.0.0.1",
        "PGPORT": str(primary.port),
        "PGDATA": str(replica.data),
        "REPLICATION_PASSWORD": "replication-F",
    }
    # Instance 0 is the primary: the init container does nothing there.
    skipped = cluster.script("clone-replica.sh", {**clone_env, "MS_POD_NAME": "svc-abcde-0"})
    assert skipped.returncode == 0 and not replica.data.exists()

    result = cluster.script("clone-replica.sh", clone_env)
    assert result.returncode == 0, result.stderr
    assert (replica.data / "PG_VERSION").exists() and (replica.data / "standby.signal").exists()
    assert not (volume / "pgdata.partial").exists()
    auto_conf = (replica.data / "postgresql.auto.conf").read_text()
    assert "passfile=" in auto_conf and "replication-F" not in auto_conf and "password=" not in auto_conf
    assert ((volume / "replication.pgpass").stat().st_mode & 0o777) == 0o600

    replica.start("-c listen_addresses=''")
    try:
        streaming = "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'"
        wait_until(lambda: replica.sql(streaming) == "1", "the replica to stream")
        assert replica.sql("SELECT pg_is_in_recovery()") == "t"

        # The rotation hook leaves a standby alone (roles replicate from the primary).
        standby = cluster.script("rotate-passwords.sh", replica.env(POSTGRES_PASSWORD="password-F"))
        assert standby.returncode == 0, standby.stderr
        assert "standby" in standby.stderr

        # Rotate the replication password: the primary's hook applies it, the replica's init
        # container rewrites the passfile on its restart, and streaming resumes without re-cloning.
        rotated = cluster.script(
            "rotate-passwords.sh",
            primary.env(POSTGRES_PASSWORD="password-F", REPLICATION_PASSWORD="replication-G"),
        )
        assert rotated.returncode == 0, rotated.stderr
        replica.stop()
        identifier = (replica.data / "PG_VERSION").stat().st_ino
        again = cluster.script("clone-replica.sh", {**clone_env, "REPLICATION_PASSWORD": "replication-G"})
        assert again.returncode == 0, again.stderr
        assert "cloning" not in again.stdout
        assert (replica.data / "PG_VERSION").stat().st_ino == identifier
        assert (replica.data / "postgresql.auto.conf").read_text().count("primary_conninfo") == 1
        replica.start("-c listen_addresses=''")
        wait_until(lambda: replica.sql(streaming) == "1", "the replica to stream with the new password")
        primary.sql("CREATE TABLE IF NOT EXISTS rotation_probe (x int); INSERT INTO rotation_probe VALUES (1)")
        wait_until(lambda: replica.sql("SELECT to_regclass('rotation_probe') IS NOT NULL") == "t", "replay")
    finally:
        replica.stop()
