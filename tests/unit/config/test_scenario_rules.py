"""Scenarios: the rules for each step, the names that must be unique, JSONPath checks,
and which ${var} may be used where.
"""

from __future__ import annotations

from loadtest_supervisor.config.loading import load_settings
from tests.unit.config.loading import config, problems

# --- steps ---------------------------------------------------------------------------------------


def test_step_rules() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    weight: 0
    steps:
      - path: login
        method: post
        body: x
        json: {a: 1}
        assert: {status: [200, 99]}
        extract:
          a: {header: X-A, regex: "(x)"}
          b: {regex: "no group"}
          c: {regex: "("}
          bad-name: {header: X-B}
        think_time: 1y
  - name: s
    steps: []
  - name: t
    steps: [ping]
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].weight=0: must be an integer >= 1",
        "test.yaml: scenarios[0].steps[0].path='login': must be a string starting with '/', "
        "e.g. /login or /users/${user_id}",
        "test.yaml: scenarios[0].steps[0].json: body and json are mutually exclusive; set only one",
        "test.yaml: scenarios[0].steps[0].assert.status=[200, 99] (list): must be an HTTP status "
        "100..599 or a list of them",
        "test.yaml: scenarios[0].steps[0].extract.a: needs exactly one of json_path, header, regex",
        "test.yaml: scenarios[0].steps[0].extract.b.regex='no group': needs a capture group for "
        "the value, e.g. id=(\\d+)",
        "test.yaml: scenarios[0].steps[0].extract.c.regex='(': not a valid regular expression "
        "(missing ), unterminated subpattern at position 0)",
        "test.yaml: scenarios[0].steps[0].extract['bad-name']='bad-name': not a variable name; "
        "allowed: letters, digits and _, e.g. token",
        "test.yaml: scenarios[0].steps[0].think_time='1y': not a duration; allowed: seconds or "
        "<n>ms|s|m|h|d, e.g. 30s, 10m, 1h, 3d",
        "test.yaml: scenarios[1].steps=[] (list): must be a non-empty list of steps",
        "test.yaml: scenarios[2].steps[0]='ping': must be a mapping with keys: assert, body, "
        "extract, headers, json, method, name, path, query, think_time",
        "test.yaml: scenarios[1].name='s': must be unique; scenarios[0] has the same name",
    ]


def test_step_names_default_and_must_be_unique() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    steps:
      - {path: /a}
      - {path: /a, method: get}
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[1].name='GET /a': must be unique in scenario 's'; "
        "steps[0] has the same name (set name: to tell them apart)"
    ]


def test_full_scenario_parses() -> None:
    path = config(
        """
target: {url: "http://h/api"}
scenarios:
  - name: checkout
    weight: 2
    steps:
      - name: login
        method: post
        path: /login
        headers: {X-Client: "7"}
        query: {v: 2, debug: "true"}
        json: {user: bob, when: 2024-01-01, tags: [a]}
        assert: {status: 200, body_contains: ok, json_path: {"$.user.id": 7}}
        extract:
          token: {json_path: "$.token"}
          session: {header: Set-Cookie}
          order: {regex: "id=(\\\\d+)"}
        think_time: 250ms
      - path: /orders/${order}
        headers: {Authorization: "Bearer ${token}"}
"""
    )
    plan = load_settings(path, {}).plan
    assert plan is not None and plan.scenarios is not None
    [scenario] = plan.scenarios
    login, order = scenario.steps
    assert (scenario.name, scenario.weight) == ("checkout", 2)
    assert (login.name, login.method, login.path) == ("login", "POST", "/login")
    assert login.query == {"v": "2", "debug": "true"}
    assert login.json_body == {"user": "bob", "when": "2024-01-01", "tags": ["a"]}  # no date object
    assert login.assertions.status == (200,)
    assert login.assertions.json_path == {"$.user.id": 7}
    assert login.extract["token"].json_path == "$.token"
    assert login.extract["session"].header == "Set-Cookie"
    assert login.extract["order"].regex == "id=(\\d+)"
    assert login.think_time == 0.25
    assert order.name == "GET /orders/${order}"
    assert order.assertions.status is None and order.think_time == 0.0
    assert "Bearer" not in repr(order)


def test_bad_jsonpath() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    steps:
      - path: /a
        assert: {json_path: {"$.ok": true, "$.bad[": 1}}
        extract: {tok: {json_path: "$..["}}
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[0].assert.json_path['$.bad[']='$.bad[': not a valid "
        "JSONPath (Parse error near the end of string!); e.g. $.user.id or $.items[0].id",
        "test.yaml: scenarios[0].steps[0].extract.tok.json_path='$..[': not a valid JSONPath "
        "(Parse error near the end of string!); e.g. $.user.id or $.items[0].id",
    ]


# --- ${var} use ----------------------------------------------------------------------------------


def test_undefined_variable_names_scenario_step_and_var() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: checkout
    steps:
      - name: login
        path: /login/${user}
        extract: {token: {header: X-Token}}
      - path: /cart
        headers: {X-Trace: "${token}"}
        query: {id: "${cart_id}"}
        json: {items: ["${item}"]}
      - name: pay
        path: /pay
        extract: {cart_id: {regex: "id=(\\\\d+)"}}
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[0].path='/login/${user}': ${user} in step 'login' of "
        "scenario 'checkout' is not extracted by an earlier step; allowed: node_index, node_count, "
        "variables extracted by earlier steps (none yet)",
        "test.yaml: scenarios[0].steps[1].query={'id': '${cart_id}'} (mapping): ${cart_id} in "
        "step 'GET /cart' of scenario 'checkout' is not extracted by an earlier step "
        "(steps[2] extracts it, but runs later); allowed: node_index, node_count, variables "
        "extracted by earlier steps (token)",
        "test.yaml: scenarios[0].steps[1].json={'items': ['${item}']} (mapping): ${item} in step "
        "'GET /cart' of scenario 'checkout' is not extracted by an earlier step; allowed: "
        "node_index, node_count, variables extracted by earlier steps (token)",
    ]


def test_variable_used_by_the_step_that_extracts_it() -> None:
    path = config(
        """
target: {url: "http://h/"}
scenarios:
  - name: s
    steps:
      - path: /a/${id}
        extract: {id: {regex: "(\\\\d+)"}}
"""
    )
    [line] = problems(path)
    assert "(this step extracts it, so only later steps can use it)" in line


def test_placeholders_outside_scenario_steps() -> None:
    path = config(
        """
target: {url: "http://h/", headers: {X-T: "${token}"}}
request: {json: {a: "${b}"}}
scenarios: [{name: s, steps: [{path: /, query: {q: "${user-id}"}}]}]
"""
    )
    assert problems(path) == [
        "test.yaml: scenarios[0].steps[0].query={'q': '${user-id}'} (mapping): ${user-id} in "
        "step 'GET /' of scenario 's' is not a variable name; allowed: letters, digits and _, "
        "e.g. ${token}",
        "test.yaml: target.headers={'X-T': '${token}'} (mapping): ${token} cannot be used here; "
        "allowed: variables only in scenario steps",
        "test.yaml: request.json={'a': '${b}'} (mapping): ${b} cannot be used here; "
        "allowed: variables only in scenario steps",
    ]
