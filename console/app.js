// Cairn console: sign-in (cookie session) and the customer-insights view with live
// updates over the realtime hub. Plain ES module, no build step; every piece of server
// text reaches the page through textContent, never as markup.

const $ = (sel) => document.querySelector(sel);
// The session lives in HttpOnly cookies: this script never holds a token.
const state = { signedIn: false, ws: null, retry: 0, rows: new Map() };

function cookie(name) {
  const m = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
  return m ? decodeURIComponent(m.slice(name.length + 1)) : '';
}

// JSON request, authenticated by the session cookie; answers {status, body}. Unsafe
// methods carry the session's CSRF token (the cairn_csrf cookie's value).
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = cookie('cairn_csrf');
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, body: json };
}

function problem(r) {
  const b = r.body || {};
  const fields = (b.errors || []).map((e) => `${e.field}: ${e.message}`).join('; ');
  return b.detail ? b.detail + (fields ? ` (${fields})` : '') : `HTTP ${r.status}`;
}

function show(id) {
  for (const s of ['#signin', '#app']) $(s).hidden = s !== id;
  $('#signout').hidden = id !== '#app';
}

// ---- session ----

async function signedIn() {
  state.signedIn = true;
  const me = await api('GET', '/api/v1/users/me');
  $('#who').textContent = me.status === 200 ? `${me.body.email} · ${me.body.tenant.slug}` : '';
  show('#app');
  await loadInteractions();
  connect();
}

async function signIn(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $('#signin-error').textContent = '';
  let r;
  if (state.challenge) {
    r = await api('POST', '/api/v1/auth/mfa/verify', { challenge: state.challenge, code: f.get('code'), cookie: true });
  } else {
    r = await api('POST', '/api/v1/auth/login', { tenant: f.get('tenant'), email: f.get('email'), password: f.get('password'), cookie: true });
  }
  if (r.status === 200 && r.body.mfa_required) {
    state.challenge = r.body.challenge;
    $('#code-row').hidden = false;
    $('#signin-error').textContent = 'Enter the code from your authenticator app.';
    return;
  }
  if (r.status !== 200) {
    $('#signin-error').textContent = problem(r);
    return;
  }
  state.challenge = null;
  await signedIn();
}

async function signOut() {
  await api('POST', '/api/v1/auth/logout');
  state.signedIn = false;
  if (state.ws) state.ws.close();
  state.ws = null;
  show('#signin');
}

// A reload keeps the session: the refresh cookie gives new tokens.
async function resume() {
  if (!cookie('cairn_csrf')) return show('#signin');
  const r = await api('POST', '/api/v1/auth/refresh');
  if (r.status === 200) return signedIn();
  show('#signin');
}

// ---- interactions ----

// every time in the API's JSON is integer Unix milliseconds (UTC): shown in the reader's zone
function time(ms) {
  return new Date(ms).toLocaleString();
}

function sentimentCell(td, s) {
  td.textContent = s ? `${s.label} (${s.compound.toFixed(2)})` : '…';
  td.className = s ? `sentiment ${s.label}` : 'sentiment';
}

function addRow(it, atTop) {
  if (state.rows.has(it.id)) return;
  const tr = document.createElement('tr');
  tr.dataset.id = it.id;
  for (const v of [time(it.timestamp), it.customer_id, it.channel, it.event_type]) {
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(td);
  }
  const s = document.createElement('td');
  sentimentCell(s, it.sentiment || null);
  const c = document.createElement('td');
  c.className = 'content';
  c.textContent = it.content || '';
  tr.append(s, c);
  const body = $('#interactions tbody');
  if (atTop) {
    tr.classList.add('fresh');
    body.prepend(tr);
  } else {
    body.append(tr);
  }
  state.rows.set(it.id, tr);
  while (body.rows.length > 200) {
    state.rows.delete(body.lastElementChild.dataset.id);
    body.lastElementChild.remove();
  }
}

async function loadInteractions() {
  const r = await api('GET', '/api/v1/insights?limit=50');
  if (r.status !== 200) {
    $('#app-error').textContent = problem(r);
    return;
  }
  for (const it of r.body.items) addRow(it, false);
}

async function search(ev) {
  ev.preventDefault();
  const q = new FormData(ev.target).get('q').trim();
  $('#results').hidden = !q;
  if (!q) return;
  const r = await api('GET', `/api/v1/interactions/search?q=${encodeURIComponent(q)}&limit=20`);
  const list = $('#hits');
  list.replaceChildren();
  if (r.status !== 200) {
    $('#app-error').textContent = problem(r);
    return;
  }
  $('#app-error').textContent = '';
  for (const hit of r.body.items) {
    const li = document.createElement('li');
    for (const part of hit.snippet) {
      const el = document.createElement(part.match ? 'mark' : 'span');
      el.textContent = part.text;
      li.append(el);
    }
    const meta = document.createElement('small');
    meta.textContent = ` — ${hit.interaction.customer_id}, ${time(hit.interaction.timestamp)}`;
    li.append(meta);
    list.append(li);
  }
  if (!r.body.items.length) list.textContent = 'Nothing found.';
}

// ---- live updates: the tenant's insights channel ----

function onEvent(msg) {
  if (msg.type === 'interaction.created') {
    for (const it of msg.data.items) addRow(it, true);
  } else if (msg.type === 'sentiment.analyzed') {
    for (const it of msg.data.items) {
      const tr = state.rows.get(it.id);
      if (tr) sentimentCell(tr.querySelector('.sentiment'), it.sentiment);
    }
  }
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/realtime`);
  state.ws = ws;
  const badge = $('#live');
  // the upgrade carries the session cookie: the server answers ready without an auth op
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.op === 'ready') ws.send(JSON.stringify({ op: 'subscribe', channel: 'insights' }));
    else if (msg.op === 'subscribed') {
      state.retry = 0;
      badge.textContent = 'live';
      badge.classList.add('on');
    } else if (msg.op === 'event') onEvent(msg);
    else if (msg.op === 'error') $('#app-error').textContent = msg.message;
  };
  ws.onclose = () => {
    badge.textContent = 'reconnecting…';
    badge.classList.remove('on');
    if (state.ws !== ws || !state.signedIn) return;
    // back-off with jitter; a new access token first, as the old one may have expired
    const wait = Math.min(30000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
    setTimeout(async () => {
      const r = await api('POST', '/api/v1/auth/refresh');
      if (r.status !== 200) state.signedIn = false;
      if (state.ws === ws && state.signedIn) connect();
    }, wait);
  };
}

$('#signin-form').addEventListener('submit', signIn);
$('#search-form').addEventListener('submit', search);
$('#signout').addEventListener('click', signOut);
resume();
