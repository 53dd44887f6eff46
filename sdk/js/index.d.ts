// Types of @cairn/sdk (index.js). The API's answers and inputs come from ./api.d.ts, which
// scripts/sdk-types generates from the server's OpenAPI document (`cairn openapi`); only the
// client's own shapes are written here.
import type { components, operations, paths } from './api.js';

export type { components, operations, paths };

type Schemas = components['schemas'];
/** The JSON body of operation O's answer with status S (an operationId: "notes.get"). */
export type Answer<O extends keyof operations, S extends keyof operations[O]['responses']> =
  operations[O]['responses'][S] extends { content: { 'application/json': infer T } } ? T : never;

/** One entry of a problem's `errors` array. */
export type FieldError = Schemas['FieldError'];

/** An RFC 9457 problem as the API sends it. */
export type Problem = Schemas['Problem'];

/** The problem type slugs of docs/api.md (urn:cairn:problem:<slug>). */
export type ProblemSlug =
  | 'bad-request' | 'unauthorized' | 'token-expired' | 'token-revoked' | 'token-invalid'
  | 'forbidden' | 'mfa-required' | 'not-found' | 'method-not-allowed' | 'conflict'
  | 'body-too-large' | 'uri-too-long' | 'unsupported-media-type' | 'expectation-failed'
  | 'validation-failed' | 'upgrade-required' | 'rate-limited'
  | 'realtime-connections-per-principal' | 'realtime-connections-per-tenant'
  | 'realtime-connections-process' | 'headers-too-large' | 'internal' | 'unavailable';

/** A non-2xx answer (from its problem+json body), or a network failure (status 0). */
export class CairnError extends Error {
  constructor(init?: {
    status?: number; type?: string; title?: string; detail?: string; request_id?: string | null;
    errors?: FieldError[]; problem?: unknown; retryAfter?: number | null; cause?: unknown;
  });
  name: 'CairnError';
  /** HTTP status; 0 when no answer was received. */
  status: number;
  /** e.g. "urn:cairn:problem:validation-failed"; "urn:cairn:sdk:network-error" for status 0. */
  type: string;
  /** The slug of a Cairn problem type ("token-expired", "validation-failed", …; see
   *  docs/api.md), or null for another type. Match on it, never on `detail`. */
  slug: ProblemSlug | (string & {}) | null;
  title: string;
  detail: string;
  request_id: string | null;
  /** The fields at fault (422), else []. */
  errors: FieldError[];
  /** The parsed body, when it was JSON. */
  problem: Problem | null;
  /** Seconds to wait before trying again (Retry-After of a 429 or 503), else null. */
  retryAfter: number | null;
}

export interface BackoffOptions {
  /** First ceiling (default 250 ms). */
  baseMs?: number;
  /** Largest ceiling (default 30 000 ms). */
  capMs?: number;
}

/** Full jitter: a random delay in [0, min(capMs, baseMs * 2^attempt)). */
export function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;

/** The value of cookie `name` in a Cookie-header-like string ("a=1; b=2"), or null. */
export function cookieValue(cookies: string | null | undefined, name: string): string | null;

/** The exp claim of a JWT as Unix milliseconds, or null. No signature check. */
export function jwtExpiry(token: string): number | null;

export interface Tokens {
  accessToken: string;
  refreshToken: string | null;
  /** Unix milliseconds, or null when unknown. */
  expiresAt: number | null;
}

/** A sign-in or refresh answer of the API. */
export interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  token_type?: 'Bearer';
  expires_in?: number;
}

export interface ClientOptions {
  /** The server's origin, e.g. "https://cairn.example" (without /api/v1). */
  baseUrl: string;
  /** An access token (or the operator's bootstrap token). */
  token?: string;
  /** The refresh token belonging to `token`; enables automatic refresh. */
  refreshToken?: string;
  /** When `token` expires, Unix ms (default: its exp claim). */
  expiresAt?: number;
  /** An API key (cairn_…); used instead of tokens when set. */
  apiKey?: string;
  fetch?: typeof globalThis.fetch;
  /** Called with the newest tokens after sign-in and every refresh, and with null on sign-out. */
  onTokens?: (tokens: Tokens | null) => void;
  /** Refresh this long before the access token expires (default 30 000 ms). */
  refreshSkewMs?: number;
  /** Clock in Unix ms (default Date.now). */
  now?: () => number;
  /** Browser session mode (docs/auth.md "Browser sessions"): sign-in sets HttpOnly cookies
   *  instead of answering tokens, unsafe methods send X-CSRF-Token, a stale access cookie is
   *  refreshed from the refresh cookie, and realtime authenticates by the cookie. */
  cookie?: boolean;
  /** Cookie mode: the CSRF token to send (default: the cairn_csrf cookie of document.cookie). */
  csrfToken?: () => string | null;
  /** Cookie mode: called (once for all requests waiting) when the session is over during a
   *  request; resolve true once the user signed in again and the requests are retried, false
   *  to let them fail with their 401. */
  reauthenticate?: () => Promise<boolean>;
  /** Cookie mode: true on sign-in, false when the session ends (sign-out, refused refresh). */
  onSession?: (signedIn: boolean) => void;
  /** Cookie mode: serialises refreshes across the origin's tabs, which share the cookies
   *  (default navigator.locks; only `request(name, callback)` is used). */
  locks?: { request(name: string, callback: () => Promise<unknown>): Promise<unknown> } | null;
}

