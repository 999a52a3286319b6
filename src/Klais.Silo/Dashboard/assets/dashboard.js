// KLAIS fleet dashboard. Polls the silo's JSON API while the tab is visible; the token typed above is kept in
// sessionStorage (this tab only) and sent as "Authorization: Bearer". Data is written with textContent only.
'use strict';

const PollMs = 2000;
const Colors = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff7b72', '#a5d6ff'];
const history = { samples: [], last: null };
let token = sessionStorage.getItem('klais-token') || '';

const $ = id => document.getElementById(id);
const fmt = n => n == null ? '–' : Math.abs(n) >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : Math.abs(n) >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : (Math.round(n * 10) / 10).toString();
const time = t => t ? new Date(t).toLocaleTimeString() : '–';

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  let json = null;
  try { json = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const error = new Error(response.status + ': ' + (json && json.error ? json.error : response.statusText));
    error.status = response.status;
    throw error;
  }
  return json;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderSwarm(fleet) {
  $('fleet-rate').textContent = fmt(fleet.packets_per_second);
  $('fleet-bytes').textContent = fmt(fleet.bytes_per_second);
  $('fleet-devices').textContent = fmt(fleet.active_devices);
  $('fleet-blocked').textContent = fmt(fleet.blocked_devices);
  $('fleet-burst').textContent = (fleet.burst_probability * 100).toFixed(0) + '% (level ' + fleet.burst_level + ')';
  $('fleet-silos').textContent = fleet.silos_reporting;
}

function renderNodes(nodes) {
  const body = $('edge-rows');
  body.replaceChildren();
  for (const n of nodes) {
    const row = body.insertRow();
    row.dataset.node = n.node_id;
    cell(row, n.node_id);
    cell(row, n.health, n.health);
    cell(row, n.degradation_level);
    cell(row, fmt(n.received_per_second));
    cell(row, fmt(n.passed_per_second));
    cell(row, fmt(n.dropped_per_second));
    cell(row, n.kafka_lag);
    cell(row, fmt(n.current_rate));
    cell(row, n.applied_control_version);
    cell(row, n.applied_policy_version);
    cell(row, time(n.last_report));
  }
}

function blockButton(cell, device, blocked) {
  const button = document.createElement('button');
  button.textContent = blocked ? 'Unblock' : 'Block';
  button.className = blocked ? 'unblock' : 'block';
  button.addEventListener('click', () => blocked
    ? act('DELETE', device, undefined, 'unblocked')
    : act('POST', device, { ttl_seconds: 600, reason: 'operator' }, 'blocked'));
  cell.appendChild(button);
}

function renderTalkers(talkers, blocked) {
  const body = $('talker-rows');
  body.replaceChildren();
  for (const t of talkers) {
    const row = body.insertRow();
    row.dataset.device = t.device_id;
    cell(row, t.device_id, blocked.has(t.device_id) ? 'blocked' : '');
    cell(row, fmt(t.packets_per_second));
    cell(row, fmt(t.bytes_per_second));
    blockButton(row.insertCell(), t.device_id, blocked.has(t.device_id));
  }
}

function renderAnomalies(entries) {
  const body = $('anomaly-rows');
  body.replaceChildren();
  for (const e of entries) {
    const row = body.insertRow();
    row.dataset.device = e.device_id;
    cell(row, e.device_id);
    cell(row, e.blocked ? 'blocked' : 'watched', e.blocked ? 'blocked' : '');
    cell(row, e.anomaly_score.toFixed(2));
    cell(row, e.votes);
    cell(row, e.reason || (e.votes > 0 ? e.votes + ' edge vote(s)' : 'anomaly score'));
    cell(row, e.expires_at ? time(e.expires_at) : '–');
    cell(row, e.owner_silo);
    cell(row, time(e.updated_at));
    const actions = row.insertCell();
    blockButton(actions, e.device_id, e.blocked);
    const details = document.createElement('button');
    details.textContent = 'Evidence';
    details.className = 'evidence';
    details.addEventListener('click', () => showEvidence(e.device_id));
    actions.appendChild(details);
  }
}

// The device grain's whole account: its block (origin, reason, evidence), the edges' votes, its rates and sources.
async function showEvidence(device) {
  const out = $('evidence');
  try {
    const d = await api('GET', '/api/devices/' + encodeURIComponent(device));
    const lines = [device + ': rate ' + fmt(d.rate) + '/s (mean ' + fmt(d.rate_mean) + '), anomaly score ' + d.anomaly_score.toFixed(2) + ', owner ' + d.owner_silo];
    if (d.block) {
      lines.push('blocked by ' + d.block.origin + ' since ' + time(d.block.since) + ' until ' + time(d.block.expires_at) + ': ' + d.block.reason);
      for (const item of d.block.evidence || []) lines.push('  evidence: ' + item);
    }
    for (const v of d.votes || []) lines.push('  vote from ' + v.node_id + ': ' + v.reason + ' (score ' + v.score.toFixed(1) + ')');
    for (const e of d.edges || []) lines.push('  seen at ' + e.node_id + ': ' + fmt(e.packets_per_second) + '/s from ' + e.distinct_sources + ' address(es)');
    out.textContent = lines.join('\n');
  } catch (error) {
    out.textContent = device + ': ' + error.message;
  }
}

