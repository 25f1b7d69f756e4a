import BuildInfo

/// The admin endpoint's `/dashboard`: one self-contained page (no CDN, no external assets). It polls
/// `/dashboard/topology`, `/slo` and `/metrics` every two seconds and draws the Gateways, their
/// listeners, the routes attached to them and the backends they split traffic between (with weights
/// and status conditions), live request rate, error rate and p50/p95/p99 per route, computed from the
/// difference between two scrapes, and each ServiceLevelObjective's budget. The header names the build
/// (version and commit), written into the page once, since it cannot change while the process runs.
enum DashboardPage {
    static let bytes = Array(html.utf8)

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>archway</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
  header { background: #1d2430; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .live { font-size: 12px; opacity: 0.8; }
  header .build { font-size: 12px; opacity: 0.6; font-variant-numeric: tabular-nums; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 12px 16px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f3; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; color: #5b6576; }
  .ok { color: #1a7f37; } .bad { color: #cf222e; }
  .bar { height: 10px; background: #eef0f3; border-radius: 5px; overflow: hidden; width: 200px; display: inline-block; vertical-align: middle; }
  .bar span { display: block; height: 100%; background: #1a7f37; }
  .bar span.low { background: #cf222e; }
  svg text { font: 12px system-ui, sans-serif; }
  .muted { color: #5b6576; font-size: 12px; }
  #explain form { display: flex; gap: 8px; flex-wrap: wrap; align-items: flex-start; }
  #explain input[name=url] { flex: 1; min-width: 320px; }
  #explain textarea { min-width: 260px; height: 2.6em; }
  #explain pre { background: #f6f7f9; padding: 8px; overflow-x: auto; margin: 10px 0 0; }
</style>
</head>
<body>
<header><h1>archway</h1><span class="build" id="build" title="\#(BuildInfo.current.line)">\#(BuildInfo.current.version) · commit \#(BuildInfo.current.commit)</span><span class="live" id="live">connecting…</span></header>
<main>
  <section><h2>Topology</h2><div id="graph" class="muted">loading…</div></section>
  <section id="explain"><h2>Try a request</h2>
    <form>
      <select name="method"><option>GET</option><option>POST</option><option>PUT</option><option>DELETE</option><option>PATCH</option><option>HEAD</option><option>OPTIONS</option></select>
      <input name="url" value="http://example.com/" aria-label="URL (the port is the listener port)">
      <textarea name="headers" placeholder="X-Canary: true (one header per line)" aria-label="headers"></textarea>
      <button type="submit">Explain</button>
    </form>
    <div class="muted">Where the live table sends it and why, as <code>archway explain --admin</code> prints it; nothing is sent.</div>
    <pre id="explain-out" hidden></pre>
  </section>
  <section id="announcements" hidden><h2>Layer-2 announcement</h2><table><thead><tr><th>address</th><th>announced by</th><th>here</th><th>interface</th><th>problem</th></tr></thead><tbody></tbody></table></section>
  <section id="rollouts" hidden><h2>Rollouts</h2><table><thead><tr><th>rollout</th><th>route</th><th>phase</th><th>step</th><th>canary</th><th>why</th></tr></thead><tbody></tbody></table></section>
  <section id="certificates" hidden><h2>Certificates (ACME)</h2><table><thead><tr><th>secret</th><th>names</th><th>issuer</th><th>state</th><th>expires</th><th>renews</th><th>note</th></tr></thead><tbody></tbody></table></section>
  <section id="pools" hidden><h2>Address pools</h2><table><thead><tr><th>pool</th><th>state</th><th>used</th><th>free</th><th>of</th><th>held by</th></tr></thead><tbody></tbody></table></section>
  <section id="policy-problems" hidden><h2>Policies not in force</h2><table><thead><tr><th>policy</th><th>reason</th><th>what is wrong</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Routes</h2>
    <table id="routes"><thead><tr><th>route</th><th>parents</th><th>status</th><th>policies</th><th>req/s</th><th>errors</th><th>p50</th><th>p95</th><th>p99</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Service level objectives</h2><div id="slos" class="muted">none configured</div></section>
</main>
<script>
"use strict";
// Scrapes of the last ten seconds (by the server's clock): rates are taken against the oldest, so
// they are steady for people and still right when the browser polls faster than time passes.
let history = [];

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const pair of m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

// Per route ("namespace/name"): total requests, 5xx, and the latency histogram's cumulative buckets.
function perRoute(samples) {
  const routes = {};
  const get = key => routes[key] || (routes[key] = { total: 0, errors: 0, buckets: {} });
  for (const s of samples) {
    const key = s.labels.namespace + "/" + s.labels.route_name;
    if (s.name === "gateway_http_requests_total") {
      get(key).total += s.value;
      if (s.labels.status && s.labels.status[0] === "5") get(key).errors += s.value;
    } else if (s.name === "gateway_http_request_duration_seconds_bucket") {
      const b = get(key).buckets;
      b[s.labels.le] = (b[s.labels.le] || 0) + s.value;
    }
  }
  return routes;
}

// Prometheus' histogram_quantile on bucket differences: linear inside the bucket that holds rank q.
function quantile(q, now, before) {
  const bounds = Object.keys(now).map(le => [le === "+Inf" ? Infinity : Number(le), le]).sort((a, b) => a[0] - b[0]);
  const counts = bounds.map(([, le]) => now[le] - ((before && before[le]) || 0));
  const total = counts[counts.length - 1];
  if (!total) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      const upper = bounds[i][0], lower = i ? bounds[i - 1][0] : 0, below = i ? counts[i - 1] : 0;
      if (upper === Infinity) return lower;
      return lower + (upper - lower) * (rank - below) / Math.max(counts[i] - below, 1e-9);
    }
  }
  return null;
}

const ms = s => s === null ? "–" : (s * 1000 < 10 ? (s * 1000).toFixed(2) : (s * 1000).toFixed(0)) + " ms";
const healthy = conditions => conditions.every(c => c.status === "True" || c.type === "PartiallyInvalid" && c.status === "False" || c.type === "Conflicted" && c.status === "False");
const badge = conditions => conditions.length === 0 ? "" : conditions.map(c =>
  `<span class="${(c.status === "True") === !["Conflicted", "PartiallyInvalid"].includes(c.type) ? "ok" : "bad"}" title="${c.reason}">${c.type}=${c.status}</span>`).join(" ");
const esc = s => String(s).replace(/[&<>"]/g, ch => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);

function drawGraph(topology) {
  const gateways = topology.gateways, routes = topology.routes;
  const backends = [...new Set(routes.flatMap(r => r.backends.map(b => b.name)))].sort();
  const rowH = 46, width = 1010;
  const col = [20, 320, 770], boxW = [250, 250, 230];
  const ys = list => Object.fromEntries(list.map((item, i) => [item, 20 + i * rowH]));
  const gy = ys(gateways.map(g => g.name)), ry = ys(routes.map(r => r.kind + " " + r.name));
  // A backend many rules send to gets a taller row: its labels stack in the row, one line each,
  // and never run into the next backend's.
  const labelCount = {};
  for (const r of routes) for (const b of r.backends) labelCount[b.name] = (labelCount[b.name] || 0) + 1;
  const by = {};
  let next = 20;
  for (const b of backends) { by[b] = next + 13 * Math.max(0, (labelCount[b] || 1) - 2); next = by[b] + rowH; }
  const height = 40 + Math.max(rowH * Math.max(gateways.length, routes.length, 1), next);
  let svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`;
  // Edge labels sit just before the backend box, one line each, so lines that cross never stack
  // their labels on each other; each says which rule (its matches) and that rule's share.
  const labelsAt = {};
  for (const r of routes) {
    const y = ry[r.kind + " " + r.name] + 18;
    for (const parent of r.parents) if (parent in gy) svg += `<line x1="${col[0] + boxW[0]}" y1="${gy[parent] + 18}" x2="${col[1]}" y2="${y}" stroke="#9aa4b2"/>`;
    for (const b of r.backends) {
      const y2 = by[b.name] + 18, k = labelsAt[b.name] = (labelsAt[b.name] || 0) + 1;
      svg += `<line x1="${col[1] + boxW[1]}" y1="${y}" x2="${col[2]}" y2="${y2}" stroke="#9aa4b2"/>`;
      const top = y2 - 6 - 13 * ((labelCount[b.name] || 1) - 1);
      svg += `<text class="share" x="${col[2] - 6}" y="${top + (k - 1) * 13}" text-anchor="end" fill="#5b6576">${esc(b.label)}</text>`;
    }
  }
  const listenersHealthy = g => g.listeners.every(l => healthy(l.conditions || []));
  const box = (x, y, w, title, sub, ok) =>
    `<rect x="${x}" y="${y}" width="${w}" height="36" rx="5" fill="#fff" stroke="${ok ? "#1a7f37" : "#cf222e"}" stroke-width="1.5"/>` +
    `<text x="${x + 8}" y="${y + 15}" font-weight="600">${esc(title)}</text><text x="${x + 8}" y="${y + 30}" fill="#5b6576">${esc(sub)}</text>`;
  for (const g of gateways) svg += box(col[0], gy[g.name], boxW[0], "Gateway " + g.name + ((g.addresses || []).length ? " @ " + g.addresses.join(", ") : ""), g.listeners.map(l => `${l.name}:${l.port}/${l.protocol} (${l.attachedRoutes})`).join(" "), healthy(g.conditions) && listenersHealthy(g));
  for (const r of routes) svg += box(col[1], ry[r.kind + " " + r.name], boxW[1], r.kind + " " + r.name, (r.hostnames.join(", ") || "all hosts"), healthy(r.conditions));
  for (const b of backends) svg += box(col[2], by[b], boxW[2], b, "backend", true);
  document.getElementById("graph").innerHTML = svg + "</svg>";
}

function drawRoutes(topology, now, before, seconds) {
  const body = document.querySelector("#routes tbody");
  body.innerHTML = topology.routes.map(r => {
    const current = now[r.name], old = before && before[r.name];
    let rate = "–", errors = "–", p50 = null, p95 = null, p99 = null;
    if (current && old && seconds > 0) {
      const requests = current.total - old.total;
      rate = (requests / seconds).toFixed(1);
      errors = requests > 0 ? (100 * (current.errors - old.errors) / requests).toFixed(1) + "%" : "0.0%";
      p50 = quantile(0.5, current.buckets, old.buckets); p95 = quantile(0.95, current.buckets, old.buckets); p99 = quantile(0.99, current.buckets, old.buckets);
    }
    return `<tr data-route="${esc(r.name)}"><td>${esc(r.kind + " " + r.name)}</td><td>${esc(r.parents.join(", "))}</td><td>${badge(r.conditions)}</td><td>${esc((r.policies || []).concat(r.rollouts || []).join("; "))}</td>` +
      `<td class="rate">${rate}</td><td class="errors">${errors}</td><td>${ms(p50)}</td><td>${ms(p95)}</td><td>${ms(p99)}</td></tr>`;
  }).join("");
}

function drawPools(pools) {
  const section = document.getElementById("pools");
  section.hidden = pools.length === 0;
  section.querySelector("tbody").innerHTML = pools.map(p =>
    `<tr data-pool="${esc(p.name)}"><td>${esc(p.name)}</td><td>${badge(p.conditions)}</td><td>${p.used}</td><td>${esc(p.free)}</td><td>${esc(p.total)}</td><td>${esc(p.holders.join("; "))}</td></tr>`).join("");
}

// Expiry in days, red under 14 days (Let's Encrypt's own warning threshold is 20).
function drawCertificates(certificates) {
  const section = document.getElementById("certificates");
  section.hidden = certificates.length === 0;
  const days = iso => iso ? Math.floor((Date.parse(iso) - Date.now()) / 86400000) : null;
  section.querySelector("tbody").innerHTML = certificates.map(c => {
    const left = days(c.notAfter);
    const expiry = c.notAfter ? `${esc(c.notAfter)} (${left} d)` : "-";
    return `<tr data-certificate="${esc(c.secret)}"><td>${esc(c.secret)}</td><td>${esc(c.names.join(", "))}</td><td>${esc(c.issuer)}</td>`
      + `<td class="${c.state === "Issued" ? "" : "bad"}">${esc(c.state)}</td><td class="${left !== null && left < 14 ? "bad" : ""}">${expiry}</td>`
      + `<td>${esc(c.renewalTime || "-")}</td><td>${esc(c.message || "")}</td></tr>`;
  }).join("");
}

function drawRollouts(rollouts) {
  const section = document.getElementById("rollouts");
  section.hidden = rollouts.length === 0;
  section.querySelector("tbody").innerHTML = rollouts.map(r =>
    `<tr data-rollout="${esc(r.name)}"><td>${esc(r.name)}</td><td>${esc(r.route)}</td><td class="${["RolledBack", "Aborted", "NotAccepted"].includes(r.phase) ? "bad" : ""}">${esc(r.phase)}</td>`
    + `<td>${esc(r.step)}</td><td>${r.canaryWeight}%</td><td>${esc(r.message)}</td></tr>`).join("");
}

function drawAnnouncements(addresses) {
  const section = document.getElementById("announcements");
  section.hidden = addresses.length === 0;
  section.querySelector("tbody").innerHTML = addresses.map(a =>
    `<tr data-announced="${esc(a.address)}"><td>${esc(a.address)}</td><td>${esc(a.owner || "-")}</td><td>${a.announcedHere ? "yes" : "no"}</td><td>${esc(a.interface || "-")}</td><td class="${a.problem ? "bad" : ""}">${esc(a.problem || "")}</td></tr>`).join("");
}

function drawPolicyProblems(problems) {
  const section = document.getElementById("policy-problems");
  section.hidden = problems.length === 0;
  section.querySelector("tbody").innerHTML = problems.map(p =>
    `<tr data-policy="${esc(p.name)}"><td>${esc(p.name)}</td><td class="bad">${esc(p.reason)}</td><td>${esc(p.message)}</td></tr>`).join("");
}

function drawSLOs(slos) {
  if (!slos.length) return;
  document.getElementById("slos").innerHTML = "<table><thead><tr><th>objective</th><th>counted</th><th>bad</th><th>budget left</th><th>burn 5m</th><th>burn 1h</th><th>exhausted in</th></tr></thead><tbody>" +
    slos.map(s => {
      const left = Math.max(0, Math.min(1, s.budgetRemaining));
      const hours = s.exhaustionSeconds == null ? "not burning" : (s.exhaustionSeconds / 3600).toFixed(1) + " h";
      const unit = s.unit === "minutes" ? " min" : "";
      return `<tr data-slo="${esc(s.name)}"><td>${esc(s.name)}</td><td>${s.total}${unit}</td><td>${s.bad}${unit}</td>` +
        `<td><span class="bar"><span class="${left < 0.25 ? "low" : ""}" style="width:${(left * 100).toFixed(0)}%"></span></span> ${(s.budgetRemaining * 100).toFixed(1)}%</td>` +
        `<td>${s.burnRate5m.toFixed(2)}</td><td>${s.burnRate1h.toFixed(2)}</td><td>${hours}</td></tr>`;
    }).join("") + "</tbody></table>";
}

async function refresh() {
  try {
    const scrape = await fetch("/metrics");
    const [topology, slos, metrics] = await Promise.all([
      fetch("/dashboard/topology").then(r => r.json()), fetch("/slo").then(r => r.json()), scrape.text()]);
    const now = { at: Number(scrape.headers.get("x-archway-clock-ms")) || Date.now(), routes: perRoute(parseMetrics(metrics)) };
    history.push(now);
    while (history.length > 2 && now.at - history[1].at >= 10000) history.shift();
    const oldest = history.length > 1 ? history[0] : null;
    drawGraph(topology);
    drawRoutes(topology, now.routes, oldest && oldest.routes, oldest ? (now.at - oldest.at) / 1000 : 0);
    drawSLOs(slos);
    drawPolicyProblems(topology.policyProblems || []);
    drawPools(topology.pools || []);
    drawCertificates(topology.certificates || []);
    drawRollouts(topology.rollouts || []);
    fetch("/announcements").then(r => r.json()).then(a => drawAnnouncements(a.addresses || [])).catch(() => {});
    document.getElementById("live").textContent = "live · updated " + new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById("live").textContent = "cannot reach archway: " + error;
  }
}
// "Try a request": the admin endpoint explains it against the live table and renders the answer itself.
document.querySelector("#explain form").addEventListener("submit", async event => {
  event.preventDefault();
  const form = event.target, out = document.getElementById("explain-out");
  const headers = form.headers.value.split("\n").map(line => line.trim()).filter(line => line.includes(":"))
    .map(line => ({ name: line.slice(0, line.indexOf(":")).trim(), value: line.slice(line.indexOf(":") + 1).trim() }));
  const query = { method: form.method.value, url: form.url.value.trim(), headers };
  try {
    const answer = await fetch("/explain?o=text&q=" + encodeURIComponent(JSON.stringify(query)));
    out.textContent = await answer.text();
  } catch (error) {
    out.textContent = "cannot reach archway: " + error;
  }
  out.hidden = false;
  window.history.replaceState(null, "", "#explain=" + encodeURIComponent(JSON.stringify(query)));
});
// A link to the dashboard can carry a request to explain (#explain={"url":...}): the box is filled
// in and answered on load, so an explanation can be shared.
if (location.hash.startsWith("#explain=")) {
  try {
    const query = JSON.parse(decodeURIComponent(location.hash.slice("#explain=".length)));
    const form = document.querySelector("#explain form");
    form.method.value = query.method || "GET";
    form.url.value = query.url || "";
    form.headers.value = (query.headers || []).map(h => h.name + ": " + h.value).join("\n");
    form.requestSubmit();
  } catch (error) {
    console.log("cannot read the request in the link: " + error);
  }
}
// A second scrape soon after the first, so rates appear without waiting a whole period.
refresh().then(() => setTimeout(refresh, 500));
setInterval(refresh, 2000);
</script>
</body>
</html>
"""#
}
