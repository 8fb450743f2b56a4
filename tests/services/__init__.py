"""Real services for the tests: built or installed by scripts/test-services, run here.

Each class starts one real process on free loopback ports and stops its whole
process group; tests/conftest.py wraps them as fixtures. The generic machinery
they are built on (ManagedProcess, free_port, wait_for) is in tests/support.
"""

from tests.services.binaries import BIN_DIR, REPO_ROOT, binary
from tests.services.consul import ConsulAgent, ConsulTemplate
from tests.services.gcs import FakeGcs
from tests.services.http_target import HttpTarget
from tests.services.nginx import Hit, Nginx

__all__ = [
    "BIN_DIR",
    "REPO_ROOT",
    "ConsulAgent",
    "ConsulTemplate",
    "FakeGcs",
    "Hit",
    "HttpTarget",
    "Nginx",
    "binary",
]
