"""Shared helpers for the Python oracle tests.

The Swift binaries come from $VSEARCH_BIN_DIR, else the newer of
.build/release and .build/debug under the repository. A missing prerequisite fails the test with
a message saying how to get it; nothing is skipped silently.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTOS_DIR = REPO_ROOT / "data" / "photos"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"


def find_binary(name: str) -> Path:
    """The Swift executable `name`, or a test failure naming how to build it.

    $VSEARCH_BIN_DIR wins; otherwise the newer of the release and debug builds,
    so a stale build left from earlier is not tested by mistake.
    """
    if os.environ.get("VSEARCH_BIN_DIR"):
        candidates = [Path(os.environ["VSEARCH_BIN_DIR"])]
    else:
        candidates = [REPO_ROOT / ".build" / "release", REPO_ROOT / ".build" / "debug"]
    found = [d / name for d in candidates if (d / name).is_file() and os.access(d / name, os.X_OK)]
    if not found:
        pytest.fail(
            f"{name} not found in {', '.join(str(c) for c in candidates)}: "
            f"run `swift build --product {name}` (or set VSEARCH_BIN_DIR)"
        )
    return max(found, key=lambda path: path.stat().st_mtime)


def require_tool(name: str, package: str) -> str:
    """A command on PATH, or a test failure naming the Debian package."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: apt-get install {package} (scripts/install-deps.sh does)")
    return path


def run(args, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command, capturing text output; fails the test with its stderr when it fails."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(str(a) for a in args)} exited {result.returncode}:\n{result.stderr}{result.stdout}")
    return result


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    """data/photos, filled by scripts/fetch-photos.sh."""
    if not (PHOTOS_DIR / "skimage" / "chelsea.png").is_file() or not any((PHOTOS_DIR / "mate").glob("*.jpg")):
        pytest.fail(f"real photos missing under {PHOTOS_DIR}: run `bash scripts/fetch-photos.sh`")
    return PHOTOS_DIR


@pytest.fixture(scope="session")
def vsearch_bench() -> Path:
    return find_binary("vsearch-bench")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/ (git-ignored), for reports a person may want to read."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR
