// @cairn/sdk — the reference JavaScript client of the Cairn API (ESM, no build step).
//
//   CairnClient     REST with bearer tokens, API keys or (in a browser page) the HttpOnly
//                   session cookies, sign-in (with the MFA step), single-flight refresh of
//                   rotating refresh tokens, problem+json errors, cursor pagination, typed
//                   notes helpers.
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
    errors = [], problem = null, retryAfter = null, cause } = {}) {
    super(detail || title || `HTTP ${status}`, cause === undefined ? undefined : { cause });
    this.name = 'CairnError';
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.request_id = request_id;
    this.errors = errors;
    this.problem = problem;
    /** Seconds to wait before trying again (the Retry-After of a 429 or 503), else null. */
    this.retryAfter = retryAfter;
    /** The stable slug of a Cairn problem type ('token-expired', 'validation-failed', …;
     *  docs/api.md), or null for any other type. Match on it, never on the detail text. */
    this.slug = typeof type === 'string' && type.startsWith(PROBLEM) ? type.slice(PROBLEM.length) : null;
  }
}

// Retry-After in seconds (a number of seconds; an HTTP date is read as seconds from now).
function retryAfterSeconds(v) {
  if (v == null || v === '') return null;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
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

/** The value of cookie `name` in a Cookie-header-like string, or null. */
export function cookieValue(cookies, name) {
  for (const part of String(cookies ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim()) || null;
  }
  return null;
}

// The page's CSRF token: the server puts it in the readable cairn_csrf cookie.
function documentCsrfToken() {
  return typeof document === 'undefined' ? null : cookieValue(document.cookie, 'cairn_csrf');
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

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
   * @param {boolean} [o.cookie]      browser session mode: the HttpOnly cookies carry the
   *                                  session, unsafe methods send X-CSRF-Token (docs/auth.md)
   * @param {Function} [o.csrfToken]  cookie mode: returns the CSRF token (default: the
   *                                  cairn_csrf cookie of document.cookie)
   * @param {Function} [o.reauthenticate] cookie mode: called when the session is over during
   *                                  a request; resolve true once signed in again to retry it
   * @param {Function} [o.onSession]  cookie mode: called with true on sign-in, false when
   *                                  the session ends (sign-out, refused refresh)
   * @param {object} [o.locks]        cookie mode: a Web Locks manager that serialises refreshes
   *                                  across the origin's tabs (default navigator.locks)
   */
  constructor({ baseUrl, token, refreshToken, expiresAt, apiKey, fetch, onTokens,
    refreshSkewMs = 30_000, now = Date.now, cookie = false, csrfToken, reauthenticate,
    onSession, locks } = {}) {
    if (!baseUrl) throw new TypeError('baseUrl is required');
    this.cookie = !!cookie;
    this._csrfToken = csrfToken ?? documentCsrfToken;
    this._reauthenticate = reauthenticate ?? null;
    this._reauthing = null;
    this._sessionListeners = new Set();
    if (onSession) this._sessionListeners.add(onSession);
    this._signedIn = null;
    this._locks = locks ?? globalThis.navigator?.locks ?? null;
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

  /** Cookie mode: true once signed in, false once signed out, null while unknown. */
  get signedIn() {
    return this.cookie ? this._signedIn : !!this._tokens || !!this.apiKey;
  }

  /** Cookie mode: listens to sign-in (true) and session end (false); returns a remover. */
  onSession(fn) {
    this._sessionListeners.add(fn);
    return () => this._sessionListeners.delete(fn);
  }

  _setSignedIn(v) {
    if (this._signedIn === v) return;
    this._signedIn = v;
    for (const fn of this._sessionListeners) {
      try { fn(v); } catch { /* a listener's failure is its own */ }
    }
  }

  // A sign-in answer: tokens, or in cookie mode only the fact (the cookies hold them).
  _signedInWith(answer) {
    if (this.cookie) this._setSignedIn(true);
    else this.setTokens(answer);
    return { mfaRequired: false, tokens: this.tokens };
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
    const r = await this._send('POST', `${API}/auth/login`, this._cookieBody({ tenant, email, password }), { auth: false });
    if (!r.mfa_required) return this._signedInWith(r);
    if (totp == null && recoveryCode == null)
      return { mfaRequired: true, challenge: r.challenge, expiresIn: r.expires_in };
    const code = typeof totp === 'function' ? await totp() : totp;
    return this.verifyMfa({ challenge: r.challenge, code: code ?? undefined, recoveryCode });
  }

  /** Completes an MFA sign-in with the authenticator's code or a recovery code. */
  async verifyMfa({ challenge, code, recoveryCode }) {
    const body = recoveryCode != null ? { challenge, recovery_code: recoveryCode } : { challenge, code };
    const r = await this._send('POST', `${API}/auth/mfa/verify`, this._cookieBody(body), { auth: false });
    return this._signedInWith(r);
  }

  /**
   * Spends a mailed registration token with the password. A new account (201) or an existing
   * one joining the tenant (200) is signed in: {status, tokens}. 202 answers go unchanged.
   */
  async confirmRegistration({ token, password }) {
    const r = await this._send('POST', `${API}/auth/register/confirm`, this._cookieBody({ token, password }), { auth: false });
    if (r && (r.access_token || r.token_type)) this._signedInWith(r);
    return r;
  }

  _cookieBody(body) {
    return this.cookie ? { ...body, cookie: true } : body;
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
    if (this.cookie) return this._doCookieRefresh();
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

  // The refresh token is the cairn_rt cookie: an empty POST with the session's CSRF token.
  // Every tab of the origin shares the cookies, and presenting a rotated refresh token again
  // looks like theft (the server revokes the session): tabs take turns (Web Locks), and a
  // tab whose turn comes after another tab refreshed finds the session valid and stops.
  async _doCookieRefresh() {
    const locks = this._locks;
    try {
      if (locks?.request) await locks.request('cairn-session-refresh', () => this._cookieRefreshTurn());
      else await this._cookieRefreshTurn();
      this._setSignedIn(true);
      return null;
    } catch (e) {
      if (e instanceof CairnError && (e.status === 401 || e.status === 403)) this._setSignedIn(false);
      throw e;
    }
  }

  async _cookieRefreshTurn() {
    try {
      await this._send('GET', `${API}/auth/session`, undefined, { auth: false });
      return; // refreshed by another tab meanwhile
    } catch (e) {
      if (!(e instanceof CairnError) || e.status !== 401 || e.slug === 'token-revoked') throw e;
    }
    await this._send('POST', `${API}/auth/refresh`, undefined, { auth: false });
  }

  /** Ends this session on the server (best effort) and forgets the tokens. */
  async logout() {
    return this._endSessions(`${API}/auth/logout`);
  }

  /** Ends every session of the caller in this tenant (this one included), then signs out here. */
  async logoutAll() {
    return this._endSessions(`${API}/auth/logout-all`);
  }

  async _endSessions(path) {
    try {
      if (this._tokens || this.cookie) await this.request('POST', path, undefined, { reauth: false });
    } catch (e) {
      if (!(e instanceof CairnError) || (e.status !== 401 && e.status !== 0)) throw e;
    } finally {
      if (this.cookie) this._setSignedIn(false);
      else this.setTokens(null);
    }
  }

  /**
   * The caller's session as the server checked it ({session_id, tenant_id, user_id, role,
   * mfa}), or null when not signed in. In cookie mode this is how a page learns, on load,
   * whether its cookies still hold a session.
   */
  async session(opts = {}) {
    try {
      const s = await this.request('GET', `${API}/auth/session`, undefined, { ...opts, reauth: false });
      if (this.cookie) this._setSignedIn(true);
      return s;
    } catch (e) {
      if (!(e instanceof CairnError) || e.status !== 401) throw e;
      if (this.cookie) this._setSignedIn(false);
      return null;
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
    if (this.cookie && !this.apiKey) return this._cookieRequest(method, path, body, opts);
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

  // Cookie mode: the browser sends the cookies. A 401 saying the access cookie is stale or
  // gone (it lives as long as the token) refreshes once and retries; a session that is over
  // asks reauthenticate (if given) and retries once it says the user signed in again.
  async _cookieRequest(method, path, body, opts) {
    const { reauth = true, ...rest } = opts;
    try {
      return await this._send(method, path, body, rest);
    } catch (e) {
      if (!(e instanceof CairnError) || e.status !== 401) throw e;
      let over = e.slug === 'token-revoked';
      if (!over) {
        if (!this._csrfToken()) over = true;
        else {
          try {
            await this.refresh();
          } catch (re) {
            if (!(re instanceof CairnError) || (re.status !== 401 && re.status !== 403)) throw re;
            over = true;
          }
        }
        if (!over) return this._send(method, path, body, rest);
      }
      this._setSignedIn(false);
      if (reauth && this._reauthenticate && await this._askReauth()) return this._send(method, path, body, rest);
      throw e;
    }
  }

  // One prompt for all the requests that found the session over at the same time.
  _askReauth() {
    if (!this._reauthing) {
      this._reauthing = Promise.resolve().then(() => this._reauthenticate())
        .then((ok) => !!ok, () => false).finally(() => { this._reauthing = null; });
    }
    return this._reauthing;
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
    if (this.cookie && !h.authorization && UNSAFE.has(method)) {
      const csrf = this._csrfToken();
      if (csrf) h['x-csrf-token'] = csrf;
    }
    let payload;
    if (typeof body === 'string' && h['content-type']) {
      payload = body; // a prepared body of its own type (CSV)
    } else if (body !== undefined) {
      h['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res, text;
    try {
      const init = { method, headers: h, body: payload, signal };
      if (this.cookie) init.credentials = 'same-origin';
      res = await this._fetch(url, init);
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
      retryAfter: retryAfterSeconds(res.headers.get('retry-after')),
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
    const byCookie = this.client.cookie && !this.client.apiKey;
    try {
      if (this._refreshFirst && !this.client.apiKey) await this.client.refresh();
      this._refreshFirst = false;
      token = byCookie ? null : await this.client.credential();
      if (!token && !byCookie) throw new CairnError({ status: 401, type: 'urn:cairn:problem:unauthorized', title: 'Unauthorized',
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
    let opened = false;
    s.onopen = () => {
      opened = true;
      this._lastRx = Date.now();
      // the cookie authenticated the upgrade: the server says `ready` by itself
      if (token) this._send({ op: 'auth', token });
    };
    s.onmessage = (m) => this._onMessage(m.data);
    s.onerror = (e) => this._emit('error', { code: 'socket', message: e?.message ?? 'WebSocket error', error: e });
    s.onclose = (e) => {
      // cookie mode: a refused upgrade (a stale access cookie) never opens; refresh first
      if (byCookie && !opened) this._refreshFirst = true;
      this._onClose(s, e?.code ?? 1006, e?.reason ?? '');
    };
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
      const canRefresh = this.client.cookie ? this.client.signedIn !== false : !!this.client.tokens?.refreshToken;
      if (this.client.apiKey || !canRefresh) return this._giveUp();
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
