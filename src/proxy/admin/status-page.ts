// The status page at GET / on the admin listener: one self-contained HTML document (inline CSS
// and script, nothing fetched from elsewhere) that reads /status every second and draws a table,
// with each built-in replica's replication queue depth and lag per peer.
// Every value reaches the page through textContent, never as markup, so a backend name or a
// check detail full of `<script>` shows as text. With a token entered (kept in sessionStorage,
// gone with the tab) it offers drain / ready / maint buttons that post to the admin API with
// `Authorization: Bearer`; the server checks the token as for any other client.
import type { RouteAnswer } from '../../observability/admin-server.js';
import { REPLICATION_POLL_MS } from './replica-replication.js';

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .3rem}
.meta{color:#555;margin-bottom:1rem}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eee;font-weight:600}
.state{font-weight:700;text-align:center;border-radius:3px;padding:.1rem .4rem;color:#fff;display:inline-block;min-width:3.5rem}
.UP{background:#2e7d32}.DOWN{background:#c62828}.DRAIN{background:#ef6c00}.MAINT{background:#6a1b9a}
.small{color:#666;font-size:12px}
.lagging{color:#c62828}
#error{color:#c62828;font-weight:600}
#token-form{margin:.8rem 0}
button{margin:0 .15rem .15rem 0}
#action{margin-left:1rem;font-weight:600}
`;

const SCRIPT = `
'use strict';
const TOKEN_KEY = 'ha-proxy-admin-token';
const previous = new Map();
let lastAt = 0;
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}
function when(iso) { return iso ? new Date(iso).toLocaleTimeString() : '-'; }
function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
function cell(row, parts) {
  const td = document.createElement('td');
  for (const p of parts) td.appendChild(p);
  row.appendChild(td);
  return td;
}
async function act(name, state) {
  const res = await fetch('/backends/' + encodeURIComponent(name) + '/state', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + token(), 'content-type': 'application/json' },
    body: JSON.stringify({ state: state }),
  }).catch((err) => ({ ok: false, status: 0, text: async () => String(err) }));
  $('action').textContent = res.ok ? name + ': ' + state : name + ': refused (' + res.status + ') ' + (await res.text()).trim();
  await refresh();
}
function replicationOf(r) {
  if (!r || r.peers.length === 0) return [el('span', '-')];
  const parts = [];
  for (const p of r.peers) {
    const line = el('div', 'queue ' + p.queueDepth + ' \u00b7 lag ' + p.lagSeconds.toFixed(1) + ' s' + (p.up ? '' : ' \u00b7 peer down'), p.up ? '' : 'lagging');
    line.dataset.peer = p.peer;
    parts.push(line, el('div', 'to ' + p.peer, 'small'));
  }
  return parts;
}
function rowOf(b, now) {
  const tr = document.createElement('tr');
  tr.dataset.backend = b.name;
  cell(tr, [el('div', b.name), el('div', b.url, 'small')]);
  const state = el('span', b.state, 'state ' + b.state);
  state.dataset.role = 'state';
  cell(tr, [state]);
  cell(tr, [el('span', b.active ? 'active' : '-')]);
  cell(tr, [el('div', b.admin), el('div', 'weight ' + b.weight, 'small')]);
  const check = b.lastCheck;
  cell(tr, check ? [el('div', check.ok ? 'ok' : 'failed'), el('div', when(check.at), 'small'), el('div', check.detail, 'small')] : [el('span', '-')]);
  cell(tr, [el('span', b.inflight)]);
  const t = b.traffic || { responses: 0, errors: 0, bytesIn: 0, bytesOut: 0 };
  const before = previous.get(b.name);
  const rate = before && now > lastAt ? ((t.responses - before.responses) * 1000) / (now - lastAt) : 0;
  previous.set(b.name, t);
  cell(tr, [el('span', rate.toFixed(1))]);
  cell(tr, [el('span', t.errors)]);
  cell(tr, [el('div', 'in ' + bytes(t.bytesIn)), el('div', 'out ' + bytes(t.bytesOut), 'small')]);
  cell(tr, replicationOf(b.replication)).dataset.role = 'replication';
  const changes = [];
  if (b.lastChange) changes.push(el('div', b.lastChange.to.toUpperCase() + ' (' + b.lastChange.reason + ') ' + when(b.lastChange.at)), el('div', b.lastChange.detail, 'small'));
  if (b.adminChange) changes.push(el('div', b.adminChange.reason + ' ' + when(b.adminChange.at), 'small'));
  cell(tr, changes.length ? changes : [el('span', '-')]);
  const buttons = [];
  if (token()) for (const s of ['drain', 'ready', 'maint']) {
    const button = el('button', s);
    button.dataset.action = s;
    button.disabled = b.admin === s;
    button.addEventListener('click', () => void act(b.name, s));
    buttons.push(button);
  }
  cell(tr, buttons);
  return tr;
}
async function refresh() {
  try {
    const res = await fetch('/status', { cache: 'no-store' });
    if (!res.ok) throw new Error('/status answered ' + res.status);
    const status = await res.json();
    const now = Date.now();
    $('mode').textContent = status.mode;
    $('active').textContent = status.active || '-';
    $('updated').textContent = new Date(now).toLocaleTimeString();
    const body = $('rows');
    body.replaceChildren(...status.backends.map((b) => rowOf(b, now)));
    lastAt = now;
    $('error').textContent = '';
  } catch (err) {
    $('error').textContent = 'cannot read /status: ' + err.message;
  }
}
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  $('token-state').textContent = token() ? 'token set' : 'no token';
  void refresh();
});
$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  $('token-state').textContent = 'no token';
  void refresh();
});
$('token-state').textContent = token() ? 'token set' : 'no token';
void refresh();
setInterval(() => void refresh(), 1000);
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ha-proxy status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>ha-proxy</h1>
<div class="meta">mode <b id="mode">-</b> &middot; active <b id="active">-</b> &middot; updated <span id="updated">-</span> <span id="error"></span></div>
<table>
<thead><tr><th>Backend</th><th>State</th><th>Active</th><th>Admin</th><th>Last check</th><th>In flight</th><th>Req/s</th><th>Errors</th><th>Bytes</th><th>Replication</th><th>Last change</th><th>Actions</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<form id="token-form">Admin token (for drain / ready / maint): <input id="token" type="password" autocomplete="off" size="32"> <button type="submit">Use</button> <button type="button" id="forget">Forget</button> <span id="token-state"></span> <span id="action"></span></form>
<p class="small">Replication: for each built-in replica, the changes it still owes each peer (queue) and the age of the oldest (lag), read every ${REPLICATION_POLL_MS / 1000} s.</p>
<script>${SCRIPT}</script>
</body>
</html>
`;

/** No framing (clickjacking of the buttons), no fetches but to this listener, no other origin's scripts. */
const HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function statusPage(): RouteAnswer {
  return { contentType: 'text/html; charset=utf-8', body: PAGE, headers: HEADERS };
}
