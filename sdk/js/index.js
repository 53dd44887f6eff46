// @cairn/sdk — the reference JavaScript client of the Cairn API (ESM, no build step).
//
//   CairnClient     REST with bearer tokens or API keys, sign-in (with the MFA step),
//                   single-flight refresh of rotating refresh tokens, problem+json errors,
//                   cursor pagination, typed notes helpers.
//   RealtimeClient  WebSocket client of docs/realtime.md: first-message auth, automatic
//                   reconnect (exponential back-off with full jitter), resume from the last
//                   seq per channel, duplicate dropping, resync_required, heartbeat.
//
// Only `ws` is used, and only in Node when no global WebSocket exists.

const API = '/api/v1';
const PROBLEM = 'urn:cairn:problem:';

/** Every non-2xx answer (problem+json, RFC 9457) and every network failure (status 0). */
export class CairnError extends Error {
  constructor({ status = 0, type = 'about:blank', title = '', detail = '', request_id = null,
    errors = [], problem = null, cause } = {}) {
    super(detail || title || `HTTP ${status}`, cause === undefined ? undefined : { cause });
    this.name = 'CairnError';
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.request_id = request_id;
    this.errors = errors;
    this.problem = problem;
    /** The stable slug of a Cairn problem type ('token-expired', 'validation-failed', …;
     *  docs/api.md), or null for any other type. Match on it, never on the detail text. */
    this.slug = typeof type === 'string' && type.startsWith(PROBLEM) ? type.slice(PROBLEM.length) : null;
  }
}

