"""Apache Kafka in KRaft mode on Java: one combined broker+controller node, or three.

The jars and the Java that runs them come from ``localcluster.kafka_jars``.

With ``PAY_KAFKA_BROKERS=3`` each of the three nodes is both a broker and a voter of the
controller quorum, rather than three controllers beside three brokers: three JVMs instead of six
on a two-core machine, and losing a node still leaves what the platform needs, a quorum majority
(two voters of three) and two replicas of every partition, enough for ``min.insync.replicas=2``.
Separate controllers would add memory and start-up CPU without a behaviour the platform's tests
could tell apart. The quorum is static (``controller.quorum.voters``): three fixed voters need no
membership changes, and every node is formatted alike with one cluster id.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from localcluster.config import HOST, ClusterConfig
from localcluster.errors import ClusterError
from localcluster.kafka_admin import active_brokers
from localcluster.kafka_jars import (  # noqa: F401 (kafka_version is imported from here)
    LOG4J_CONFIG,
    ensure_jars,
    find_java,
    kafka_version,
)
from localcluster.processes import (
    ManagedProcess,
    alive,
    require_free_port,
    signal_group,
    tail,
    wait_for,
)

READY_LINE = "Kafka Server started"


def new_cluster_id() -> str:
    """A cluster id as Kafka's ``Uuid`` prints one: 16 random bytes, base64url, no padding.

    Made here rather than by ``StorageTool random-uuid``, which costs a JVM start; Kafka's own
    generator skips ids starting with a dash, and so does this.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker:
    """One node (``node.id`` n, 1-based): the first is ``kafka``, the others ``kafka-<n>``.

    The first node keeps the one-broker cluster's folder, log and pid file names, so a
    one-broker cluster reads as it always did and ``KafkaBroker(config)`` is its broker.
    """

    def __init__(self, config: ClusterConfig, node_id: int = 1) -> None:
        if not 1 <= node_id <= config.kafka_brokers:
            raise ClusterError(
                f"cluster {config.name!r} has brokers 1 to {config.kafka_brokers}, not {node_id}"
            )
        self.config = config
        self.node_id = node_id
        self.name = "kafka" if node_id == 1 else f"kafka-{node_id}"
        self.kafka_port = config.kafka_ports[node_id - 1]
        self.controller_port = config.controller_ports[node_id - 1]
        self.home = config.state_dir / self.name
        self.data_dir = self.home / "data"
        self.properties = self.home / "server.properties"
        self.log_file = config.log_dir / f"{self.name}.log"
        self.process = ManagedProcess(self.name, config.run_dir)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    def quorum_settings(self) -> dict[str, str]:
        c = self.config
        if c.kafka_brokers == 1:  # formatted --standalone: a dynamic quorum of this one voter
            return {"controller.quorum.bootstrap.servers": f"{HOST}:{self.controller_port}"}
        voters = (f"{n}@{HOST}:{port}" for n, port in enumerate(c.controller_ports, start=1))
        return {"controller.quorum.voters": ",".join(voters)}

    def server_properties(self) -> str:
        c = self.config
        replicas, min_isr = str(c.replication_factor), str(c.min_insync_replicas)
        listeners = f"PLAINTEXT://{self.address},CONTROLLER://{HOST}:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            **self.quorum_settings(),
            "listeners": listeners,
            "advertised.listeners": listeners,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "default.replication.factor": replicas,
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            # a restarted or killed broker is fenced (its partitions led elsewhere) after this
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "1000",
            "min.insync.replicas": min_isr,
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def formatted_cluster_id(self) -> str | None:
        try:
            text = (self.data_dir / "meta.properties").read_text()
        except OSError:
            return None
        match = re.search(r"^cluster\.id=(\S+)$", text, re.MULTILINE)
        return match.group(1) if match else None

    def format_command(self, java: str, libs: Path, cluster_id: str) -> list[str]:
        standalone = ["--standalone"] if self.config.kafka_brokers == 1 else []
        return [
            java,
            "-cp",
            f"{libs}/*",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "kafka.tools.StorageTool",
            "format",
            *standalone,
            "-t",
            cluster_id,
            "-c",
            str(self.properties),
        ]

    def check_environment(self) -> None:
        if self.process.running():
            return
        require_free_port(self.kafka_port, self.name)
        require_free_port(self.controller_port, f"{self.name} controller")

    def launch(self, java: str, libs: Path) -> None:
        """Start the JVM on formatted storage, without waiting for it to be ready."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text("")  # readiness is the start line of this run's log
        heap = self.config.kafka_heap_mb
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
                f"{libs}/*",
                "kafka.Kafka",
                str(self.properties),
            ],
            self.log_file,
        )

    def start(self) -> float:
        """Start this node alone (its quorum peers already run); seconds to ready, 0 if it ran."""
        return KafkaCluster(self.config).start(only=(self.node_id,))

    def wait_ready(self, timeout: float) -> None:
        """Ready: the start line logged, and the cluster sees the node as an unfenced broker."""

        def started() -> bool:
            if not self.process.running():
                raise ClusterError(
                    f"{self.name} exited during start-up; last log line: "
                    f"{tail(self.log_file, 1) or 'none'} (see {self.log_file})"
                )
            try:
                return READY_LINE in self.log_file.read_text(errors="replace")
            except OSError:
                return False

        if not wait_for(started, timeout, interval=0.2):
            raise ClusterError(f"{self.name} did not start within {timeout:.0f}s ({self.log_file})")
        if not wait_for(self.answers_metadata, 30, interval=0.2):
            raise ClusterError(f"{self.name} is not an active broker yet (see {self.log_file})")

    def answers_metadata(self) -> bool:
        """The node answers on its own port and counts itself an unfenced broker."""
        return self.node_id in active_brokers(self.address)

    def kill(self) -> float:
        """SIGKILL the node, as a crash would; the wall-clock moment it was gone."""
        pid = self.process.pid()
        if pid is None:
            raise ClusterError(f"{self.name} is not running")
        signal_group(pid, signal.SIGKILL)
        if not wait_for(lambda: not alive(pid), 30, interval=0.05):
            raise ClusterError(f"{self.name} (pid {pid}) survived SIGKILL for 30s")
        return time.time()

    def stop(self) -> bool:
        return self.process.stop(timeout=45)


class KafkaCluster:
    """Every node of the cluster's Kafka, started and stopped together or one at a time."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.brokers = [KafkaBroker(config, n) for n in range(1, config.kafka_brokers + 1)]
        self.marker = self.brokers[0].home / "brokers"

    def broker(self, node_id: int) -> KafkaBroker:
        return KafkaBroker(self.config, node_id)

    def check_environment(self) -> None:
        self._check_layout()
        if not all(broker.process.running() for broker in self.brokers):
            find_java()
        for broker in self.brokers:
            broker.check_environment()

    def _check_layout(self) -> None:
        """Storage formatted for one broker cannot join a quorum of three, nor the reverse."""
        if self.brokers[0].formatted_cluster_id() is None:
            return
        had = int(self.marker.read_text()) if self.marker.exists() else 1
        if had != self.config.kafka_brokers:
            raise ClusterError(
                f"cluster {self.config.name!r} was formatted for {had} Kafka broker(s), not "
                f"{self.config.kafka_brokers}: set PAY_KAFKA_BROKERS={had}, or run "
                f"`localcluster down` and remove {self.config.state_dir}"
            )

    def _prepare(self, java: str, libs: Path, brokers: list[KafkaBroker]) -> None:
        """Write each node's properties and format the storage of those never formatted."""
        self._check_layout()
        known = [b.formatted_cluster_id() for b in self.brokers]
        cluster_id = next((found for found in known if found), None) or new_cluster_id()
        for broker in brokers:
            broker.home.mkdir(parents=True, exist_ok=True)
            broker.properties.write_text(broker.server_properties())
        formats = [
            subprocess.Popen(  # in parallel: each is a JVM start
                b.format_command(java, libs, cluster_id),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for b in brokers
            if b.formatted_cluster_id() is None
        ]
        for proc in formats:
            output, _ = proc.communicate()
            if proc.returncode != 0:
                last = output.strip().splitlines()[-1:] or ["no output"]
                raise ClusterError(f"formatting Kafka storage failed: {last[0]}")
        self.marker.write_text(f"{self.config.kafka_brokers}\n")

    def start(self, only: tuple[int, ...] | None = None) -> float:
        """Start the nodes (all, or those in ``only``) that are not running, together, since a
        node of three is ready only once a quorum runs; return the seconds to ready (0 if all
        ran)."""
        chosen = [b for b in self.brokers if only is None or b.node_id in only]
        stopped = [b for b in chosen if not b.process.running()]
        started = time.monotonic()
        if stopped:
            java, libs = find_java(), ensure_jars()
            self._prepare(java, libs, stopped)
            for broker in stopped:
                broker.launch(java, libs)
        for broker in chosen:
            # generous: a JVM starting on two busy cores has taken 100 s to be ready
            broker.wait_ready(timeout=240 if broker in stopped else 60)
        return time.monotonic() - started if stopped else 0.0

    def stop(self) -> bool:
        """SIGTERM every node at once, then wait: one by one, the last would wait for a quorum
        that left before it. True if any ran."""
        processes = [broker.process for broker in self.brokers]
        named = {process.name for process in processes}
        processes += [  # brokers started under another PAY_KAFKA_BROKERS
            ManagedProcess(pid_file.stem, self.config.run_dir)
            for pid_file in sorted(self.config.run_dir.glob("kafka-*.pid"))
            if pid_file.stem not in named
        ]
        running = [process for process in processes if process.pid() is not None]
        for process in running:
            pid = process.pid()
            if pid is not None:
                signal_group(pid, signal.SIGTERM)
        for process in processes:
            process.stop(timeout=45)  # waits for the SIGTERM, escalates; clears the pid file
        return bool(running)
