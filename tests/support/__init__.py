"""What tests and benchmarks share to drive real processes: one of each.

    polling      wait_for (poll until truthy), eventually (the same from a coroutine)
    ports        LOOPBACK, free_port (on one or several loopback hosts), port_accepts
    processes    ManagedProcess (own process group, output in files), ServiceError,
                 pid_alive, worker_pids (a supervisor's load workers)
    leadership   agreed_leader / health_agreement, assert_one_leader_per_term
    browser      headless Chromium (the ``browser`` fixture); not re-exported here, so
                 only the tests that use it import selenium

The services built on these (Consul, nginx, fake GCS, ...) are in tests/services.
"""

from tests.support.leadership import (
    LeaderView,
    NodeView,
    agreed_leader,
    assert_one_leader_per_term,
    health_agreement,
)
from tests.support.polling import WaitTimeout, eventually, wait_for
from tests.support.ports import LOOPBACK, free_port, port_accepts
from tests.support.processes import ManagedProcess, ServiceError, pid_alive, worker_pids

__all__ = [
    "LOOPBACK",
    "LeaderView",
    "ManagedProcess",
    "NodeView",
    "ServiceError",
    "WaitTimeout",
    "agreed_leader",
    "assert_one_leader_per_term",
    "eventually",
    "free_port",
    "health_agreement",
    "pid_alive",
    "port_accepts",
    "wait_for",
    "worker_pids",
]
