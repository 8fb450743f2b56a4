"""Garbage in a config source is never committed, and is reported (issue 14): hostile
and Hypothesis-made values of the plan's Consul KV key and GCS object, read by a
running node's leader. Each one is refused (``event=plan_refused``, ``config_error`` on
/health/cluster) with no plan committed; a valid plan afterwards is committed.

Longer runs: ``FUZZ_EXAMPLES=200``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cluster.conftest import SECRET
from tests.cluster.harness import ClusterHarness, NodeProcess
from tests.services import ConsulAgent, FakeGcs
from tests.support import wait_for
from tests.support.fuzzing import fuzz_settings

TIMEOUT_S = 30
MAX_PLAN = 64 << 10
HOSTILE = [
    b"",
    b"\x00\x01\x02",
    bytes(range(256)),
    "target: {url: 'http://127.0.0.1:9/', headers: {x: '\u202e\U0001f4a9'}}\n".encode(),
    b"- a\n- list\n",
    b"load: {model: Rps, target_rps: 1e999, duration: 9999999999999999999d}\n",
    b"target: " + b"[" * 5000 + b"]" * 5000,
    b"\n".join(
        [b"a: &a [x, x, x, x, x, x, x, x, x, x]"]
        + [
            f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]".encode()
            for p, c in ("ab", "bc", "cd", "de", "ef")
        ]
        + [b"scenarios: *f"]
    ),
    b"target: !!python/object/apply:os.system ['true']\n",
    b"target: {url: 'http://127.0.0.1:9/'}\n#" + b"x" * MAX_PLAN,
]
VALID = b"target: {url: 'http://127.0.0.1:9/'}\nrun: {start: api}\n"


def refusals(node: NodeProcess) -> int:
    return node.log().count("event=plan_refused")


def offer_and_expect_refusal(
    node: NodeProcess, write: Callable[[bytes], None], value: bytes
) -> None:
    before = refusals(node)
    write(value)
    wait_for(
        lambda: refusals(node) > before,
        timeout=TIMEOUT_S,
        what=f"the leader to refuse {value[:60]!r}",
        detail=node.log_tail,
    )
    health = node.health()
    assert "config" not in health, health
    assert health.get("config_error"), health


@pytest.fixture(scope="module")
def kv_node(
    tmp_path_factory: pytest.TempPathFactory, consul: ConsulAgent
) -> Iterator[tuple[NodeProcess, Callable[[bytes], None]]]:
    key = f"loadtest/{uuid.uuid4().hex[:8]}/plan.yaml"
    consul.client.kv.put(key, b"\xff not yet a plan")
    with ClusterHarness(tmp_path_factory.mktemp("kv-garbage"), env=_secret()) as cluster:
        node = _formed(cluster, CLUSTER_CONFIG_SOURCE="consul-kv", CONSUL_ADDR=consul.url,
                       CONSUL_CONFIG_KEY=key)  # fmt: skip
        yield node, lambda value: consul.client.kv.put(key, value)
        assert "Traceback" not in node.log(), node.log_tail(40)


@pytest.fixture(scope="module")
def gcs_node(
    tmp_path_factory: pytest.TempPathFactory, gcs: FakeGcs
) -> Iterator[tuple[NodeProcess, Callable[[bytes], None]]]:
    bucket = gcs.client().create_bucket(f"garbage-{uuid.uuid4().hex[:8]}")
    blob = bucket.blob("plan.yaml")
    blob.upload_from_string(b"\xff not yet a plan")
    with ClusterHarness(tmp_path_factory.mktemp("gcs-garbage"), env=_secret()) as cluster:
        node = _formed(cluster, CLUSTER_CONFIG_SOURCE="gcs", CLUSTER_CONFIG_POLL="200ms",
                       CLUSTER_CONFIG_URI=f"gs://{bucket.name}/plan.yaml", **gcs.env())  # fmt: skip
        yield node, lambda value: bucket.blob("plan.yaml").upload_from_string(value)
        assert "Traceback" not in node.log(), node.log_tail(40)


def _secret() -> dict[str, str]:
    return {"CLUSTER_SECRET": SECRET, "CLUSTER_MAX_PLAN_BYTES": str(MAX_PLAN)}


def _formed(cluster: ClusterHarness, **env: str) -> NodeProcess:
    cluster.env.update(env)
    (node,) = cluster.start(1)
    cluster.wait_for_agreement(TIMEOUT_S)
    wait_for(lambda: "config_error" in node.health(), timeout=TIMEOUT_S, what="first refusal")
    return node


@pytest.fixture(params=["kv", "gcs"])
def source_node(
    request: pytest.FixtureRequest,
) -> tuple[NodeProcess, Callable[[bytes], None]]:
    return request.getfixturevalue(f"{request.param}_node")


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_are_refused_and_reported(
    source_node: tuple[NodeProcess, Callable[[bytes], None]], value: bytes
) -> None:
    node, write = source_node
    offer_and_expect_refusal(node, write, value)


@fuzz_settings(10, deadline=None)
@given(
    st.one_of(
        st.binary(min_size=1, max_size=200),
        st.text(min_size=1, max_size=200).map(lambda t: ("target: " + t).encode()),
    )
)
def test_generated_garbage_is_refused_and_reported(
    source_node: tuple[NodeProcess, Callable[[bytes], None]], value: bytes
) -> None:
    node, write = source_node
    offer_and_expect_refusal(node, write, value + b"\nlode: {}\n")  # never a valid plan


def test_a_huge_gcs_object_is_refused_from_its_metadata(
    gcs_node: tuple[NodeProcess, Callable[[bytes], None]],
) -> None:
    node, write = gcs_node
    offer_and_expect_refusal(node, write, b"#" * (3 << 20))
    wait_for(
        lambda: "the object is 3145728 bytes, more than a plan" in node.health()["config_error"],
        timeout=TIMEOUT_S,
        what="the object's size reported",
    )
    assert "config" not in node.health()


def test_a_valid_plan_after_the_garbage_is_committed(
    source_node: tuple[NodeProcess, Callable[[bytes], None]],
) -> None:
    node, write = source_node
    write(VALID)
    wait_for(lambda: "config" in node.health(), timeout=TIMEOUT_S, what="the valid plan")
    assert "config_error" not in node.health()
