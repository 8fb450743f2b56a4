"""A config file that cannot be used: unreadable, not YAML, the wrong shape, unknown
keys or wrong types; every problem is reported at once, in the user's terms.
"""

from __future__ import annotations

from pathlib import Path

from loadtest_supervisor.config.loading import load_settings
from tests.unit.config.loading import ENV, URL, config, problems

# --- the file and its YAML -----------------------------------------------------------------------


def test_missing_file() -> None:
    assert problems("nope.yaml") == [
        "nope.yaml: cannot read config file: No such file or directory"
    ]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    assert problems("dir.yaml") == ["dir.yaml: cannot read config file: Is a directory"]


def test_binary_file() -> None:
    Path("bin.yaml").write_bytes(b"\xff\xfe\x00")
    [line] = problems("bin.yaml")
    assert line.startswith("bin.yaml: cannot read config file: not UTF-8 text")


def test_yaml_syntax_error_has_line_and_column() -> None:
    path = config("target:\n  url: http://h/\nload:\n  concurrency: [1, 2\n")
    [line] = problems(path)
    assert line.startswith("test.yaml: YAML syntax error at line 5, column 1: expected ',' or ']'")


def test_yaml_tab_indentation() -> None:
    [line] = problems(config("target:\n\turl: http://h/\n"))
    assert line.startswith("test.yaml: YAML syntax error at line 2, column 1:")
    assert "found character '\\t'" in line


def test_yaml_top_level_not_a_mapping() -> None:
    assert problems(config("- target\n- load\n")) == [
        "test.yaml: the top level must be a mapping of sections (cluster, data, load, request, "
        "run, scenarios, target, thresholds), not a list"
    ]


def test_empty_yaml_is_an_empty_config() -> None:
    plan = load_settings(config(""), ENV).plan
    assert plan is not None and plan.target.url == URL


def test_duplicate_yaml_key() -> None:
    path = config("target: {url: 'http://h/'}\nload:\n  duration: 1h\n  duration: 2h\n")
    assert problems(path) == [
        "test.yaml: line 4: duplicate key 'duration' (first at line 3); each key may appear once"
    ]


def test_yaml_merge_keys_are_not_duplicates() -> None:
    path = config(
        """
target: {url: "http://h/"}
x-common: &common {method: POST, think_time: 1s}
scenarios:
  - name: s
    steps:
      - {<<: *common, path: /a, think_time: 2s}
"""
    )
    lines = problems(path)
    assert len(lines) == 1 and lines[0].startswith("test.yaml: unknown key 'x-common'")


# --- keys and types ------------------------------------------------------------------------------


def test_yaml_wrong_type() -> None:
    path = config(
        "target: {url: 'http://h/'}\nload: {concurrency: [1, 2], duration: ten minutes}\n"
    )
    assert problems(path) == [
        "test.yaml: load.concurrency=[1, 2] (list): must be an integer >= 1",
        "test.yaml: load.duration='ten minutes': not a duration; allowed: seconds or "
        "<n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d",
    ]


def test_yaml_section_not_a_mapping() -> None:
    assert problems(config("target: {url: 'http://h/'}\nload: 5\ncluster: [1]\n")) == [
        "test.yaml: load=5: must be a mapping with keys: concurrency, daily_cycle_duration, "
        "daily_max_rps, daily_mid_rps, daily_min_rps, duration, max_rps, min_rps, model, "
        "ramp_duration, target_rps, workers",
        "test.yaml: cluster=[1] (list): must be a mapping with keys: advertise_addr, api_token, "
        "bind_addr, checkpoint_interval, config_source, data_dir, discovery_mode, enabled, "
        "grpc_max_message_bytes, grpc_max_streams, health_addr, http_api, "
        "http_max_body_bytes, http_max_connections, insecure, max_clock_skew, "
        "max_plan_bytes, member_remove_after, "
        "metrics_interval, node_id, nodes, orphan_grace, region, reshare_after, secret, "
        "start_lead, tls_ca, tls_cert, tls_key, voter_replace_after, voters, workers",
    ]


def test_yaml_boolean_accident_in_header() -> None:
    path = config("target: {url: 'http://h/', headers: {X-Flag: yes}}\n")
    assert problems(path) == [
        "test.yaml: target.headers['X-Flag']=True (bool): must be a string; quote it "
        "(YAML reads yes/no/on/off as booleans)"
    ]


