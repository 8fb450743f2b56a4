"""The cluster overview as the leader sees the cluster, and as a follower does alone."""

from loadtest_supervisor.cluster.contracts import NodeStatus
from loadtest_supervisor.cluster.overview import overview

A, B, C = "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"
IDS = {A: "a", B: "b", C: "c"}
COMMITTED = {
    "config": {"sha256": "f" * 64, "source": "file plan.yaml", "version": "3", "yaml": "..."},
    "run": {
        "run_id": "r1",
        "plan_sha256": "f" * 64,
        "state": "running",
        "start_at": 100.0,
        "end_at": 160.0,
        "shares": {"a": {"fraction": 0.5}, "c": {"fraction": 0.5}},
        "lost": {"d": 130.0},
    },
}


def states(document):
    return {n["node_id"]: (n["state"], n["term"], n["share"]) for n in document["nodes"]}


def test_the_leader_sees_each_member_following_or_not_and_the_lost_ones():
    status = NodeStatus("leader", 4, A, (A, B, C), True, node_ids=IDS, reachable=(A, C))
    document = overview("a", A, "leader", status, COMMITTED)
    assert states(document) == {
        "a": ("leader", 4, 0.5),
        "b": ("unreachable", None, None),
        "c": ("follower", 4, 0.5),
        "d": ("lost", None, None),
    }
    assert (document["leader_id"], document["term"], document["cluster_ready"]) == ("a", 4, True)
    # The plan's identity, never its text.
    assert document["config"] == {"sha256": "f" * 64, "source": "file plan.yaml", "version": "3"}
    assert document["run"]["run_id"] == "r1" and "shares" not in document["run"]


def test_a_follower_alone_cannot_say_whether_the_others_follow():
    status = NodeStatus("follower", 4, A, (A, B, C), True, node_ids=IDS, reachable=(B, C))
    document = overview("b", B, "follower", status, {})
    assert states(document) == {
        "a": ("unreachable", None, None),
        "b": ("follower", 4, None),
        "c": ("reachable", None, None),
    }
    assert document["leader_id"] == "a" and document["run"] is None


def test_a_forming_node_shows_no_leader():
    status = NodeStatus("forming", 2, None, (A, B), False, node_ids=IDS, reachable=(A,))
    document = overview("a", A, "forming", status, {})
    assert document["leader_id"] is None and not document["cluster_ready"]
    assert states(document)["a"] == ("forming", 2, None)


def test_the_leader_lists_its_members_beside_its_voters():
    member = "10.0.0.4:7000"
    status = NodeStatus(
        "leader",
        4,
        A,
        (A, B, C),
        True,
        node_ids={**IDS, member: "m"},
        reachable=(A, B, C, member),
        nonvoters=(member,),
    )
    document = overview("a", A, "leader", status, {})
    roles = {n["node_id"]: (n["state"], n["role"]) for n in document["nodes"]}
    assert roles == {
        "a": ("leader", "voter"),
        "b": ("follower", "voter"),
        "c": ("follower", "voter"),
        "m": ("follower", "member"),
    }


def test_a_member_says_so_of_itself():
    member = "10.0.0.4:7000"
    status = NodeStatus(
        "follower",
        4,
        A,
        (A, B, C),
        True,
        node_ids={A: "a", member: "m"},
        reachable=(member, A),
        role="member",
    )
    document = overview("m", member, "follower", status, {})
    assert {n["node_id"]: n["role"] for n in document["nodes"] if n["node_id"]} == {
        "a": "voter",
        "m": "member",
    }
