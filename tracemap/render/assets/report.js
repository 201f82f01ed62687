/* tracemap report: draws the component graph, incident views and execution timelines from the
   JSON the page embeds (#tm-data). Every value from the inputs reaches the page through
   textContent or setAttribute on SVG geometry, never through innerHTML, so names stay text. */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var DATA = JSON.parse(document.getElementById("tm-data").textContent);
  var COLOURS = DATA.colours || {};
  var BAD = {failed: 1, timed_out: 1};
  var uniq = 0;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function tip(node, text) { node.appendChild(sv("title", {}, text)); }
  function colour(system) { return COLOURS[system] || "#475569"; }
  function short(s, n) { s = String(s === null || s === undefined ? "" : s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) { return "\u2013"; }
    if (ms < 1000) { return ms.toFixed(ms < 10 ? 1 : 0) + " ms"; }
    if (ms < 120000) { return (ms / 1000).toFixed(2) + " s"; }
    return (ms / 60000).toFixed(1) + " min";
  }
  function table(headers, rows, cls) {
    var t = el("table", cls ? {"class": cls} : {});
    var tr = el("tr");
    headers.forEach(function (h) { tr.appendChild(el("th", {}, h)); });
    t.appendChild(el("thead")).appendChild(tr);
    var body = t.appendChild(el("tbody"));
    rows.forEach(function (r) {
      var row = body.appendChild(el("tr"));
      r.forEach(function (c) { row.appendChild(el("td", {}, c)); });
    });
    return t;
  }
  function arrowMarker(svg, fill) {
    var id = "tm-arrow-" + (uniq++);
    var m = sv("marker", {id: id, viewBox: "0 0 10 10", refX: "10", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse"});
    m.appendChild(sv("path", {d: "M0,0L10,5L0,10z", fill: fill}));
    var defs = svg.querySelector("defs") || svg.insertBefore(sv("defs"), svg.firstChild);
    defs.appendChild(m);
    return "url(#" + id + ")";
  }

  // ------------------------------------------------------------------ graphs (dagre layout)
  function drawGraph(box, nodes, edges, opts) {
    opts = opts || {};
    var g = new dagre.graphlib.Graph({multigraph: true});
    g.setGraph({rankdir: "LR", nodesep: 12, ranksep: 70, edgesep: 8, marginx: 12, marginy: 12});
    g.setDefaultEdgeLabel(function () { return {}; });
    nodes.forEach(function (n) {
      var label = short(n.label || n.id, 38);
      g.setNode(n.id, {width: Math.max(90, 26 + 6.4 * label.length), height: 30, label: label, data: n});
    });
    edges.forEach(function (e, i) {
      if (g.hasNode(e.source) && g.hasNode(e.target) && e.source !== e.target) {
        g.setEdge(e.source, e.target, {data: e}, "e" + i);
      }
    });
    dagre.layout(g);
    var w = Math.max(200, g.graph().width || 200), h = Math.max(60, g.graph().height || 60);
    var svg = sv("svg", {"class": "tm-graph", width: "100%",
      height: String(Math.min(opts.maxHeight || 620, h + 8)), "font-size": "11"});
    var normal = arrowMarker(svg, "#94a3b8"), hot = arrowMarker(svg, "#c2410c");
    var view = svg.appendChild(sv("g", {"class": "viewport"}));
    var nodeEls = {}, edgeEls = [];
    g.edges().forEach(function (ref) {
      var e = g.edge(ref), d = e.data;
      var pts = e.points || [];
      var path = "M" + pts.map(function (p) { return p.x.toFixed(1) + "," + p.y.toFixed(1); }).join("L");
      var cls = "edge" + (d.hidden ? " hidden-dep" : "");
      var p = view.appendChild(sv("path", {d: path, "class": cls, fill: "none",
        "marker-end": d.hidden ? hot : normal}));
      p.dataset.source = ref.v; p.dataset.target = ref.w;
      if (opts.labels && pts.length) {
        var mid = pts[Math.floor(pts.length / 2)];
        view.appendChild(sv("text", {x: mid.x.toFixed(1), y: (mid.y - 4).toFixed(1), "class": "edge-label",
          "text-anchor": "middle"}, (d.kind || "") + (d.count ? " \u00d7" + d.count : "")));
      }
      tip(p, ref.v + " \u2192 " + ref.w + ": " + (d.kind || "") + (d.count ? " \u00d7" + d.count : "") +
        (d.hidden ? " (hidden: no declaration explains it)" : ""));
      edgeEls.push(p);
    });
    g.nodes().forEach(function (id) {
      var n = g.node(id), d = n.data, x = n.x - n.width / 2, y = n.y - n.height / 2;
      var cls = "node" + (d.virtual ? " virtual" : "") + (d.failures ? " failing" : "") + (d.origin ? " origin" : "");
      var grp = view.appendChild(sv("g", {"class": cls, transform: "translate(" + x.toFixed(1) + "," + y.toFixed(1) + ")"}));
      grp.dataset.id = id;
      grp.appendChild(sv("rect", {"class": "box", width: n.width.toFixed(1), height: n.height, rx: 6}));
      grp.appendChild(sv("rect", {width: 6, height: n.height, rx: 3, fill: colour(d.system)}));
      grp.appendChild(sv("text", {x: 12, y: 19}, n.label));
      tip(grp, id + (d.count !== undefined ? ": " + d.count + " seen, " + (d.failures || 0) + " failed" : "") +
        (d.virtual ? " (virtual: named by its callers, sends no telemetry)" : ""));
      nodeEls[id] = grp;
    });
    svg.maxHeight = opts.maxHeight || 620;
    panZoom(svg, view, w, h);
    return {svg: svg, nodes: nodeEls, edges: edgeEls, layout: g};
  }

  function panZoom(svg, view, w, h) {
    var state = {k: 1, x: 0, y: 0}, drag = null;
    function apply() { view.setAttribute("transform", "translate(" + state.x + "," + state.y + ") scale(" + state.k + ")"); }
    svg.fit = function () {
      var bw = svg.clientWidth || 1000, bh = svg.clientHeight || 600;
      // readable labels first: below 0.6 the graph is panned rather than shrunk further
      state.k = Math.max(0.6, Math.min(1, bw / w));
      svg.setAttribute("height", String(Math.min(svg.maxHeight, h * state.k + 16)));
      bh = svg.clientHeight || bh;
      state.x = Math.max(0, (bw - w * state.k) / 2); state.y = Math.max(0, (bh - h * state.k) / 2); apply();
    };
    svg.centerOn = function (px, py) {
      var bw = svg.clientWidth || 1000, bh = svg.clientHeight || 600;
      state.k = Math.max(state.k, 0.8); state.x = bw / 2 - px * state.k; state.y = bh / 2 - py * state.k; apply();
    };
    svg.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var r = svg.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
      var k = Math.min(4, Math.max(0.1, state.k * (ev.deltaY < 0 ? 1.15 : 1 / 1.15)));
      state.x = mx - (mx - state.x) * k / state.k; state.y = my - (my - state.y) * k / state.k; state.k = k; apply();
    }, {passive: false});
    svg.addEventListener("pointerdown", function (ev) {
      if (ev.target.closest && ev.target.closest("g.node")) { return; }
      drag = {x: ev.clientX - state.x, y: ev.clientY - state.y};
    });
    svg.addEventListener("pointermove", function (ev) {
      if (drag) { state.x = ev.clientX - drag.x; state.y = ev.clientY - drag.y; apply(); }
    });
    ["pointerup", "pointerleave"].forEach(function (t) { svg.addEventListener(t, function () { drag = null; }); });
    requestAnimationFrame(function () { svg.fit(); });
  }

  function reach(edges, start, forward) {
    var adj = {};
    edges.forEach(function (e) {
      var a = forward ? e.source : e.target, b = forward ? e.target : e.source;
      (adj[a] = adj[a] || []).push({to: b, edge: e});
    });
    var out = {}, queue = [start];
    out[start] = {hops: 0, path: [start], count: null};
    while (queue.length) {
      var cur = queue.shift();
      (adj[cur] || []).forEach(function (step) {
        if (out[step.to] === undefined) {
          out[step.to] = {hops: out[cur].hops + 1, path: out[cur].path.concat([step.to]), count: step.edge.count};
          queue.push(step.to);
        }
      });
    }
    delete out[start];
    return out;
  }

  function componentGraph() {
    var box = document.getElementById("graph");
    if (!box) { return; }
    var gd = DATA.graph;
    if (!gd.nodes.length) { box.appendChild(el("p", {"class": "muted"}, "No components.")); return; }
    var drawn = drawGraph(box, gd.nodes, gd.edges, {maxHeight: 640});
    box.appendChild(drawn.svg);
    var panel = document.getElementById("graph-panel");
    var search = document.getElementById("graph-search");
    function clear() {
      Object.keys(drawn.nodes).forEach(function (id) { drawn.nodes[id].classList.remove("sel", "up", "down", "dim", "match"); });
      drawn.edges.forEach(function (p) { p.classList.remove("hl", "dim"); });
    }
    function select(id) {
      clear();
      var down = reach(gd.edges, id, true), up = reach(gd.edges, id, false);
      Object.keys(drawn.nodes).forEach(function (n) {
        var c = n === id ? "sel" : down[n] ? "down" : up[n] ? "up" : "dim";
        drawn.nodes[n].classList.add(c);
      });
      drawn.edges.forEach(function (p) {
        var s = p.dataset.source, t = p.dataset.target;
        var on = ((s === id || down[s]) && down[t]) || ((t === id || up[t]) && up[s]);
        p.classList.add(on ? "hl" : "dim");
      });
      panel.textContent = "";
      panel.appendChild(el("h3", {}, id));
      var rows = function (found) {
        return Object.keys(found).sort(function (a, b) { return found[a].hops - found[b].hops || (a < b ? -1 : 1); })
          .map(function (n) { return [found[n].hops, n, found[n].path.join(" \u2192 "), found[n].count === null ? "\u2013" : found[n].count]; });
      };
      var d = rows(down), u = rows(up);
      panel.appendChild(el("p", {"class": "muted"}, d.length + " components downstream (what a change to it reaches), " + u.length + " upstream. From the observed edges drawn above."));
      if (d.length) { panel.appendChild(el("h4", {}, "Downstream (impact)")); panel.appendChild(table(["hops", "component", "path", "last hop volume"], d)); }
      if (u.length) { panel.appendChild(el("h4", {}, "Upstream")); panel.appendChild(table(["hops", "component", "path", "last hop volume"], u)); }
    }
    Object.keys(drawn.nodes).forEach(function (id) {
      drawn.nodes[id].addEventListener("click", function () { select(id); });
    });
    search.addEventListener("input", function () {
      clear();
      var q = search.value.trim().toLowerCase();
      if (!q) { return; }
      var first = null;
      Object.keys(drawn.nodes).forEach(function (id) {
        if (id.toLowerCase().indexOf(q) >= 0) { drawn.nodes[id].classList.add("match"); first = first || id; }
        else { drawn.nodes[id].classList.add("dim"); }
      });
      if (first) { var n = drawn.layout.node(first); drawn.svg.centerOn(n.x, n.y); }
    });
    search.addEventListener("keydown", function (ev) {
      if (ev.key !== "Enter") { return; }
      var hit = drawn.svg.querySelector("g.node.match");
      if (hit) { select(hit.dataset.id); }
    });
    document.getElementById("graph-reset").addEventListener("click", function () {
      clear(); search.value = ""; panel.textContent = ""; drawn.svg.fit();
    });
  }

  // ------------------------------------------------------------------ incident views
  function incidents() {
    var box = document.getElementById("incidents");
    if (!box) { return; }
    (DATA.incidents || []).forEach(function (inc) {
      var card = box.appendChild(el("div", {"class": "incident"}));
      var h = card.appendChild(el("h3", {}, "#" + inc.rank + " " + inc.component));
      h.appendChild(el("span", {"class": "muted"}, "  score " + inc.score));
      if (inc.timeline !== null && inc.timeline !== undefined) {
        card.appendChild(el("a", {href: "#tl-" + inc.timeline, "class": "tl-link"}, "Open the timeline of a failed execution"));
      }
      var nodes = {}, edges = [];
      nodes[inc.component] = {id: inc.component, system: inc.component.split(":")[0], origin: true, failures: 1};
      inc.propagation.forEach(function (p) {
        [p.from, p.to].forEach(function (c) { nodes[c] = nodes[c] || {id: c, system: String(c).split(":")[0], failures: 1}; });
        edges.push({source: p.from, target: p.to, kind: p.via, count: p.count});
      });
      var row = card.appendChild(el("div", {"class": "incident-row"}));
      var gbox = row.appendChild(el("div", {"class": "incident-graph"}));
      gbox.appendChild(el("h4", {}, "Propagation: origin \u2192 affected"));
      if (edges.length) { gbox.appendChild(drawGraph(gbox, Object.values(nodes), edges, {maxHeight: 320, labels: true}).svg); }
      else { gbox.appendChild(el("p", {"class": "muted"}, "No failure was handed on from it.")); }
      var tbox = row.appendChild(el("div", {"class": "incident-evidence"}));
      if (inc.explanation) { tbox.appendChild(el("p", {}, inc.explanation)); }
      tbox.appendChild(el("h4", {}, "Evidence"));
      tbox.appendChild(table(["evidence"], inc.evidence.map(function (e) { return [e]; })));
      if (inc.explains.length) { tbox.appendChild(el("p", {"class": "muted"}, "Explains: " + inc.explains.join(", "))); }
      if (inc.attributes.length) {
        tbox.appendChild(el("h4", {}, "Discriminating attributes"));
        tbox.appendChild(table(["attribute", "value", "failed executions", "healthy executions"],
          inc.attributes.map(function (a) { return [a.name, a.value, Math.round(a.failed_share * 100) + "%", Math.round(a.healthy_share * 100) + "%"]; }), "side"));
      }
      if (edges.length) {
        tbox.appendChild(el("h4", {}, "Propagation edges"));
        tbox.appendChild(table(["from", "to", "via", "count"], inc.propagation.map(function (p) { return [p.from, p.to, p.via, p.count]; })));
      }
    });
  }

  // ------------------------------------------------------------------ timelines
  function drawTimeline(box, tl) {
    box.textContent = "";
    var s = tl.summary;
    box.appendChild(el("h3", {}, "Execution " + tl.execution));
    box.appendChild(el("p", {"class": "muted"}, (s.entities || 0) + " entities across " + (s.systems || []).join(", ") +
      "; status " + s.status + "; " + (s.started_at || "?") + " \u2192 " + (s.ended_at || "?") +
      ". Thick outline: critical path. Red: failed. \u21bb: retried. Arrows: message hops and calls. Click a bar for its evidence."));
    (tl.notes || []).forEach(function (n) { box.appendChild(el("p", {"class": "note"}, n)); });
    var W = Math.max(900, box.clientWidth || 1100), L = 330, CW = W - L - 70, RH = 20, LH = 24, TOP = 26;
    var total = 1;
    tl.bars.forEach(function (b) { if (b.offset_ms !== null) { total = Math.max(total, b.offset_ms + (b.duration_ms || 0)); } });
    var X = function (ms) { return L + Math.max(0, ms || 0) / total * CW; };
    var y = TOP, pos = {}, lane = null, items = [];
    tl.bars.forEach(function (b) {
      if (b.lane !== lane) { lane = b.lane; items.push({lane: lane, y: y}); y += LH; }
      pos[b.uid] = {y: y + RH / 2, bar: b}; items.push({bar: b, y: y}); y += RH;
    });
    var svg = sv("svg", {"class": "tm-timeline", width: String(W), height: String(y + 10), "font-size": "11"});
    var normal = arrowMarker(svg, "#64748b"), crit = arrowMarker(svg, "#111827");
    for (var i = 0; i <= 4; i++) {
      var tx = X(total * i / 4);
      svg.appendChild(sv("line", {x1: tx, x2: tx, y1: TOP - 6, y2: y, "class": "tick"}));
      svg.appendChild(sv("text", {x: tx, y: 14, "text-anchor": i === 4 ? "end" : "middle", "class": "muted"}, fmtMs(total * i / 4)));
    }
    var onPath = {};
    for (var k = 0; k + 1 < tl.critical_path.length; k++) { onPath[tl.critical_path[k] + "\u0000" + tl.critical_path[k + 1]] = true; }
    var arrows = svg.appendChild(sv("g", {"class": "arrows"}));
    var detail = el("div", {"class": "tl-detail"});
    items.forEach(function (it) {
      if (it.lane !== undefined) {
        svg.appendChild(sv("rect", {x: 0, y: it.y + 2, width: W, height: LH - 4, "class": "lane"}));
        svg.appendChild(sv("text", {x: 6, y: it.y + 16, "class": "lane-name", fill: colour(it.lane)}, it.lane));
        return;
      }
      var b = it.bar, g = svg.appendChild(sv("g", {"class": "row" + (b.critical ? " crit" : "") + (BAD[b.status] ? " bad" : "")}));
      g.dataset.uid = b.uid;
      // the whole row answers a click, not only the thin bar or the label's glyphs
      g.appendChild(sv("rect", {x: 0, y: it.y, width: W, height: RH, "class": "hit", fill: "transparent"}));
      var leaf = String(b.component || b.uid).split(":").pop();
      // a bare event or state number says little on its own: lead with what it belongs to
      var label = b.name && !/^\d+$/.test(String(b.name)) ? b.name : leaf + (b.name ? " #" + b.name : "");
      g.appendChild(sv("text", {x: 10 + 12 * b.depth, y: it.y + 14, "class": "label"}, short(label, Math.max(12, 44 - 2 * b.depth))));
      var x = X(b.offset_ms), shape;
      if (b.offset_ms === null) {
        shape = sv("text", {x: L, y: it.y + 14, "class": "muted"}, "no time recorded");
      } else if (b.kind === "message" || !b.duration_ms) {
        shape = sv("path", {d: "M" + x + "," + (it.y + 3) + "l6,7l-6,7l-6,-7z", "class": "bar msg", fill: colour(b.lane)});
      } else {
        shape = sv("rect", {x: x, y: it.y + 3, width: Math.max(2, X(b.offset_ms + b.duration_ms) - x), height: RH - 6, rx: 2, "class": "bar", fill: colour(b.lane)});
      }
      g.appendChild(shape);
      var end = X((b.offset_ms || 0) + (b.duration_ms || 0)) + 8;
      var marks = (BAD[b.status] ? "\u2715 " : "") + ((b.attempt && b.attempt > 1) || b.status === "retried" ? "\u21bb" + (b.attempt || "") + " " : "");
      g.appendChild(sv("text", {x: end, y: it.y + 14, "class": "marks"}, marks + fmtMs(b.duration_ms)));
      tip(g, (b.component || "") + "\n" + (b.name || "") + "\nstatus " + b.status + (b.attempt ? ", attempt " + b.attempt : "") +
        "\nstart +" + fmtMs(b.offset_ms) + ", took " + fmtMs(b.duration_ms) + (b.error ? "\nerror: " + b.error : ""));
      g.addEventListener("click", function () { showBar(detail, tl, b); svg.querySelectorAll("g.row.sel").forEach(function (r) { r.classList.remove("sel"); }); g.classList.add("sel"); });
    });
    tl.arrows.forEach(function (a) {
      var p = pos[a.src], q = pos[a.dst];
      if (!p || !q || tl.arrow_kinds.indexOf(a.kind) < 0 || p.bar.offset_ms === null || q.bar.offset_ms === null) { return; }
      var sEnd = p.bar.offset_ms + (p.bar.duration_ms || 0);
      var x1 = X(Math.max(p.bar.offset_ms, Math.min(sEnd, q.bar.offset_ms))), x2 = X(q.bar.offset_ms);
      var isCrit = onPath[a.src + "\u0000" + a.dst];
      var mid = (p.y + q.y) / 2;
      var path = arrows.appendChild(sv("path", {d: "M" + x1 + "," + p.y + " C" + x1 + "," + mid + " " + x2 + "," + mid + " " + x2 + "," + q.y,
        "class": "hop" + (isCrit ? " crit" : ""), fill: "none", "marker-end": isCrit ? crit : normal}));
      tip(path, a.kind + " (" + (a.rule || "") + ", confidence " + a.confidence + ")" + (a.latency_ms !== null && a.latency_ms !== undefined ? ", " + fmtMs(a.latency_ms) : ""));
    });
    box.appendChild(el("div", {"class": "tl-scroll"})).appendChild(svg);
    box.appendChild(detail);
  }

  function showBar(box, tl, b) {
    box.textContent = "";
    box.appendChild(el("h4", {}, b.component || b.uid));
    box.appendChild(table(["field", "value"], [["uid", b.uid], ["name", b.name], ["kind", b.kind], ["status", b.status],
      ["attempt", b.attempt], ["started", b.started_at], ["ended", b.ended_at], ["duration", fmtMs(b.duration_ms)],
      ["on critical path", b.critical ? "yes" : "no"], ["also seen as", (b.folded || []).join(", ")],
      ["error", b.error]].filter(function (r) { return r[1] !== null && r[1] !== undefined && r[1] !== ""; })));
    var rel = tl.arrows.filter(function (a) { return a.src === b.uid || a.dst === b.uid; });
    if (rel.length) {
      box.appendChild(el("h4", {}, "Edges and their evidence"));
      box.appendChild(table(["from", "to", "kind", "rule", "confidence", "evidence"], rel.map(function (a) {
        return [a.src, a.dst, a.kind, a.rule, a.confidence, a.evidence === null || a.evidence === undefined ? "" : JSON.stringify(a.evidence)];
      })));
    }
  }

  function timelines() {
    var box = document.getElementById("timeline");
    if (!box) { return; }
    var list = document.getElementById("timeline-list");
    var tls = DATA.timelines || [];
    if (!tls.length) { box.appendChild(el("p", {"class": "muted"}, "No execution to show.")); return; }
    if (list && tls.length > 1) {
      var ul = list.appendChild(el("ul"));
      tls.forEach(function (t, i) {
        var li = ul.appendChild(el("li"));
        li.appendChild(el("a", {href: "#tl-" + i}, t.reason));
        li.appendChild(el("span", {"class": "muted"}, " \u2014 execution " + t.data.execution));
      });
    }
    function show() {
      var m = /^#tl-(\d+)$/.exec(location.hash);
      var i = m ? Number(m[1]) : 0;
      if (i >= tls.length) { i = 0; }
      drawTimeline(box, tls[i].data);
      if (m) { box.scrollIntoView(); }
    }
    window.addEventListener("hashchange", show);
    show();
  }

  componentGraph();
  incidents();
  timelines();
  document.body.dataset.ready = "yes";
})();