/** The caller's session as checked by the server (GET /api/v1/auth/session). */
export type Session = Schemas['Session'];

export interface RequestOptions {
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Cookie mode: ask `reauthenticate` when the session is over (default true). */
  reauth?: boolean;
}

export interface LoginOptions {
  tenant: string;
  email: string;
  password: string;
  /** The authenticator's code, or a function producing it, used if the account has MFA. */
  totp?: string | (() => string | Promise<string>);
  /** A recovery code, used if the account has MFA and no totp is given. */
  recoveryCode?: string;
}

export type LoginResult =
  /** tokens is null in cookie mode: the cookies hold them */
  | { mfaRequired: false; tokens: Tokens | null }
  | { mfaRequired: true; challenge: string; expiresIn: number };

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Note = Schemas['Note'];
export type NoteInput = Schemas['NoteCreate'];
export type NotePatch = Schemas['NoteUpdate'];

export interface NotesApi {
  create(note: NoteInput, options?: RequestOptions): Promise<Note>;
  get(id: string, options?: RequestOptions): Promise<Note>;
  list(query?: { limit?: number; cursor?: string }, options?: RequestOptions): Promise<Schemas['NoteList']>;
  update(id: string, patch: NotePatch, options?: RequestOptions): Promise<Note>;
  delete(id: string, options?: RequestOptions): Promise<void>;
  /** Every note, newest first, across all pages. */
  all(query?: { limit?: number }): AsyncGenerator<Note, void, undefined>;
}

export type Sentiment = Schemas['Sentiment'];
export type InteractionInput = Schemas['InteractionCreate'];
/** A stored interaction; its times are integer Unix milliseconds. */
export type Interaction = Schemas['Interaction'];
export type Customer = Schemas['Customer'];
export type CustomerProfile = Schemas['CustomerProfile'];
export type Pattern = Schemas['PatternList']['items'][number];

/** The customer-insights app (docs/insights.md). Query objects take the documented parameters. */
export interface InsightsApi {
  ingest(interaction: InteractionInput, options?: RequestOptions): Promise<Answer<'interactions.create', 201>>;
  ingestBatch(items: InteractionInput[], options?: RequestOptions): Promise<Answer<'interactions.createBatch', 200>>;
  /** Starts a CSV import job: {id, job_id, state, bytes}. */
  importCsv(csv: string, options?: RequestOptions): Promise<Answer<'interactions.import', 202>>;
  list(query?: Record<string, string | number | boolean>, options?: RequestOptions): Promise<Answer<'insights.list', 200>>;
  all(query?: Record<string, string | number | boolean>): AsyncGenerator<Interaction, void, undefined>;
  trends(query?: Record<string, string>, options?: RequestOptions): Promise<Answer<'insights.trends', 200>>;
  metrics(query?: Record<string, string>, options?: RequestOptions): Promise<Answer<'insights.metrics', 200>>;
  search(q: string, query?: { limit?: number; cursor?: string }, options?: RequestOptions): Promise<Answer<'interactions.search', 200>>;
  customer(id: string, options?: RequestOptions): Promise<CustomerProfile>;
  patterns(id: string, options?: RequestOptions): Promise<Answer<'customers.patterns', 200>>;
  sentiment(text: string, options?: RequestOptions): Promise<Sentiment>;
}

export class CairnClient {
  constructor(options: ClientOptions);
  readonly baseUrl: string;
  apiKey: string | null;
  refreshSkewMs: number;
  readonly notes: NotesApi;
  readonly insights: InsightsApi;
  /** A copy of the current tokens, or null (always null in cookie mode). */
  readonly tokens: Tokens | null;
  /** True in cookie mode. */
  readonly cookie: boolean;
  /** Cookie mode: true once signed in, false once signed out, null until known. Token mode:
   *  whether tokens or an API key are held. */
  readonly signedIn: boolean | null;
  /** Cookie mode: adds a listener of sign-in (true) and session end (false); returns its remover. */
  onSession(fn: (signedIn: boolean) => void): () => void;