def test_unknown_key_with_suggestion() -> None:
    path = config("target: {url: 'http://h/'}\nload: {duraton: 10m}\n")
    assert problems(path) == [
        "test.yaml: unknown key 'load.duraton'; did you mean 'duration'? allowed keys in load: "
        "concurrency, daily_cycle_duration, daily_max_rps, daily_mid_rps, daily_min_rps, "
        "duration, max_rps, min_rps, model, ramp_duration, target_rps, workers"
    ]


def test_unknown_keys_anywhere_in_the_tree() -> None:
    path = config(
        """
target: {url: "http://h/", tls: {verfy: false}}
TARGET_RPS: 5
scenarios:
  - name: s
    steps:
      - path: /a
        asert: {status: 200}
        assert: {statsu: 200}
        extract: {tok: {jsonpath: "$.t"}}
cluster: {enabeld: true}
"""
    )
    lines = problems(path)
    assert lines[0].startswith(
        "test.yaml: unknown key 'target.tls.verfy'; did you mean 'verify'? allowed keys in "
        "target.tls: ca, client_cert, client_key, verify"
    )
    assert lines[1].startswith(
        "test.yaml: unknown key 'TARGET_RPS'; did you mean 'load.target_rps'? "
        "(TARGET_RPS is an env variable) allowed keys at the top level: cluster, data, load,"
    )
    assert lines[2].startswith(
        "test.yaml: unknown key 'scenarios[0].steps[0].asert'; did you mean 'assert'?"
    )
    assert lines[3].startswith(
        "test.yaml: unknown key 'scenarios[0].steps[0].assert.statsu'; did you mean 'status'? "
        "allowed keys in scenarios[0].steps[0].assert: body_contains, json_path, status"
    )
    assert lines[4].startswith(
        "test.yaml: unknown key 'scenarios[0].steps[0].extract.tok.jsonpath'; did you mean "
        "'json_path'? allowed keys in scenarios[0].steps[0].extract.tok: header, json_path, regex"
    )
    assert lines[5].startswith("test.yaml: unknown key 'cluster.enabeld'; did you mean 'enabled'?")
    # With its only key dropped as unknown, the extraction has none of the three left.
    assert lines[6] == (
        "test.yaml: scenarios[0].steps[0].extract.tok: needs exactly one of json_path, header, "
        "regex"
    )
    assert len(lines) == 7


def test_unknown_key_without_a_close_match() -> None:
    [line] = problems(config("target: {url: 'http://h/'}\nrequest: {zzz: 1}\n"))
    assert (
        line == "test.yaml: unknown key 'request.zzz'; allowed keys in request: body, json, method"
    )


def test_missing_target_names_env_var_and_yaml_key() -> None:
    assert problems(None) == [
        "target.url: required; set target.url in a --config file or the TARGET_URL environment "
        "variable"
    ]
    assert problems(config("load: {concurrency: 2}\n")) == [
        "target.url: required; set target.url in test.yaml or the TARGET_URL environment variable"
    ]


def test_multiple_errors_are_reported_together() -> None:
    path = config(
        """
target:
  url: ftp://x
  connect_timeout: -1
load:
  model: Rps
  concurrency: 0
  workers: many
request: {method: GET, body: a, json: {b: 1}}
thresholds: ["p99 < lots"]
cluster: {health_addr: nowhere}
"""
    )
    lines = problems(path, {"NUM_CONCURRENT_TASKS": "x", "CLUSTER_ENABLED": "perhaps"})
    assert lines == [
        "test.yaml: target.url='ftp://x': must be an http:// or https:// URL with a host, "
        "e.g. http://127.0.0.1:8080/path",
        "test.yaml: target.connect_timeout=-1: not a duration; allowed: seconds or "
        "<n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d",
        "test.yaml: load.concurrency=0: must be an integer >= 1",
        "test.yaml: load.workers='many': must be an integer >= 1",
        "load.target_rps: required when load.model is Rps; set load.target_rps in test.yaml or "
        "the TARGET_RPS environment variable",
        "test.yaml: request.json: body and json are mutually exclusive; set only one",
        "test.yaml: thresholds[0]='p99 < lots': p99 needs a latency; allowed: <n>ms or <n>s "
        "(a bare number is ms)",
        "CLUSTER_ENABLED='perhaps': must be a boolean; allowed: true, false, 1, 0, yes, no",
        "test.yaml: cluster.health_addr='nowhere': must be host:port (IPv6 as [addr]:port), "
        "e.g. 0.0.0.0:7000",
    ]
