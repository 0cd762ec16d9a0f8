"""Throw-away PostgreSQL server for integration tests.

The test session starts a real ``postgres`` on 127.0.0.1 (free port, unix socket in a
private temp dir), and stops it and removes every file at the end::

    with PostgresServer() as server:
        url = server.url(server.create_database("scratch"))
        ...
        server.stop()   # simulate an outage
        server.start()  # same port, same data

Binaries: ``initdb``/``pg_ctl``/``postgres`` from ``$QA_PG_BINDIR``, else from ``PATH``,
else the newest ``/usr/lib/postgresql/*/bin`` (Debian/Ubuntu layout).

``initdb`` refuses to run as root. When the test process is root (sessions, CI
containers) every PostgreSQL command runs as an unprivileged OS user instead:
``$QA_PG_OS_USER``, else ``postgres`` (created by the Debian package), else ``nobody``.
The temp dir is then owned by that user.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

INSTALL_HINT = (
    "Install PostgreSQL (Debian/Ubuntu: `apt-get install -y postgresql`), put its bin "
    "directory on PATH or set QA_PG_BINDIR=/usr/lib/postgresql/<version>/bin. "
    "For a quick local run without PostgreSQL set QA_SKIP_POSTGRES=1."
)

#: Settings that trade durability for speed. Never use outside tests.
FAST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}

_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_FALLBACK_OS_USERS = ("postgres", "nobody")
_MAX_SOCKET_DIR_LEN = 80  # unix socket paths are limited to ~107 bytes


class PostgresError(RuntimeError):
    """The test PostgreSQL server could not be set up / started / stopped."""


class PostgresNotFoundError(PostgresError):
    """The PostgreSQL server binaries are not installed (or not findable)."""


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class PostgresBinaries:
    bin_dir: Path
    version: str  # e.g. "15.14"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def path(self, name: str) -> str:
        return str(self.bin_dir / name)


def _version_key(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); non-numeric dirs sort first
    name = Path(path).parent.name
    return tuple(int(p) for p in re.findall(r"\d+", name)) or (-1,)


def _complete_bin_dir(directory: Path) -> bool:
    return all(os.access(directory / b, os.X_OK) for b in _REQUIRED_BINARIES)


def find_binaries() -> PostgresBinaries:
    """Locate a directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[Path] = []
    explicit = os.environ.get("QA_PG_BINDIR")
    if explicit:
        candidates.append(Path(explicit))
    else:
        on_path = shutil.which("initdb")
        if on_path:
            # /usr/local/bin/initdb is often a symlink into /usr/lib/postgresql/NN/bin:
            # use the real directory so pg_ctl and postgres come from the same install.
            candidates.append(Path(os.path.realpath(on_path)).parent)
            candidates.append(Path(on_path).parent)
        candidates += [
            Path(p)
            for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
        ]

    for directory in candidates:
        if _complete_bin_dir(directory):
            return PostgresBinaries(directory, _server_version(directory))

    looked = ", ".join(str(c) for c in candidates) or "PATH, /usr/lib/postgresql/*/bin"
    raise PostgresNotFoundError(
        f"PostgreSQL server binaries ({', '.join(_REQUIRED_BINARIES)}) not found "
        f"(looked in: {looked}). {INSTALL_HINT}"
    )


def _server_version(bin_dir: Path) -> str:
    out = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+(?:\.\d+)*)", out)
    if not match:
        raise PostgresError(f"cannot parse `postgres --version` output: {out!r}")
    return match.group(1)


