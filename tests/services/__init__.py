"""Real services for the tests: built or installed by scripts/test-services, run here.

Each class starts one real process on free loopback ports and stops its whole
process group; tests/conftest.py wraps them as fixtures.
"""

from tests.services.consul import ConsulAgent, ConsulTemplate
from tests.services.gcs import FakeGcs
from tests.services.http_target import HttpTarget
from tests.services.nginx import Nginx
from tests.services.process import (
    BIN_DIR,
    LOOPBACK,
    ManagedProcess,
    ServiceError,
    binary,
    free_port,
    port_accepts,
    wait_for,
)

__all__ = [
    "BIN_DIR",
    "LOOPBACK",
    "ConsulAgent",
    "ConsulTemplate",
    "FakeGcs",
    "HttpTarget",
    "ManagedProcess",
    "Nginx",
    "ServiceError",
    "binary",
    "free_port",
    "port_accepts",
    "wait_for",
]
