"""A single-node Apache Kafka broker (KRaft, combined broker and controller) run on Java.

The broker's jars come from Maven Central through ``deploy/local/kafka/pom.xml`` and are cached
under ``.cache/kafka/<version>`` so they are downloaded once per machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

from localcluster.config import HOST, PROJECT_ROOT, ClusterConfig
from localcluster.errors import ClusterError
from localcluster.processes import ManagedProcess, require_free_port, tail, wait_for

POM = PROJECT_ROOT / "deploy" / "local" / "kafka" / "pom.xml"
LOG4J_CONFIG = PROJECT_ROOT / "deploy" / "local" / "kafka" / "log4j2.properties"
READY_LINE = "Kafka Server started"
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


class KafkaBroker:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.home = config.state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.properties = self.home / "server.properties"
        self.log_file = config.log_dir / "kafka.log"
        self.process = ManagedProcess("kafka", config.run_dir)

    def server_properties(self) -> str:
        c = self.config
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{HOST}:{c.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{c.kafka_port},CONTROLLER://{HOST}:{c.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{c.kafka_port},CONTROLLER://{HOST}:{c.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # a restarted broker is fenced from its old incarnation after this, not after 9 s
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "1000",
            "min.insync.replicas": "1",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _classpath(self, libs: Path) -> str:
        return f"{libs}/*"

    def _format_storage(self, java: str, libs: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cp = self._classpath(libs)
        cluster_id = (
            subprocess.run(
                [java, "-cp", cp, "kafka.tools.StorageTool", "random-uuid"],
                capture_output=True,
                text=True,
                check=False,
            )
            .stdout.strip()
            .splitlines()
        )
        if not cluster_id:
            raise ClusterError("Kafka's StorageTool did not produce a cluster id")
        result = subprocess.run(
            [
                java,
                "-cp",
                cp,
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id[-1],
                "-c",
                str(self.properties),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise ClusterError(f"formatting Kafka storage failed: {last[0]}")

    def check_environment(self) -> None:
        if self.process.running():
            return
        find_java()
        require_free_port(self.config.kafka_port, "kafka")
        require_free_port(self.config.controller_port, "kafka controller")

    def start(self) -> float:
        """Start the broker unless it runs; return seconds from launch to ready (0 if it ran)."""
        if self.process.running():
            self.wait_ready(timeout=60)
            return 0.0
        java = find_java()
        libs = ensure_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(self.server_properties())
        self._format_storage(java, libs)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text("")
        heap = self.config.kafka_heap_mb
        started = time.monotonic()
        self.process.start(
            [
                java,
                f"-Xms{min(heap, 256)}m",
                f"-Xmx{heap}m",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                "-cp",
                self._classpath(libs),
                "kafka.Kafka",
                str(self.properties),
            ],
            self.log_file,
        )
        self.wait_ready(timeout=120)
        return time.monotonic() - started

    def wait_ready(self, timeout: float) -> None:
        """Ready means the broker logged its start line and answers a metadata request."""

        def started() -> bool:
            if not self.process.running():
                raise ClusterError(
                    f"Kafka exited during start-up; last log line: "
                    f"{tail(self.log_file, 1) or 'none'} (see {self.log_file})"
                )
            try:
                return READY_LINE in self.log_file.read_text(errors="replace")
            except OSError:
                return False

        if not wait_for(started, timeout, interval=0.2):
            raise ClusterError(f"Kafka did not start within {timeout:.0f}s (see {self.log_file})")
        if not wait_for(self.answers_metadata, 30, interval=0.2):
            raise ClusterError(f"Kafka does not answer metadata requests (see {self.log_file})")

    def answers_metadata(self) -> bool:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.config.bootstrap_servers,
                request_timeout_ms=5000,
                client_id="localcluster-probe",
            )
        except KafkaError:
            return False
        try:
            admin.describe_cluster()
            return True
        except KafkaError:
            return False
        finally:
            admin.close()

    def stop(self) -> bool:
        return self.process.stop(timeout=45)