# --------------------------------------------------------------------------- helpers


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _os_user_for_server() -> pwd.struct_passwd | None:
    """The unprivileged account to run PostgreSQL as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    wanted = os.environ.get("QA_PG_OS_USER")
    names = [wanted] if wanted else list(_FALLBACK_OS_USERS)
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry
    raise PostgresError(
        f"running as root and none of the OS users {names} exists (initdb refuses root). "
        "Create one, e.g. `useradd --system --no-create-home qa_pg`, and set QA_PG_OS_USER=qa_pg."
    )


def _traversable_by_others(directory: Path) -> bool:
    for part in [directory, *directory.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _pick_base_dir(os_user: pwd.struct_passwd | None) -> str:
    explicit = os.environ.get("QA_PG_TMPDIR")
    candidates = [explicit] if explicit else [tempfile.gettempdir(), "/tmp"]
    for candidate in candidates:
        path = Path(candidate).resolve()
        if len(str(path)) > _MAX_SOCKET_DIR_LEN - 20:
            continue
        if os_user is not None and not _traversable_by_others(path):
            continue
        return str(path)
    raise PostgresError(
        f"no usable temp dir among {candidates}: it must be short (unix socket path limit) "
        "and, when running as root, every parent must be traversable (o+x) by the server "
        "user. Set QA_PG_TMPDIR to such a directory."
    )


@contextlib.contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGTERM (CI timeout, ``kill``) into KeyboardInterrupt while active.

    With the default SIGTERM action Python dies without running fixture teardown or
    atexit hooks, which would orphan the postmaster (pg_ctl daemonises it). A handler is
    only installed in the main thread and only if nobody else installed one.
    """
    installed = False
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
            installed = True
    try:
        yield
    finally:
        if installed and signal.getsignal(signal.SIGTERM) is _raise_keyboard_interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"received signal {signum}")


# --------------------------------------------------------------------------- server


