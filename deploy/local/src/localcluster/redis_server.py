"""Redis from the system's packages on its own port and data folder."""

from __future__ import annotations

import redis

from localcluster.config import HOST, ClusterConfig
from localcluster.errors import ClusterError
from localcluster.processes import ManagedProcess, require_free_port, tail, wait_for
from localcluster.system import redis_server


class RedisServer:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.data_dir = config.state_dir / "redis"
        self.log_file = config.log_dir / "redis.log"
        self.process = ManagedProcess("redis", config.run_dir)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.config.redis_port}/0"

    def check_environment(self) -> None:
        redis_server()
        if not self.process.running():
            require_free_port(self.config.redis_port, "redis")

    def start(self) -> None:
        if self.process.running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                redis_server(),
                "--port",
                str(self.config.redis_port),
                "--bind",
                HOST,
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "no",
                "--appendonly",
                "yes",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ],
            self.log_file,
        )
        if not wait_for(self.answers, 20):
            raise ClusterError(f"Redis did not answer PING: {tail(self.log_file, 1)}")

    def answers(self) -> bool:
        if not self.process.running():
            raise ClusterError(f"Redis exited during start-up: {tail(self.log_file, 1)}")
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> bool:
        return self.process.stop(timeout=15)