// Rollout progress: each version's state and stage, how many edges acknowledged it, and the last gate decision.
function renderPolicies(policies) {
  const rows = $('policy-rows');
  rows.replaceChildren();
  for (const p of policies.slice(0, 10)) {
    const row = rows.insertRow();
    const edges = Object.values(p.edges || {});
    const on = edges.filter(e => e.applied_version === p.version).length;
    const last = (p.history || []).at(-1);
    cell(row, String(p.version));
    cell(row, p.description || '');
    cell(row, p.state, p.state === 'rolled_back' || p.state === 'aborted' ? 'critical' : p.state === 'complete' ? 'ok' : '');
    cell(row, p.stage >= 0 && p.stages && p.stages[p.stage] ? p.stages[p.stage] + ' (' + (p.stage + 1) + '/' + p.stages.length + ')' : '');
    cell(row, on + ' of ' + edges.length + (edges.some(e => e.healthy === false) ? ', unhealthy' : ''));
    cell(row, last ? last.outcome + (last.gate ? ' ' + last.gate : '') + (last.detail ? ': ' + last.detail : '') : '');
  }
}

function renderEvents(events) {
  const list = $('event-rows');
  list.replaceChildren();
  for (const e of events.slice(0, 50)) {
    const item = document.createElement('li');
    item.textContent = time(e.at) + ' ' + e.kind + ' ' + e.grain + ': ' + e.detail + ' (' + e.silo + ')';
    list.appendChild(item);
  }
}

// A line chart in SVG: one polyline per series over the samples' time span, with the maximum written on the axis.
function chart(svg, samples, series) {
  svg.replaceChildren();
  svg.dataset.samples = samples.length;
  const ns = 'http://www.w3.org/2000/svg';
  const w = 800, h = 160, top = 14;
  if (samples.length < 2) return;
  const t0 = samples[0].t, span = Math.max(1, samples[samples.length - 1].t - t0);
  let max = 1;
  for (const s of series) for (const v of s.values) if (v > max) max = v;
  for (const f of [0.25, 0.5, 0.75]) {
    const line = document.createElementNS(ns, 'line');
    line.setAttribute('class', 'grid');
    line.setAttribute('x1', 0); line.setAttribute('x2', w);
    line.setAttribute('y1', top + (h - top) * f); line.setAttribute('y2', top + (h - top) * f);
    svg.appendChild(line);
  }
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('class', 'axis'); label.setAttribute('x', 4); label.setAttribute('y', 11);
  label.textContent = fmt(max) + '/s';
  svg.appendChild(label);
  series.forEach((s, i) => {
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('stroke', s.color || Colors[i % Colors.length]);
    line.setAttribute('points', s.values.map((v, k) =>
      ((samples[k].t - t0) / span * w).toFixed(1) + ',' + (h - (v / max) * (h - top)).toFixed(1)).join(' '));
    svg.appendChild(line);
  });
}

function renderHistory() {
  const samples = history.samples.map(s => ({ t: Date.parse(s.at), s }));
  chart($('fleet-chart'), samples, [{ values: samples.map(x => x.s.packets_per_second), color: Colors[0] }]);
  const ids = [...new Set(history.samples.flatMap(s => s.nodes.map(n => n.node_id)))].sort();
  chart($('edges-chart'), samples, ids.map((id, i) => ({
    color: Colors[i % Colors.length],
    values: samples.map(x => (x.s.nodes.find(n => n.node_id === id) || { received_per_second: 0 }).received_per_second),
  })));
  const legend = $('edges-legend');
  legend.replaceChildren();
  ids.forEach((id, i) => {
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = Colors[i % Colors.length];
    item.append(swatch, id);
    legend.appendChild(item);
  });
}

async function pollHistory() {
  const page = await api('GET', '/api/history' + (history.last ? '?since=' + history.last : ''));
  if (page.items.length > 0) {
    history.samples = history.samples.concat(page.items).slice(-page.capacity);
    history.last = Date.parse(history.samples[history.samples.length - 1].at);
  }
  renderHistory();
}

async function poll() {
  if (document.hidden) return; // nobody watching: no requests, no work on the silo
  try {
    const [fleet, nodes, anomalies, events, talkers, , policies] = await Promise.all([
      api('GET', '/api/swarm'), api('GET', '/api/nodes'), api('GET', '/api/anomalies'), api('GET', '/api/events'),
      api('GET', '/api/top-talkers'), pollHistory(), api('GET', '/api/policies').catch(() => ({ items: [] }))]);
    renderSwarm(fleet);
    renderNodes(nodes.items);
    renderTalkers(talkers.items, new Set(anomalies.items.filter(e => e.blocked).map(e => e.device_id)));
    renderAnomalies(anomalies.items);
    renderEvents(events.items);
    renderPolicies(policies.items);
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('status').className = '';
  } catch (error) {
    $('status').textContent = error.status === 401 ? 'a token with the read role is needed' : error.message;
    $('status').className = 'error';
  }
}

async function act(method, device, body, done) {
  const result = $('action-result');
  try {
    await api(method, '/api/devices/' + encodeURIComponent(device) + '/block', body);
    result.textContent = device + ' ' + done;
    result.className = 'done';
    await poll();
  } catch (error) {
    result.textContent = device + ' not ' + done + ': ' + error.message;
    result.className = 'error';
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('token').value = token;
  $('token-form').addEventListener('submit', e => {
    e.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem('klais-token', token);
    // A session cookie for links the page cannot add a header to (the Orleans dashboard); reads only.
    fetch('/api/session', { method: token ? 'POST' : 'DELETE', headers: { 'Content-Type': 'application/json' },
      body: token ? JSON.stringify({ token }) : undefined, cache: 'no-store' }).catch(() => {});
    poll();
  });
  $('block-form').addEventListener('submit', e => {
    e.preventDefault();
    act('POST', $('block-device').value.trim(), { ttl_seconds: Number($('block-ttl').value), reason: $('block-reason').value.trim() }, 'blocked');
  });
  document.addEventListener('visibilitychange', poll);
  poll();
  setInterval(poll, PollMs);
});