class PostgresServer:
    """One disposable PostgreSQL cluster listening on 127.0.0.1:<free port>.

    Use as a context manager, or call :meth:`setup` / :meth:`close` yourself.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        user: str = "qa",
        database: str = "qa",
        superuser: str = "postgres",
        fast: bool = True,
        settings: dict[str, str] | None = None,
        binaries: PostgresBinaries | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.user = user  #: login role (LOGIN CREATEDB, owns the databases it is given)
        self.database = database  #: database created for ``user`` at setup
        self.superuser = superuser  #: bootstrap superuser created by initdb
        self.settings = {**(FAST_SETTINGS if fast else {}), **(settings or {})}
        self.startup_timeout = startup_timeout
        self._binaries = binaries
        self.port: int | None = None
        self.base_dir: Path | None = None
        self.os_user: pwd.struct_passwd | None = None
        self._atexit_registered = False

    # -- paths & urls ------------------------------------------------------------------

    @property
    def binaries(self) -> PostgresBinaries:
        if self._binaries is None:
            self._binaries = find_binaries()
        return self._binaries

    @property
    def data_dir(self) -> Path:
        return self._base / "data"

    @property
    def socket_dir(self) -> Path:
        return self._base

    @property
    def log_path(self) -> Path:
        return self._base / "postgres.log"

    @property
    def _base(self) -> Path:
        if self.base_dir is None:
            raise PostgresError("server not set up yet")
        return self.base_dir

    def url(self, dbname: str | None = None, *, user: str | None = None) -> str:
        """SQLAlchemy URL, e.g. ``postgresql+psycopg://qa@127.0.0.1:54321/qa``."""
        return (
            f"postgresql+psycopg://{user or self.user}@{self.host}:{self.port}/"
            f"{dbname or self.database}"
        )

    def conninfo(self, dbname: str | None = None, *, user: str | None = None) -> str:
        """libpq/psycopg conninfo string."""
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            user=user or self.user,
            dbname=dbname or self.database,
            connect_timeout=5,
        )

    @contextlib.contextmanager
    def admin_connection(self, dbname: str = "postgres") -> Iterator[psycopg.Connection]:
        """Autocommit psycopg connection as the superuser."""
        with psycopg.connect(self.conninfo(dbname, user=self.superuser), autocommit=True) as conn:
            yield conn

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.setup()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def setup(self) -> None:
        """initdb + start + create role/database."""
        if self.base_dir is not None:
            raise PostgresError("server already set up")
        binaries = self.binaries  # fail early with the install hint
        self.os_user = _os_user_for_server()
        self.base_dir = Path(tempfile.mkdtemp(prefix="qa_pg_", dir=_pick_base_dir(self.os_user)))
        if not self._atexit_registered:
            atexit.register(self.close)
            self._atexit_registered = True
        try:
            if self.os_user is not None:
                os.chown(self.base_dir, self.os_user.pw_uid, self.os_user.pw_gid)
            self._run(
                [
                    binaries.path("initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    self.superuser,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    "--no-sync",
                    "--no-instructions",
                ],
                what="initdb",
            )
            self._start_on_free_port()
            with self.admin_connection() as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(self.user))
                )
            self.create_database(self.database)
        except BaseException:
            self.close()
            raise

    def _write_config(self) -> None:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "100",
            **self.settings,
        }
        lines = ["", "# --- added by tests/pg_server.py ---"]
        lines += [f"{k} = '{v}'" for k, v in settings.items()]
        # Written as root when root: keep it readable by the server user (it is, 0644).
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    def _start_on_free_port(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            self.port = free_port(self.host)
            self._write_config()  # later entries win, so rewriting the port is fine
            try:
                self.start()
                return
            except PostgresError:
                if attempt + 1 < attempts and "already in use" in self.log_tail():
                    continue  # another process grabbed the port in between
                raise

    def start(self) -> None:
        """Start the (already initialised) server and wait until it accepts connections."""
        self._run(
            [
                self.binaries.path("pg_ctl"),
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_path),
                "--wait",
                "--timeout",
                str(int(self.startup_timeout)),
            ],
            what="pg_ctl start",
        )
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres", user=self.superuser)):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresError(
                        f"PostgreSQL on port {self.port} does not accept connections: {exc}\n"
                        f"--- {self.log_path} ---\n{self.log_tail()}"
                    ) from exc
                time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart | fast | immediate). Data dir is kept.

        ``immediate`` is a crash-like stop; with the fast settings (synchronous_commit=off)
        the last few hundred ms of commits may then be lost.
        """
        self._run(
            [
                self.binaries.path("pg_ctl"),
                "stop",
                "--pgdata",
                str(self.data_dir),
                "--mode",
                mode,
                "--wait",
                "--timeout",
                "30",
            ],
            what=f"pg_ctl stop -m {mode}",
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        if self.base_dir is None or not self.data_dir.exists():
            return False
        # pg_ctl status: 0 running, 3 not running, 4 no/invalid data dir
        proc = self._run(
            [self.binaries.path("pg_ctl"), "status", "--pgdata", str(self.data_dir)],
            what="pg_ctl status",
            check=False,
        )
        return proc.returncode == 0

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()

    def close(self) -> None:
        """Stop the server (if running) and delete the temp dir. Idempotent."""
        if self.base_dir is None:
            return
        try:
            if self.is_running():
                try:
                    self.stop("fast")
                except PostgresError:
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
            if self._atexit_registered:
                atexit.unregister(self.close)
                self._atexit_registered = False

    def _kill_postmaster(self) -> None:
        """Last resort: SIGQUIT (immediate shutdown) to the postmaster we started."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)
            for _ in range(100):
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.05)

    # -- databases ---------------------------------------------------------------------

    def create_database(self, name: str, *, owner: str | None = None) -> str:
        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner or self.user)
                )
            )
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name`` even if connections are still open (e.g. undisposed engines)."""
        with self.admin_connection() as conn:
            if self.binaries.major >= 13:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            else:  # pragma: no cover - old servers
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    # -- process plumbing --------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _run(
        self, args: list[str], *, what: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["HOME"] = str(self._base)
        env["LC_ALL"] = "C"
        kwargs: dict[str, object] = {}
        if self.os_user is not None:
            kwargs = {
                "user": self.os_user.pw_uid,
                "group": self.os_user.pw_gid,
                "extra_groups": [],
            }
        proc = subprocess.run(
            args,
            cwd=self._base,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
            **kwargs,  # type: ignore[arg-type]
        )
        if check and proc.returncode != 0:
            runas = f" (as OS user {self.os_user.pw_name})" if self.os_user else ""
            raise PostgresError(
                f"{what} failed with exit code {proc.returncode}{runas}: {' '.join(args)}\n"
                f"{proc.stdout}{proc.stderr}\n--- {self.log_path} ---\n{self.log_tail()}"
            )
        return proc
