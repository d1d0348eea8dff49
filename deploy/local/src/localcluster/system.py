"""Finding (and, as root, installing) the system programs the cluster runs on."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from localcluster.errors import ClusterError

_apt_updated = False


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(package: str) -> None:
    """Install a Debian package when running as root; otherwise say what to install."""
    global _apt_updated
    if not is_root() or shutil.which("apt-get") is None:
        raise ClusterError(
            f"{package} is not installed: install it (e.g. apt-get install {package})"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        _apt_updated = True
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", package],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ClusterError(f"apt-get install {package} failed: {last[0]}")


def postgres_bindir() -> Path:
    """The newest PostgreSQL server binaries (15 or later), installing them when missing."""
    override = os.environ.get("PAY_PG_BINDIR")
    if override:
        path = Path(override)
        if not (path / "initdb").exists():
            raise ClusterError(f"PAY_PG_BINDIR={override} has no initdb")
        return path
    for attempt in range(2):
        found = sorted(
            (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        )
        if found:
            newest = found[-1]
            if newest.parent.name.isdigit() and int(newest.parent.name) < 15:
                raise ClusterError(f"PostgreSQL {newest.parent.name} found; 15 or newer is needed")
            return newest
        on_path = shutil.which("initdb")
        if on_path:
            return Path(on_path).resolve().parent
        if attempt == 0:
            apt_install("postgresql")
    raise ClusterError("PostgreSQL server binaries not found: install postgresql (15 or newer)")


def redis_server() -> str:
    for attempt in range(2):
        found = shutil.which("redis-server")
        if found:
            return found
        if attempt == 0:
            apt_install("redis-server")
    raise ClusterError("redis-server not found: install redis-server (7 or newer)")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def unprivileged_user() -> str | None:
    """The account PostgreSQL runs as: None (ourselves) unless we are root."""
    if not is_root():
        return None
    name = os.environ.get("PAY_PG_OS_USER", "postgres")
    if not _user_exists(name):
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"could not create the system user {name!r}: {result.stderr.strip()}"
            )
    return name


def give_to(path: Path, user: str | None) -> None:
    """Hand a file or folder to ``user``, and let that user reach it through its parents."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
