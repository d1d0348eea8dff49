"""The Kafka broker's jars and the Java that runs them.

The jars come from Maven Central through ``deploy/local/kafka/pom.xml`` and are cached under
``.cache/kafka/<version>`` so they are downloaded once per machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from localcluster.config import PROJECT_ROOT
from localcluster.errors import ClusterError

POM = PROJECT_ROOT / "deploy" / "local" / "kafka" / "pom.xml"
LOG4J_CONFIG = PROJECT_ROOT / "deploy" / "local" / "kafka" / "log4j2.properties"
MIN_JAVA = 17


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if match is None:
        raise ClusterError(f"{POM} does not pin <kafka.version>")
    return match.group(1)


def jar_dir() -> Path:
    return PROJECT_ROOT / ".cache" / "kafka" / kafka_version() / "libs"


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ClusterError(f"java not found on PATH: install Java {MIN_JAVA} or newer")
    probe = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', probe.stderr + probe.stdout)
    if match is None or int(match.group(1)) < MIN_JAVA:
        raise ClusterError(f"{java} is not Java {MIN_JAVA} or newer: Kafka 4 needs it")
    return java


def ensure_jars() -> Path:
    """Copy the broker's runtime jars from Maven Central once; later calls reuse the cache."""
    libs = jar_dir()
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ClusterError("mvn not found on PATH: install Maven to fetch the Kafka jars")
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ClusterError(f"fetching the Kafka jars with Maven failed: {last[0]}")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    marker.write_text(kafka_version() + "\n")
    return libs
