"""scripts/postgres.sh starts a real PostgreSQL with pgvector, keeps its data across a restart, and stops.

The queries go through the psql that ships with the server (pgserver's wheel), so the test needs no
PostgreSQL driver in the Python environment.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"
URL = re.compile(r"postgres://vsearch@127\.0\.0\.1:(\d+)/vsearch")


def script(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )
    if check and result.returncode != 0:
        pytest.fail(f"postgres.sh {' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr}{result.stdout}")
    return result


def start(directory: Path) -> str:
    lines = script("start", directory).stdout.splitlines()
    assert lines, "postgres.sh start printed nothing on stdout"
    assert URL.fullmatch(lines[-1]), f"last line is not the URL: {lines[-1]!r}"
    return lines[-1]


def psql_path(directory: Path) -> Path:
    """The psql next to the server: the copy in DIR if root made one, else the wheel's."""
    copied = directory / "pg" / "pgserver" / "pginstall" / "bin" / "psql"
    if copied.is_file():
        return copied
    spec = importlib.util.find_spec("pgserver")
    if spec is None:
        pytest.fail("pgserver is not in this Python environment: run scripts/python-env.sh")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / "psql"


def sql(directory: Path, url: str, *commands: str) -> list[str]:
    args = [psql_path(directory), "-X", "-w", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url]
    for command in commands:
        args += ["-c", command]
    result = subprocess.run(list(map(str, args)), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"psql exited {result.returncode}:\n{result.stderr}")
    return result.stdout.splitlines()


@pytest.fixture
def server_dir():
    # Not pytest's tmp_path: as root the server runs as another user, who must be able to enter
    # every directory above DIR, and tmp_path lies under a mode-0700 directory.
    directory = Path(tempfile.mkdtemp(prefix="vsearch-pg-"))
    try:
        yield directory
    finally:
        script("stop", directory, check=False)
        shutil.rmtree(directory, ignore_errors=True)


def test_start_query_restart_stop(server_dir):
    url = start(server_dir)
    assert start(server_dir) == url, "a second start on a running DIR prints the same URL"
    assert script("url", server_dir).stdout.strip() == url
    assert script("status", server_dir).stdout.strip() == f"running {url}"

    (version,) = sql(server_dir, url, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    assert tuple(map(int, version.split("."))) >= (0, 6)

    sql(
        server_dir,
        url,
        "CREATE TABLE items (id int PRIMARY KEY, v vector(3))",
        "CREATE INDEX ON items USING hnsw (v vector_cosine_ops)",
        "INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]'), (4, '[0,0,1]')",
    )
    nearest = "SELECT id FROM items ORDER BY v <=> '[1,0.05,0]' LIMIT 2"
    # With sequential scans off, the planner must take the HNSW index if it can serve <=>.
    plan = sql(server_dir, url, "SET enable_seqscan = off", "EXPLAIN " + nearest)
    assert any("items_v_idx" in line for line in plan), "\n".join(plan)
    assert sql(server_dir, url, "SET enable_seqscan = off", nearest) == ["1", "3"]

    script("stop", server_dir)
    assert script("status", server_dir, check=False).returncode == 3
    assert script("stop", server_dir).returncode == 0, "stopping a stopped server is not an error"

    # The port may change if another process took it meanwhile; the data may not.
    url = start(server_dir)
    assert sql(server_dir, url, nearest) == ["1", "3"]
    script("stop", server_dir)
    assert "database system is shut down" in (server_dir / "postgres.log").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root creates the service user")
def test_servers_started_at_once_share_one_new_service_user():
    """Test suites start their servers in parallel, on a fresh machine all before the service user
    exists. Each concurrent useradd used to write the user's entry again, changing its uid under a
    server that had already started initdb as the old one."""
    user = f"vsearch-pg-t{os.getpid()}"
    directories = [Path(tempfile.mkdtemp(prefix="vsearch-pg-")) for _ in range(4)]
    environment = {**os.environ, "VSEARCH_PG_USER": user}
    try:
        starts = [
            subprocess.Popen(["bash", str(SCRIPT), "start", d], env=environment, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for d in directories
        ]
        results = [(*p.communicate(timeout=180), p.returncode) for p in starts]
        for directory, (out, err, code) in zip(directories, results):
            assert code == 0, f"start {directory} exited {code}:\n{err}"
            assert URL.fullmatch(out.splitlines()[-1])
            assert (directory / "data").stat().st_uid == int(
                subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
        assert sum("creating system user" in err for _, err, _ in results) == 1
    finally:
        for directory in directories:
            script("stop", directory, check=False)
            shutil.rmtree(directory, ignore_errors=True)
        subprocess.run(["userdel", user], capture_output=True)