/** Full-jitter exponential back-off: a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt, { baseMs = 250, capMs = 30_000 } = {}, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}

/** The `exp` claim of a JWT in Unix milliseconds, or null if token is not a readable JWT. */
export function jwtExpiry(token) {
  const part = typeof token === 'string' ? token.split('.')[1] : undefined;
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const exp = JSON.parse(new TextDecoder().decode(bytes)).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// REST client

export class CairnClient {
  /**
   * @param {object} o
   * @param {string} o.baseUrl        e.g. "https://cairn.example" (no /api/v1)
   * @param {string} [o.token]        an access token (or the operator's bootstrap token)
   * @param {string} [o.refreshToken] its refresh token, to refresh automatically
   * @param {number} [o.expiresAt]    when the access token expires (Unix ms; default: its exp claim)
   * @param {string} [o.apiKey]       an API key (cairn_…); takes precedence over tokens
   * @param {Function} [o.fetch]      a fetch implementation (default globalThis.fetch)
   * @param {Function} [o.onTokens]   called with the new tokens (or null when signed out)
   * @param {number} [o.refreshSkewMs] refresh this long before expiry (default 30 s)
   * @param {Function} [o.now]        clock in Unix ms (default Date.now)
   */
  constructor({ baseUrl, token, refreshToken, expiresAt, apiKey, fetch, onTokens,
    refreshSkewMs = 30_000, now = Date.now } = {}) {
    if (!baseUrl) throw new TypeError('baseUrl is required');
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    this.apiKey = apiKey ?? null;
    this.refreshSkewMs = refreshSkewMs;
    this._fetch = fetch ?? globalThis.fetch?.bind(globalThis);
    if (!this._fetch) throw new TypeError('no fetch implementation: pass options.fetch');
    this._now = now;
    this._listeners = new Set();
    if (onTokens) this._listeners.add(onTokens);
    this._refreshing = null;
    this._tokens = token ? { accessToken: token, refreshToken: refreshToken ?? null,
      expiresAt: expiresAt ?? jwtExpiry(token) } : null;
    this.notes = {
      create: (note, opts) => this.post(`${API}/notes`, note, opts),
      get: (id, opts) => this.get(`${API}/notes/${encodeURIComponent(id)}`, undefined, opts),
      list: (query, opts) => this.get(`${API}/notes`, undefined, { ...opts, query }),
      update: (id, patch, opts) => this.patch(`${API}/notes/${encodeURIComponent(id)}`, patch, opts),
      delete: (id, opts) => this.delete(`${API}/notes/${encodeURIComponent(id)}`, undefined, opts),
      all: (query) => this.paginate(`${API}/notes`, query),
    };
    const csv = (opts) => ({ ...opts, headers: { ...opts?.headers, 'content-type': 'text/csv' } });
    this.insights = {
      ingest: (interaction, opts) => this.post(`${API}/interactions`, interaction, opts),
      ingestBatch: (items, opts) => this.post(`${API}/interactions/batch`, { items }, opts),
      importCsv: (text, opts) => this.post(`${API}/interactions/import`, text, csv(opts)),
      list: (query, opts) => this.get(`${API}/insights`, undefined, { ...opts, query }),
      all: (query) => this.paginate(`${API}/insights`, query),
      trends: (query, opts) => this.get(`${API}/insights/sentiment-trends`, undefined, { ...opts, query }),
      metrics: (query, opts) => this.get(`${API}/insights/metrics`, undefined, { ...opts, query }),
      search: (q, query, opts) => this.get(`${API}/interactions/search`, undefined, { ...opts, query: { ...query, q } }),
      customer: (id, opts) => this.get(`${API}/customers/${encodeURIComponent(id)}`, undefined, opts),
      patterns: (id, opts) => this.get(`${API}/customers/${encodeURIComponent(id)}/patterns`, undefined, opts),
      sentiment: (text, opts) => this.post(`${API}/sentiment`, { text }, opts),
    };
  }

  /** The current tokens {accessToken, refreshToken, expiresAt}, or null. */
  get tokens() {
    return this._tokens ? { ...this._tokens } : null;
  }

  /** Registers a listener for token changes; returns a function that removes it. */
  onTokens(fn) {
    this._listeners.add(fn);
    return () => this._listeners.delete(fn);
  }

  /** Replaces the tokens with a login/refresh answer ({access_token, refresh_token, expires_in}) or null. */
  setTokens(answer) {
    this._tokens = answer ? {
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token ?? null,
      expiresAt: answer.expires_in != null ? this._now() + answer.expires_in * 1000 : jwtExpiry(answer.access_token),
    } : null;
    const t = this.tokens;
    for (const fn of this._listeners) {
      try { fn(t); } catch { /* a listener's failure is its own */ }
    }
  }

  /**
   * Signs in. Resolves to {mfaRequired: false, tokens} once signed in, or — when the account
   * has MFA and neither totp nor recoveryCode was given — to {mfaRequired: true, challenge,
   * expiresIn}; finish with verifyMfa(). totp may be a code or a (possibly async) function
   * returning one, called only when the server asks for it.
   */
  async login({ tenant, email, password, totp, recoveryCode }) {
    const r = await this._send('POST', `${API}/auth/login`, { tenant, email, password }, { auth: false });
    if (!r.mfa_required) {
      this.setTokens(r);
      return { mfaRequired: false, tokens: this.tokens };
    }
    if (totp == null && recoveryCode == null)
      return { mfaRequired: true, challenge: r.challenge, expiresIn: r.expires_in };
    const code = typeof totp === 'function' ? await totp() : totp;
    return this.verifyMfa({ challenge: r.challenge, code: code ?? undefined, recoveryCode });
  }

  /** Completes an MFA sign-in with the authenticator's code or a recovery code. */
  async verifyMfa({ challenge, code, recoveryCode }) {
    const body = recoveryCode != null ? { challenge, recovery_code: recoveryCode } : { challenge, code };
    const r = await this._send('POST', `${API}/auth/mfa/verify`, body, { auth: false });
    this.setTokens(r);
    return { mfaRequired: false, tokens: this.tokens };
  }

  /**
   * Exchanges the refresh token for a new pair (it rotates: the new one replaces it). Calls
   * made while one is under way share it. A refused refresh (401) signs the client out.
   */
  refresh() {
    if (!this._refreshing) {
      this._refreshing = this._doRefresh().finally(() => { this._refreshing = null; });
    }
    return this._refreshing;
  }

  async _doRefresh() {
    const rt = this._tokens?.refreshToken;
    if (!rt) throw new CairnError({ status: 401, type: 'urn:cairn:problem:unauthorized', title: 'Unauthorized',
      detail: 'no refresh token' });
    try {
      const r = await this._send('POST', `${API}/auth/refresh`, { refresh_token: rt }, { auth: false });
      this.setTokens(r);
      return this.tokens;
    } catch (e) {
      if (e instanceof CairnError && e.status === 401 && this._tokens?.refreshToken === rt) this.setTokens(null);
      throw e;
    }
  }

  /** Ends this session on the server (best effort) and forgets the tokens. */
  async logout() {
    try {
      if (this._tokens) await this.post(`${API}/auth/logout`);
    } catch (e) {
      if (!(e instanceof CairnError) || (e.status !== 401 && e.status !== 0)) throw e;
    } finally {
      this.setTokens(null);
    }
  }

  /** A credential fit to use now: the API key, or the access token (refreshed first if about to expire). */
  async credential() {
    if (this.apiKey) return this.apiKey;
    if (this._expiring()) await this.refresh();
    return this._tokens?.accessToken ?? null;
  }

  _expiring() {
    const t = this._tokens;
    return !!(t?.refreshToken && t.expiresAt != null && t.expiresAt - this._now() <= this.refreshSkewMs);
  }

  /**
   * One request. Resolves to the parsed JSON answer (undefined for 204, text for non-JSON);
   * rejects with CairnError. opts: {query, headers, signal}.
   */
  async request(method, path, body, opts = {}) {
    const used = await this.credential();
    try {
      return await this._send(method, path, body, { ...opts, token: used });
    } catch (e) {
      // the session is over (signed out, ended, expired): no refresh can help; sign out
      if (e instanceof CairnError && e.slug === 'token-revoked' && !this.apiKey && used &&
          this._tokens?.accessToken === used) this.setTokens(null);
      if (!this._shouldRefresh(e, used)) throw e;
      if (this._tokens?.accessToken === used) await this.refresh();
      return this._send(method, path, body, { ...opts, token: this._tokens?.accessToken });
    }
  }

  // A 401 token-expired for the access token we sent (or one our clock says has expired),
  // when we can refresh: refresh once and retry. (If another call already refreshed
  // meanwhile, just retry with the newer token.)
  _shouldRefresh(e, used) {
    if (!(e instanceof CairnError) || e.status !== 401 || this.apiKey || !used) return false;
    if (!this._tokens?.refreshToken) return false;
    if (this._tokens.accessToken !== used) return true;
    const exp = this._tokens.expiresAt;
    return e.slug === 'token-expired' || (exp != null && exp <= this._now());
  }

  async _send(method, path, body, { query, headers, signal, token, auth = true } = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v != null) url.searchParams.set(k, String(v));
    const h = { accept: 'application/json, application/problem+json', ...headers };
    if (auth && token) h.authorization = `Bearer ${token}`;
    let payload;
    if (typeof body === 'string' && h['content-type']) {
      payload = body; // a prepared body of its own type (CSV)
    } else if (body !== undefined) {
      h['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res, text;
    try {
      res = await this._fetch(url, { method, headers: h, body: payload, signal });
      text = await res.text();
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      throw new CairnError({ status: 0, type: 'urn:cairn:sdk:network-error', title: 'Network Error',
        detail: e?.cause?.message ?? e?.message ?? String(e), cause: e });
    }
    const ct = res.headers.get('content-type') ?? '';
    let json;
    if (/json/i.test(ct) && text) {
      try { json = JSON.parse(text); } catch { json = undefined; }
    }
    if (res.ok) return res.status === 204 ? undefined : (json ?? (text || undefined));
    const p = json && typeof json === 'object' ? json : {};
    throw new CairnError({
      status: res.status,
      type: p.type ?? 'about:blank',
      title: p.title ?? res.statusText ?? '',
      detail: p.detail ?? text,
      request_id: p.request_id ?? res.headers.get('x-request-id'),
      errors: Array.isArray(p.errors) ? p.errors : [],
      problem: json ?? null,
    });
  }

  /** get(path, opts) — or get(path, undefined, opts), like the other verbs; a GET sends no body. */
  get(path, bodyOrOpts, opts) {
    return this.request('GET', path, undefined, opts ?? bodyOrOpts ?? {});
  }

  post(path, body, opts) { return this.request('POST', path, body, opts); }
  put(path, body, opts) { return this.request('PUT', path, body, opts); }
  patch(path, body, opts) { return this.request('PATCH', path, body, opts); }
  delete(path, body, opts) { return this.request('DELETE', path, body, opts); }

  /** Every item of a list, page after page, following next_cursor until it is null. */
  async *paginate(path, query = {}) {
    let cursor = query.cursor;
    do {
      const page = await this.get(path, undefined, { query: { ...query, cursor } });
      yield* page.items;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** A realtime connection using this client's credentials (see RealtimeClient). */
  realtime(opts = {}) {
    return new RealtimeClient(this, opts);
  }
}

// ---------------------------------------------------------------------------------------
// Realtime

/**
 * The position of one channel subscription: what to ask for when (re)subscribing, and
 * which events are new. Pure bookkeeping, no I/O.
 */
export class ChannelState {
  constructor(channel, { since, epoch } = {}) {
    this.channel = channel;
    this.seq = since ?? null; // the last seq seen (delivered or announced)
    this.epoch = epoch || null; // a channel without events yet has no epoch ("")
  }

  /** The subscribe message to send now: with since/epoch once a position is known. */
  subscribeMessage() {
    const m = { op: 'subscribe', channel: this.channel };
    if (this.seq != null) m.since = this.seq;
    if (this.seq != null && this.epoch != null) m.epoch = this.epoch;
    return m;
  }

  /** A `subscribed` answer: without a position yet, live events start after its seq. */
  subscribed({ seq, epoch }) {
    epoch = epoch || null;
    if (this.seq == null || (this.epoch != null && epoch != null && epoch !== this.epoch)) this.seq = seq;
    this.epoch = epoch ?? this.epoch;
  }

  /** An event: true when it is new (and then the position moves), false for a duplicate. */
  accept({ seq, epoch }) {
    epoch = epoch || null;
    if (epoch != null && this.epoch != null && epoch !== this.epoch) {
      this.epoch = epoch; // the numbering restarted
    } else if (this.seq != null && seq <= this.seq) {
      return false;
    }
    this.seq = seq;
    this.epoch = epoch ?? this.epoch;
    return true;
  }

  /** A `resync_required` answer: continue from the server's current position. */
  resync({ seq, epoch }) {
    this.seq = seq;
    this.epoch = epoch || this.epoch;
  }
}

const STABLE_MS = 10_000;
const CHANNEL_ERRORS = new Set(['forbidden', 'unknown_channel', 'too_many_subscriptions']);

export class RealtimeClient {
  /**
   * @param {CairnClient} client
   * @param {object} [o]
   * @param {string} [o.url]          default: the client's baseUrl as ws(s)://…/api/v1/realtime
   * @param {Function} [o.WebSocket]  default: globalThis.WebSocket, else the `ws` package
   * @param {{baseMs?: number, capMs?: number, stableMs?: number}} [o.backoff]
   * @param {number} [o.heartbeatMs]  ping when idle this long; dead after twice (default 25 s)
   */
  constructor(client, { url, WebSocket, backoff = {}, heartbeatMs = 25_000, random = Math.random } = {}) {
    this.client = client;
    this.url = url ?? `${client.baseUrl.replace(/^http/, 'ws')}${API}/realtime`;
    this.backoff = { baseMs: 250, capMs: 30_000, stableMs: STABLE_MS, ...backoff };
    this.heartbeatMs = heartbeatMs;
    this._random = random;
    this._WebSocket = WebSocket ?? null;
    this._channels = new Map(); // name -> {state: ChannelState, handlers: Set}
    this._listeners = new Map();
    this._state = 'idle';
    this._socket = null;
    this._attempt = 0;
    this._timers = {};
    this._retries = new Set();
    this._refreshFirst = false;
    this._closed = false;
    queueMicrotask(() => this._connect()); // listeners attached right after creation see 'connecting'
  }

  /** 'idle' (until the first connect starts) | 'connecting' | 'open' | 'reconnecting' | 'closed' */
  get state() { return this._state; }

  /** The current underlying WebSocket (null between connections). */
  get socket() { return this._socket; }

  /** Listens to 'open' | 'close' | 'state' | 'error' | 'resync_required' | 'subscribed'; returns a remover. */
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this._listeners.get(event)?.delete(fn);
  }

  _emit(event, arg) {
    for (const fn of this._listeners.get(event) ?? []) {
      try { fn(arg); } catch (e) { if (event !== 'error') this._emit('error', { code: 'listener', message: String(e), error: e }); }
    }
  }

  _setState(s) {
    if (this._state === s) return;
    this._state = s;
    this._emit('state', s);
  }

  /**
   * Subscribes to a channel; onEvent gets every new event once, in seq order. With since
   * (and epoch), events after that position are replayed first. Returns an unsubscribe function.
   */
  subscribe(channel, onEvent, { since, epoch } = {}) {
    let sub = this._channels.get(channel);
    if (!sub) {
      sub = { state: new ChannelState(channel, { since, epoch }), handlers: new Set() };
      this._channels.set(channel, sub);
      if (this._state === 'open') this._send(sub.state.subscribeMessage());
    }
    const handler = (ev) => onEvent(ev);
    sub.handlers.add(handler);
    return () => {
      if (!sub.handlers.delete(handler) || sub.handlers.size) return;
      if (this._channels.get(channel) !== sub) return;
      this._channels.delete(channel);
      if (this._state === 'open') this._send({ op: 'unsubscribe', channel });
    };
  }

  /** The last position seen on a channel, {seq, epoch}, or null when not subscribed. */
  position(channel) {
    const s = this._channels.get(channel)?.state;
    return s ? { seq: s.seq, epoch: s.epoch } : null;
  }

  /** Closes for good: no reconnect. */
  close() {
    this._closed = true;
    this._clearTimers();
    const s = this._socket;
    this._socket = null;
    if (s) {
      this._detach(s);
      try { s.close(1000); } catch { /* not open yet */ }
      this._emit('close', { code: 1000, reason: 'closed by the client' });
    }
    this._setState('closed');
  }

  async _impl() {
    if (!this._WebSocket) this._WebSocket = globalThis.WebSocket ?? (await import(/* webpackIgnore: true */ /* @vite-ignore */ 'ws')).default;
    return this._WebSocket;
  }

  async _connect() {
    if (this._closed) return;
    this._setState(this._attempt === 0 && this._state === 'idle' ? 'connecting' : 'reconnecting');
    let token;
    try {
      if (this._refreshFirst && !this.client.apiKey) await this.client.refresh();
      this._refreshFirst = false;
      token = await this.client.credential();
      if (!token) throw new CairnError({ status: 401, type: 'urn:cairn:problem:unauthorized', title: 'Unauthorized',
        detail: 'no credential: sign in first' });
    } catch (e) {
      this._emit('error', { code: 'auth', message: e.message, error: e });
      if (e instanceof CairnError && e.status === 401) return this._giveUp();
      return this._scheduleReconnect();
    }
    let s;
    try {
      const WS = await this._impl();
      if (this._closed) return;
      s = new WS(this.url);
    } catch (e) {
      this._emit('error', { code: 'connect', message: e.message, error: e });
      return this._scheduleReconnect();
    }
    this._socket = s;
    this._lastRx = Date.now();
    this._startHeartbeat(); // also bounds the time to open: a connection silent for 2 intervals is dropped
    s.onopen = () => {
      this._lastRx = Date.now();
      this._send({ op: 'auth', token });
    };
    s.onmessage = (m) => this._onMessage(m.data);
    s.onerror = (e) => this._emit('error', { code: 'socket', message: e?.message ?? 'WebSocket error', error: e });
    s.onclose = (e) => this._onClose(s, e?.code ?? 1006, e?.reason ?? '');
    // ws (Node): the server's protocol-level pings also show the connection is alive
    if (typeof s.on === 'function') s.on('ping', () => { if (s === this._socket) this._lastRx = Date.now(); });
  }

  _detach(s) {
    s.onopen = s.onmessage = s.onerror = s.onclose = null;
    if (typeof s.on === 'function') s.on('error', () => {}); // ws: a late error must not throw
  }

  _send(msg) {
    const s = this._socket;
    if (!s || s.readyState !== 1) return false;
    s.send(JSON.stringify(msg));
    return true;
  }

  _onMessage(data) {
    this._lastRx = Date.now();
    let m;
    try {
      m = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
    } catch {
      return this._emit('error', { code: 'invalid_message', message: 'a message from the server is not JSON' });
    }
    const sub = m.channel != null ? this._channels.get(m.channel) : undefined;
    switch (m.op) {
      case 'ready':
        this._setState('open');
        clearTimeout(this._timers.stable);
        this._timers.stable = setTimeout(() => { this._attempt = 0; }, this.backoff.stableMs);
        this._emit('open', m);
        for (const { state } of this._channels.values()) this._send(state.subscribeMessage());
        break;
      case 'subscribed':
        if (sub) sub.state.subscribed(m);
        this._emit('subscribed', m);
        break;
      case 'event':
        if (sub && sub.state.accept(m)) {
          for (const h of [...sub.handlers]) {
            try { h(m); } catch (e) { this._emit('error', { code: 'handler', message: String(e), channel: m.channel, error: e }); }
          }
        }
        break;
      case 'resync_required':
        if (sub) {
          sub.state.resync(m);
          this._emit('resync_required', { channel: m.channel, seq: m.seq, epoch: m.epoch });
          this._send(sub.state.subscribeMessage());
        }
        break;
      case 'error':
        if (sub && CHANNEL_ERRORS.has(m.code)) this._channels.delete(m.channel);
        if (sub && m.code === 'unavailable') this._resubscribeLater(m.channel, sub);
        this._emit('error', m);
        break;
      default: // pong, unsubscribed, and anything newer
        break;
    }
  }

  // The server could not read the channel now and dropped the subscription: ask again soon.
  _resubscribeLater(channel, sub) {
    const t = setTimeout(() => {
      this._retries.delete(t);
      if (this._channels.get(channel) === sub && this._state === 'open') this._send(sub.state.subscribeMessage());
    }, 500 + backoffDelay(2, this.backoff, this._random));
    this._retries.add(t);
  }

  _onClose(s, code, reason) {
    if (s !== this._socket) return;
    this._detach(s);
    this._socket = null;
    this._clearTimers();
    this._emit('close', { code, reason });
    if (this._closed) return;
    if (code === 4401) {
      if (this.client.apiKey || !this.client.tokens?.refreshToken) return this._giveUp();
      this._refreshFirst = true;
    }
    this._scheduleReconnect();
  }

  _giveUp() {
    this._closed = true;
    this._clearTimers();
    this._setState('closed');
  }

  _scheduleReconnect() {
    if (this._closed) return;
    this._setState('reconnecting');
    const delay = backoffDelay(this._attempt++, this.backoff, this._random);
    this._timers.reconnect = setTimeout(() => this._connect(), delay);
  }

  // Application heartbeat: after heartbeatMs without a message, send a ping; after twice
  // that without any message (not even the pong), the connection is dead: drop it.
  _startHeartbeat() {
    const hb = this.heartbeatMs;
    let pinged = 0;
    clearInterval(this._timers.heartbeat);
    this._timers.heartbeat = setInterval(() => {
      const now = Date.now();
      const idle = now - this._lastRx;
      if (idle >= 2 * hb) {
        const s = this._socket;
        if (!s) return;
        try { typeof s.terminate === 'function' ? s.terminate() : s.close(4000, 'heartbeat timeout'); } catch { /* gone */ }
        this._onClose(s, 1006, 'heartbeat timeout');
      } else if (idle >= hb && pinged <= this._lastRx) {
        pinged = now;
        this._send({ op: 'ping' });
      }
    }, Math.max(10, Math.floor(hb / 5)));
    this._timers.heartbeat.unref?.();
  }

  _clearTimers() {
    clearTimeout(this._timers.reconnect);
    clearTimeout(this._timers.stable);
    clearInterval(this._timers.heartbeat);
    this._timers = {};
    for (const t of this._retries) clearTimeout(t);
    this._retries.clear();
  }
}