  /** Adds a token-change listener; returns its remover. */
  onTokens(fn: (tokens: Tokens | null) => void): () => void;
  /** Replaces the tokens (from a sign-in/refresh answer) or clears them (null); listeners are told. */
  setTokens(answer: TokenAnswer | null): void;

  login(options: LoginOptions): Promise<LoginResult>;
  verifyMfa(options: { challenge: string; code?: string; recoveryCode?: string }): Promise<{ mfaRequired: false; tokens: Tokens | null }>;
  /** Spends a mailed registration token; signs in on 201/200 (cookies in cookie mode). */
  confirmRegistration(options: { token: string; password: string }): Promise<any>;
  /** Rotates the refresh token (in cookie mode, the cairn_rt cookie: resolves to null);
   *  concurrent calls share one request. A 401 clears the tokens (cookie mode: signs out). */
  refresh(): Promise<Tokens | null>;
  /** Ends this session on the server (best effort) and signs out here. */
  logout(): Promise<void>;
  /** Ends every session of the caller in this tenant, then signs out here. */
  logoutAll(): Promise<void>;
  /** The caller's session, or null when not signed in (a 401). */
  session(options?: RequestOptions): Promise<Session | null>;
  /** The API key, or an access token valid for at least refreshSkewMs (refreshing first if needed). */
  credential(): Promise<string | null>;

  request<T = any>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  get<T = any>(path: string, options?: RequestOptions): Promise<T>;
  get<T = any>(path: string, body: undefined, options?: RequestOptions): Promise<T>;
  post<T = any>(path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  put<T = any>(path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  patch<T = any>(path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  delete<T = any>(path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  /** Yields every item of a cursor-paginated list, following next_cursor. */
  paginate<T = any>(path: string, query?: Record<string, string | number | boolean | null | undefined>): AsyncGenerator<T, void, undefined>;

  realtime(options?: RealtimeOptions): RealtimeClient;
}

/** An event as delivered on a channel. */
export interface RealtimeEvent<D = any> {
  op: 'event';
  channel: string;
  seq: number;
  epoch: string;
  type: string;
  at: number;
  data: D;
}

export interface Position {
  seq: number | null;
  epoch: string | null;
}

export interface ReadyMessage {
  op: 'ready';
  tenant_id: string;
  subject: string;
  heartbeat_s?: number;
}

export interface RealtimeErrorInfo {
  /** The server's code (invalid_message, unauthorized, forbidden, unknown_channel,
   *  too_many_subscriptions, unavailable — the client then subscribes again by itself) or
   *  the client's (auth, connect, socket, handler, listener). */
  code: string;
  message: string;
  channel?: string;
  error?: unknown;
}

export type RealtimeState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface RealtimeEvents {
  open: ReadyMessage;
  close: { code: number; reason: string };
  state: RealtimeState;
  error: RealtimeErrorInfo;
  resync_required: { channel: string; seq: number; epoch: string };
  subscribed: { op: 'subscribed'; channel: string; seq: number; epoch: string };
}

export interface RealtimeOptions {
  /** Default: the client's baseUrl as ws(s)://…/api/v1/realtime. */
  url?: string;
  /** A WebSocket constructor (default: globalThis.WebSocket, else the `ws` package). */
  WebSocket?: any;
  backoff?: BackoffOptions & {
    /** A connection open this long resets the back-off (default 10 000 ms). */
    stableMs?: number;
  };
  /** Ping after this long without a message; reconnect after twice that (default 25 000 ms). */
  heartbeatMs?: number;
  /** Random source for the jitter (default Math.random). */
  random?: () => number;
}

export class RealtimeClient {
  constructor(client: CairnClient, options?: RealtimeOptions);
  readonly url: string;
  readonly state: RealtimeState;
  /** The current underlying WebSocket, or null between connections. */
  readonly socket: any;
  on<K extends keyof RealtimeEvents>(event: K, fn: (arg: RealtimeEvents[K]) => void): () => void;
  /** Returns the unsubscribe function. */
  subscribe<D = any>(channel: string, onEvent: (event: RealtimeEvent<D>) => void,
    options?: { since?: number; epoch?: string }): () => void;
  /** The last position seen on a subscribed channel, else null. */
  position(channel: string): Position | null;
  /** Closes for good (no reconnect). */
  close(): void;
}

/** Per-channel resume bookkeeping used by RealtimeClient. */
export class ChannelState {
  constructor(channel: string, options?: { since?: number; epoch?: string });
  channel: string;
  seq: number | null;
  epoch: string | null;
  subscribeMessage(): { op: 'subscribe'; channel: string; since?: number; epoch?: string };
  subscribed(message: { seq: number; epoch: string }): void;
  /** True for a new event (the position moves), false for a duplicate. */
  accept(event: { seq: number; epoch?: string }): boolean;
  resync(message: { seq: number; epoch?: string }): void;
}
