// The live dashboard (supervisor/live/dashboard.py): reads /dashboard/state every
// second and draws what it says. Charts are inline SVG drawn here; no library.
"use strict";

(function () {
  const POLL_MS = 1000;
  // While a cluster node cannot reach its leader, a new one is being elected: look more
  // often, so that the page shows it within a fraction of a second.
  const POLL_UNSETTLED_MS = 250;
  const KEEP_POINTS = 3600; // an hour of seconds; older points scroll off
  const RECENT_ERRORS = 10;
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  // What has been drawn for the current run: reset when another run begins.
  let run = null;

  function newRun(key) {
    return {
      key: key,
      points: [],        // {t, rps, errors, p50, p90, p99, max, inFlight, nodeRps}
      events: [],        // {t, kind, node}
      recent: [],        // {time, errors: {kind: n}}, newest first
      fromTimeline: false,
      timelineAfter: null,
      interval: 1,
      previous: null,    // the last results seen, for rates between two polls
      leaderId: undefined,
    };
  }

  // --- small helpers ---

  function $(id) { return document.getElementById(id); }

  function setText(id, text) {
    const element = $(id);
    if (element.textContent !== text) element.textContent = text;
  }

  function count(n) { return n == null ? "–" : Math.round(n).toLocaleString("en-US"); }

  function rate(n) {
    if (n == null) return "–";
    return n >= 100 ? count(n) : n.toLocaleString("en-US", { maximumFractionDigits: 1 });
  }

  function ms(n) {
    if (n == null) return "–";
    return n.toLocaleString("en-US", { maximumFractionDigits: n >= 100 ? 0 : 2 }) + " ms";
  }

  function percent(fraction) {
    return fraction == null ? "–" : (100 * fraction).toFixed(fraction < 0.01 ? 2 : 1) + " %";
  }

  function clock(date) { return date.toISOString().slice(11, 19); }

  function errorText(errors) {
    return Object.keys(errors).filter((k) => errors[k] > 0)
      .map((k) => k + " " + count(errors[k])).join(", ");
  }

  function row(cells, attributes) {
    const tr = document.createElement("tr");
    for (const [name, value] of Object.entries(attributes || {})) tr.setAttribute(name, value);
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
      tr.appendChild(td);
    }
    return tr;
  }

  function fillBody(table, rows) {
    const body = $(table).tBodies[0];
    body.replaceChildren(...rows);
  }

  // --- the poll ---

  async function poll() {
    const started = Date.now();
    let every = POLL_MS;
    try {
      // The last point again too: the leader may have merged more into it since.
      const after = run && run.fromTimeline && run.timelineAfter != null
        ? "?after=" + encodeURIComponent(run.timelineAfter - run.interval) : "";
      const response = await fetch("/dashboard/state" + after, { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const state = await response.json();
      render(state);
      if (state.cluster.served_from !== "leader" && state.cluster.nodes.length > 1) {
        every = POLL_UNSETTLED_MS;
      }
      setText("status", "updated " + clock(new Date()));
      $("status").classList.remove("problem");
    } catch (error) {
      setText("status", "this node does not answer (" + error.message + "); retrying");
      $("status").classList.add("problem");
    }
    setTimeout(poll, Math.max(0, every - (Date.now() - started)));
  }

  function render(state) {
    const cluster = state.cluster;
    const results = state.results;
    const key = runKey(cluster, results);
    if (run === null || run.key !== key) run = newRun(key);
    if (results) collect(results, cluster);
    renderCluster(cluster, results);
    renderRun(cluster, results);
    renderStop(state.api_writes, cluster);
    renderNumbers(results);
    renderCharts();
    renderErrors(results);
  }

  function runKey(cluster, results) {
    if (results && results.run) return results.run.run_id;
    if (cluster.run) return String(cluster.run.run_id || cluster.run.start_at);
    return "none";
  }

  // --- turning documents into points ---

  function collect(results, cluster) {
    const timeline = results.timeline;
    if (timeline && Array.isArray(timeline.points)) {
      run.fromTimeline = true;
      collectTimeline(timeline);
    } else {
      collectTotals(results, cluster);
    }
    const leaderId = cluster.leader_id;
    if (!run.fromTimeline && run.leaderId !== undefined && leaderId !== run.leaderId) {
      // No timeline to say when the leader changed: mark when this page saw it.
      run.events.push({ t: elapsed(results), kind: "leader_changed", node: leaderId || "none" });
    }
    run.leaderId = leaderId;
  }

  function collectTimeline(timeline) {
    const interval = timeline.interval_s || 1;
    run.interval = interval;
    const byT = new Map(run.points.map((p) => [p.t, p]));
    for (const point of timeline.points) {
      const latency = point.latency_ms || {};
      byT.set(point.t, {
        t: point.t,
        rps: point.rps,
        errors: (point.errors_total || 0) / interval,
        errorKinds: point.errors || {},
        time: point.time,
        p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max,
        inFlight: point.in_flight,
        nodeRps: point.node_rps || null,
      });
      run.timelineAfter = Math.max(run.timelineAfter == null ? -Infinity : run.timelineAfter,
        point.t);
    }
    run.points = [...byT.values()].sort((a, b) => a.t - b.t).slice(-KEEP_POINTS);
    run.events = (timeline.events || []).map((e) => ({ t: e.t, kind: e.kind, node: e.node }));
    run.recent = run.points.filter((p) => p.errors > 0).slice(-RECENT_ERRORS).reverse()
      .map((p) => ({ time: p.time ? new Date(p.time) : null, t: p.t, errors: p.errorKinds }));
  }

  function elapsed(results) {
    return results.run ? results.run.elapsed_s : results.duration_s;
  }

  // Without a timeline: rates from two successive documents' totals.
  function collectTotals(results, cluster) {
    let previous = run.previous;
    const t = elapsed(results);
    if (previous !== null && results.requests_total < previous.requests) {
      // A new leader began from the last checkpoint: count from here, never negative.
      previous = null;
    }
    if (previous !== null && t > previous.t) {
      const dt = t - previous.t;
      const rps = (results.requests_total - previous.requests) / dt;
      // A standalone node is its own cluster of one.
      const nodeRps = results.nodes ? {} : { [cluster.node_id]: rps };
      for (const [node, entry] of Object.entries(results.nodes || {})) {
        const before = previous.nodes[node];
        if (before !== undefined && entry.requests_total >= before) {
          nodeRps[node] = (entry.requests_total - before) / dt;
        }
      }
      const latency = results.latency_ms || {};
      run.points.push({
        t: t,
        rps: rps,
        errors: (results.errors_total - previous.errors) / dt,
        p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max,
        inFlight: null,
        nodeRps: nodeRps,
      });
      if (run.points.length > KEEP_POINTS) run.points.shift();
      const fresh = {};
      for (const [kind, n] of Object.entries(results.errors || {})) {
        const more = n - (previous.errorKinds[kind] || 0);
        if (more > 0) fresh[kind] = more;
      }
      if (Object.keys(fresh).length) {
        run.recent.unshift({ time: new Date(), t: t, errors: fresh });
        run.recent.length = Math.min(run.recent.length, RECENT_ERRORS);
      }
    }
    if (previous === null || t > previous.t) {
      const nodes = {};
      for (const [node, entry] of Object.entries(results.nodes || {})) {
        nodes[node] = entry.requests_total;
      }
      run.previous = {
        t: t, requests: results.requests_total, errors: results.errors_total,
        errorKinds: { ...(results.errors || {}) }, nodes: nodes,
      };
    }
  }

  // --- the sections ---

  function renderCluster(cluster, results) {
    setText("leader", cluster.leader_id || (cluster.nodes.length === 1 &&
      cluster.nodes[0].state === "standalone" ? "standalone" : "none"));
    setText("term", String(cluster.term));
    setText("served-by", "node " + cluster.node_id);
    const source = cluster.served_from === "leader"
      ? "as the leader sees it"
      : "as this node sees it" + (cluster.nodes.length > 1 ? " (the leader does not answer)" : "");
    setText("view-source", source);
    const perNode = (results && results.nodes) || {};
    const latest = run.points.length ? run.points[run.points.length - 1] : null;
    const rows = cluster.nodes.map((node) => {
      const entry = perNode[node.node_id] || {};
      const nowRps = latest && latest.nodeRps ? latest.nodeRps[node.node_id] : undefined;
      const name = (node.node_id || "?") + (node.node_id === cluster.leader_id ? " ★" : "");
      return row([
        name,
        node.address || "–",
        node.state,
        node.term == null ? "–" : String(node.term),
        node.share == null ? "–" : percent(node.share),
        node.workers == null ? "–" : String(node.workers),
        count(entry.requests_total != null ? entry.requests_total
          : node.state === "standalone" && results ? results.requests_total : null),
        rate(nowRps !== undefined ? nowRps : entry.rps),
      ], { "data-node-id": node.node_id || "", "data-state": node.state,
        class: "state-" + node.state });
    });
    fillBody("nodes", rows);
  }

  function renderRun(cluster, results) {
    const config = cluster.config || {};
    setText("plan-source", config.source || "no plan committed yet");
    setText("plan-sha", config.sha256 ? config.sha256.slice(0, 12) : "–");
    $("plan-sha").title = config.sha256 || "";
    const problem = $("config-error");
    problem.hidden = !cluster.config_error;
    problem.textContent = cluster.config_error ? "plan refused: " + cluster.config_error : "";
    const record = cluster.run;
    if (!record) {
      setText("run-id", "–");
      setText("run-state", "no run yet");
      return;
    }
    setText("run-id", record.run_id ? record.run_id.slice(0, 12) : "");
    setText("run-state", record.state);
    const planned = Math.max(record.end_at - record.start_at, 1e-9);
    const done = results ? elapsed(results) : 0;
    const fraction = record.state === "finished" ? 1 : Math.min(1, Math.max(0, done / planned));
    $("run-progress").value = fraction;
    setText("run-elapsed", Math.round(done) + " s of " + Math.round(planned) + " s");
  }

  function renderStop(apiWrites, cluster) {
    if (!apiWrites) return;
    if ($("stop-form") === null) {
      $("stop-place").appendChild($("stop-template").content.cloneNode(true));
      $("stop-form").addEventListener("submit", stopRun);
    }
    $("stop-button").disabled = !cluster.run || cluster.run.state !== "running";
  }

  function renderNumbers(results) {
    setText("results-source", results && results.served_from
      ? "(" + (results.served_from === "leader" ? "merged by the leader" : "from the log") + ")"
      : "");
    if (!results) return;
    const latency = results.latency_ms || {};
    const latest = run.points.length ? run.points[run.points.length - 1] : null;
    setText("requests-total", count(results.requests_total));
    setText("rps-now", latest ? rate(latest.rps) : "–");
    setText("rps-mean", rate(results.rps));
    setText("errors-total", count(results.errors_total));
    setText("error-rate", percent(results.error_rate));
    setText("p50", ms(latency.p50));
    setText("p99", ms(latency.p99));
    setText("max", ms(latency.max));
    setText("in-flight", latest && latest.inFlight != null ? count(latest.inFlight) : "–");
    setText("latency-note", run.fromTimeline ? "each second" : "since the run began");
  }

  function renderCharts() {
    const points = run.points;
    lineChart($("chart-throughput"), [
      { name: "req/s", values: points.map((p) => [p.t, p.rps]) },
      { name: "errors/s", values: points.map((p) => [p.t, p.errors]) },
    ]);
    lineChart($("chart-latency"), ["p50", "p90", "p99", "max"].map((name) => (
      { name: name, values: points.filter((p) => p[name] != null).map((p) => [p.t, p[name]]) }
    )));
    const nodes = new Set();
    for (const point of points) for (const node of Object.keys(point.nodeRps || {})) nodes.add(node);
    lineChart($("chart-nodes"), [...nodes].sort().map((node) => ({
      name: node,
      values: points.filter((p) => p.nodeRps && p.nodeRps[node] != null)
        .map((p) => [p.t, p.nodeRps[node]]),
    })));
  }

  function renderErrors(results) {
    const errors = (results && results.errors) || {};
    const kinds = Object.keys(errors).filter((k) => errors[k] > 0);
    fillBody("error-kinds", kinds.length
      ? kinds.map((k) => row([k, count(errors[k])], { "data-kind": k }))
      : [row(["none", "0"])]);
    fillBody("recent-errors", run.recent.length
      ? run.recent.map((e) => row([
        (e.time ? clock(e.time) : "") + (e.t != null ? " (" + Math.round(e.t) + " s)" : ""),
        errorText(e.errors),
      ]))
      : [row(["–", "no errors"])]);
    const failures = $("failures");
    failures.replaceChildren(...((results && results.failures) || []).map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
  }

  // --- the stop button ---

  // A 503 means no leader with quorum right now (an election, a leader that just
  // died): worth retrying for a while, as a person pressing the button again would.
  const STOP_RETRY_FOR_MS = 10000;
  const STOP_RETRY_EVERY_MS = 500;

  async function stopRun(event) {
    event.preventDefault();
    const token = $("stop-token").value;
    const giveUpAt = Date.now() + STOP_RETRY_FOR_MS;
    setText("stop-message", "stopping…");
    for (;;) {
      let response, answer;
      try {
        response = await fetch("/runs/current", {
          method: "DELETE",
          headers: { Authorization: "Bearer " + token },
          cache: "no-store",
        });
        answer = await response.json();
      } catch (error) {
        setText("stop-message", "not stopped: " + error.message);
        return;
      }
      if (response.ok) {
        setText("stop-message", "stopped run " + (answer.run_id || ""));
        return;
      }
      const why = answer.error || "HTTP " + response.status;
      if (response.status !== 503 || Date.now() >= giveUpAt) {
        setText("stop-message", "not stopped: " + why);
        return;
      }
      setText("stop-message", "stopping… (retrying: " + why + ")");
      await new Promise((resolve) => setTimeout(resolve, STOP_RETRY_EVERY_MS));
    }
  }

  // --- charts: inline SVG ---

  const WIDTH = 640;
  const HEIGHT = 200;
  const PAD = { left: 56, right: 12, top: 12, bottom: 40 };

  function svg(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * magnitude >= value) return step * magnitude;
    }
    return 10 * magnitude;
  }

  function label(value) {
    if (value >= 1e6) return (value / 1e6).toFixed(1) + "M";
    if (value >= 1e4) return (value / 1e3).toFixed(0) + "k";
    return String(Math.round(value * 100) / 100);
  }

  function lineChart(element, series) {
    const all = series.flatMap((s) => s.values);
    const children = [];
    const plotW = WIDTH - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    if (all.length === 0) {
      children.push(svg("text", { x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle",
        class: "empty" }, "waiting for data"));
      element.replaceChildren(...children);
      element.setAttribute("data-points", "0");
      return;
    }
    let t0 = Math.min(...all.map((v) => v[0]));
    let t1 = Math.max(...all.map((v) => v[0]));
    if (t1 - t0 < 10) t1 = t0 + 10;
    const top = niceMax(Math.max(...all.map((v) => v[1])));
    const x = (t) => PAD.left + (plotW * (t - t0)) / (t1 - t0);
    const y = (v) => PAD.top + plotH - (plotH * v) / top;
    for (let i = 0; i <= 4; i++) {
      const value = (top * i) / 4;
      children.push(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value),
        y2: y(value), class: "grid" }));
      children.push(svg("text", { x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end",
        class: "tick" }, label(value)));
    }
    for (const t of [t0, (t0 + t1) / 2, t1]) {
      children.push(svg("text", { x: x(t), y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle",
        class: "tick" }, Math.round(t) + " s"));
    }
    for (const event of run.events) {
      if (event.t < t0 || event.t > t1) continue;
      const marker = svg("line", { x1: x(event.t), x2: x(event.t), y1: PAD.top,
        y2: PAD.top + plotH, class: "event event-" + event.kind });
      marker.appendChild(svg("title", {}, event.kind + " " + (event.node || "")));
      children.push(marker);
    }
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      if (s.values.length) {
        const points = s.values.map((v) => x(v[0]).toFixed(1) + "," + y(v[1]).toFixed(1));
        children.push(svg("polyline", { points: points.join(" "), fill: "none", stroke: color,
          "stroke-width": 1.5, "data-series": s.name }));
      }
      const lx = PAD.left + i * 110;
      children.push(svg("rect", { x: lx, y: HEIGHT - 14, width: 10, height: 10, fill: color }));
      children.push(svg("text", { x: lx + 14, y: HEIGHT - 5, class: "legend" }, s.name));
    });
    element.replaceChildren(...children);
    element.setAttribute("data-points", String(all.length));
  }

  document.addEventListener("DOMContentLoaded", poll);
})();
