// Type-checked (tsc --strict) against the types openapi-typescript generates from the
// served /api/openapi.json (./api.d.ts, written by tests/e2e/typed_client.test.mjs). It reads
// every operation's answer with the types it must have: a response schema that goes missing
// turns an answer into `never` (or a field into another type) and this file stops compiling.
// `covered` lists every operationId, so a new operation must be added here too.
import type { components, operations, paths } from './api';

type Op = keyof operations;
type Responses<O extends Op> = operations[O]['responses'];
/** The JSON body of operation O's answer with status S. */
type Json<O extends Op, S extends keyof Responses<O>> =
  Responses<O>[S] extends { content: { 'application/json': infer T } } ? T : never;
/** The body of operation O's answer with status S in another media type. */
type Body<O extends Op, S extends keyof Responses<O>, M extends string> =
  Responses<O>[S] extends { content: { [K in M]: infer T } } ? T : never;
/** An answer without a body. */
type NoBody<O extends Op, S extends keyof Responses<O>> =
  Responses<O>[S] extends { content?: never } ? true : never;
type Problem = components['schemas']['Problem'];

const use = (..._values: unknown[]): void => {};
declare function answer<T>(): T;

// ---- system ----
const html: string = answer<Body<'system.home', 200, 'text/html'>>();
const health: 'ok' = answer<Json<'system.health', 200>>().status;
const ready = answer<Json<'system.ready', 200>>();
const migrations: number = ready.migrations;
const metrics: string = answer<Body<'system.metrics', 200, 'text/plain'>>();
const openapi: string = answer<Json<'system.openapi', 200>>().openapi;
use(html, health, migrations, metrics, openapi);

// ---- auth: tokens and sessions ----
const login = answer<Json<'auth.login', 200>>();
if ('mfa_required' in login) {
  const challenge: string = login.challenge;
  const ttl: number = login.expires_in;
  use(challenge, ttl);
} else {
  const access: string | undefined = login.access_token;
  const type: 'Bearer' = login.token_type;
  use(access, type);
}
const registered: number = answer<Json<'auth.register', 201>>().expires_in;
const pending: 'confirmation_sent' = answer<Json<'auth.register', 202>>().status;
const joined: string = answer<Json<'auth.confirmRegistration', 200>>().tenant;
const confirmed: string | undefined = answer<Json<'auth.confirmRegistration', 201>>().refresh_token;
const refreshed: number = answer<Json<'auth.refresh', 200>>().expires_in;
const loggedOut: true = answer<NoBody<'auth.logout', 204>>();
const revoked: number = answer<Json<'auth.logoutAll', 200>>().revoked_sessions;
const otpauth: string = answer<Json<'auth.mfaEnroll', 200>>().otpauth_uri;
const codes: string[] = answer<Json<'auth.mfaConfirm', 200>>().recovery_codes;
const verified: string | undefined = answer<Json<'auth.mfaVerify', 200>>().access_token;
const changed: true = answer<NoBody<'auth.changePassword', 204>>();
const resetAsked: 'accepted' = answer<Json<'auth.requestPasswordReset', 202>>().status;
const reset: true = answer<NoBody<'auth.resetPassword', 204>>();
const session = answer<Json<'auth.session', 200>>();
const mfa: boolean = session.mfa;
use(registered, pending, joined, confirmed, refreshed, loggedOut, revoked, otpauth, codes, verified,
  changed, resetAsked, reset, mfa, session.tenant_id);

// ---- auth: the caller, tenants, members, roles, audit, API keys ----
const me = answer<Json<'users.me', 200>>();
const slug: string = me.tenant.slug;
const deleted: true = answer<NoBody<'users.deleteMe', 204>>();
const exported = answer<Json<'users.exportMe', 200>>();
const exportedAt: number = exported.exported_at;
const sessionEnd: number | null = exported.sessions[0].revoked_at;
const tenant = answer<Json<'tenant.get', 200>>();
const mfaRequired: boolean = tenant.mfa_required_for_admins;
const tenantCreated: number = tenant.created_at;
const updatedTenant: string = answer<Json<'tenant.update', 200>>().name;
const newTenant: string = answer<Json<'tenants.create', 201>>().id;
const tenants: Array<{ slug: string }> = answer<Json<'tenants.list', 200>>().items;
const oneTenant: boolean = answer<Json<'tenants.get', 200>>().allow_registration;
const roles = answer<Json<'roles.list', 200>>().items;
const builtin: boolean = roles[0].builtin;
const roleCreated: number | undefined = answer<Json<'roles.create', 201>>().created_at;
const roleDeleted: true = answer<NoBody<'roles.delete', 204>>();
const members = answer<Json<'users.list', 200>>();
const since: number = members.items[0].member_since;
const next: string | null = members.next_cursor;
const added: string = answer<Json<'users.add', 201>>().role;
const updated: string = answer<Json<'users.update', 200>>().role;
const removed: true = answer<NoBody<'users.remove', 204>>();
const cleared: number = answer<Json<'users.unlock', 200>>().cleared_records;
const entry = answer<Json<'audit.list', 200>>().items[0];
const actor: string | null = entry.actor;
const auditAt: number = entry.at;
const chain = answer<Json<'audit.verify', 200>>();
const chainBreak: number | null = chain.broken_seq;
const permission = answer<Json<'permissions.list', 200>>().items[0];
const permissionRoles: string[] = permission.roles;
const status = answer<Json<'system.status', 200>>();
const p99: number | null = status.latency_ms.p99;
const deadJobs: number | undefined = status.jobs?.dead; // null when not ready
const bySegment = answer<Json<'insights.metrics', 200>>().by_segment?.[0]?.average_compound;
const key = answer<Json<'apiKeys.create', 201>>();
const secret: string = key.key;
const expires: number | null = key.expires_at;
const keys = answer<Json<'apiKeys.list', 200>>().items;
const lastUsed: number | null = keys[0].last_used_at;
const keyRevoked: true = answer<NoBody<'apiKeys.revoke', 204>>();
use(slug, deleted, exportedAt, sessionEnd, mfaRequired, tenantCreated, updatedTenant, newTenant,
  tenants, oneTenant, builtin, roleCreated, roleDeleted, since, next, added, updated, removed,
  cleared, actor, auditAt, secret, expires, lastUsed, keyRevoked, chainBreak, permissionRoles,
  p99, deadJobs, bySegment);

// ---- jobs and realtime ----
const jobs = answer<Json<'jobs.list', 200>>();
const dead: number = jobs.counts.dead;
const job = answer<Json<'jobs.get', 200>>();
const state: 'queued' | 'running' | 'done' | 'dead' = job.state;
const finished: number | null = job.finished_at;
const retried: number = answer<Json<'jobs.retry', 200>>().attempts;
const upgraded: true = answer<NoBody<'realtime.connect', 101>>();
const stream: string = answer<Body<'realtime.stream', 200, 'text/event-stream'>>();
const present: number = answer<Json<'realtime.presence', 200>>().items[0].connections;
use(dead, state, finished, retried, upgraded, stream, present, jobs.items[0].run_at);

// ---- notes ----
const note = answer<Json<'notes.create', 201>>();
const noteFields: [string, string, string, number, number, number, number] =
  [note.id, note.title, note.body, note.created_at, note.updated_at, note.words, note.analyses];
const listed: number = answer<Json<'notes.list', 200>>().items[0].updated_at;
const got: string = answer<Json<'notes.get', 200>>().body;
const patched: number = answer<Json<'notes.update', 200>>().updated_at;
const noteDeleted: true = answer<NoBody<'notes.delete', 204>>();
const queued: string = answer<Json<'notes.analyse', 202>>().job_id;
use(noteFields, listed, got, patched, noteDeleted, queued);

// ---- insights: times are integer Unix ms ----
const ingested = answer<Json<'interactions.create', 201>>();
const duplicate: boolean = ingested.duplicate;
const ingestedAt: number = ingested.timestamp;
const retry: boolean = answer<Json<'interactions.create', 200>>().duplicate;
const batch = answer<Json<'interactions.createBatch', 200>>();
const itemErrors: Array<{ field: string; message: string }> | undefined = batch.results[0].errors;
const imported: number = answer<Json<'interactions.import', 202>>().bytes;
const importState = answer<Json<'interactions.getImport', 200>>();
const importDone: number | null = importState.finished_at;
const importErrors: string = answer<Body<'interactions.importErrors', 200, 'text/csv'>>();
const exportCsv: string = answer<Body<'interactions.export', 200, 'text/csv'>>();
const hit = answer<Json<'interactions.search', 200>>().items[0];
const matched: boolean = hit.snippet[0].match;
const hitAt: number = hit.interaction.timestamp;
const list = answer<Json<'insights.list', 200>>();
const interaction = list.items[0];
const processed: number | null = interaction.processed_at;
const compound: number | undefined = interaction.sentiment?.compound;
const city: string | null = interaction.enrichment.city;
const total: number | undefined = list.total;
const trends = answer<Json<'insights.trends', 200>>();
const bucketStart: number = trends.buckets[0].start;
const average: number | null = trends.buckets[0].average_compound;
const stats = answer<Json<'insights.metrics', 200>>();
const from: number = stats.from;
const chat: number = stats.by_channel.chat;
const zone: string = answer<Json<'insights.getSettings', 200>>().timezone;
const zoneSet: string = answer<Json<'insights.putSettings', 200>>().timezone;
const label: 'positive' | 'neutral' | 'negative' = answer<Json<'sentiment.score', 200>>().label;
const scores: number = answer<Json<'sentiment.scoreBatch', 200>>().results[0].neg;
const customers = answer<Json<'customers.list', 200>>();
const lastSeen: number | null = customers.items[0].last_seen;
const profile = answer<Json<'customers.get', 200>>();
const recent: number = profile.recent_interactions[0].created_at;
const notAnalysed: number = profile.sentiment.not_analysed;
const put: string | null = answer<Json<'customers.put', 200>>().segment;
const pattern = answer<Json<'customers.patterns', 200>>().items[0];
const detected: number = pattern.detected_at;
use(duplicate, ingestedAt, retry, itemErrors, imported, importDone, importErrors, exportCsv,
  matched, hitAt, processed, compound, city, total, bucketStart, average, from, chat, zone,
  zoneSet, label, scores, lastSeen, recent, notAnalysed, put, detected);

// ---- errors: every 4xx is a problem ----
type NotFound = Responses<'notes.get'>[404]['content']['application/problem+json'];
const problemType: string = answer<NotFound>().type;
const fieldErrors: Problem['errors'] = answer<Problem>().errors;
use(problemType, fieldErrors);

// ---- every operation is read above ----
const covered: { [K in Op]: true } = {
  'system.home': true, 'system.health': true, 'system.ready': true, 'system.status': true, 'system.metrics': true,
  'system.openapi': true, 'auth.login': true, 'auth.register': true,
  'auth.confirmRegistration': true, 'auth.refresh': true,
  'auth.tenants': true, 'auth.switch': true, 'auth.logout': true,
  'auth.logoutAll': true, 'auth.mfaEnroll': true, 'auth.mfaConfirm': true,
  'auth.mfaVerify': true, 'auth.changePassword': true, 'auth.requestPasswordReset': true,
  'auth.resetPassword': true, 'users.me': true, 'users.deleteMe': true, 'auth.session': true,
  'users.exportMe': true, 'tenant.get': true, 'tenant.update': true, 'tenants.create': true,
  'tenants.list': true, 'tenants.get': true, 'roles.list': true, 'permissions.list': true, 'roles.create': true,
  'roles.delete': true, 'users.list': true, 'users.add': true, 'users.update': true,
  'users.remove': true, 'users.unlock': true, 'audit.list': true, 'audit.verify': true, 'apiKeys.create': true,
  'apiKeys.list': true, 'apiKeys.revoke': true, 'jobs.list': true, 'jobs.get': true,
  'jobs.retry': true, 'realtime.connect': true, 'realtime.stream': true,
  'realtime.presence': true, 'notes.create': true, 'notes.list': true, 'notes.get': true,
  'notes.update': true, 'notes.delete': true, 'notes.analyse': true,
  'interactions.create': true, 'interactions.createBatch': true, 'interactions.import': true,
  'interactions.getImport': true, 'interactions.importErrors': true,
  'interactions.export': true, 'interactions.search': true, 'insights.list': true,
  'insights.trends': true, 'insights.metrics': true, 'insights.getSettings': true,
  'insights.putSettings': true, 'sentiment.score': true, 'sentiment.scoreBatch': true,
  'customers.list': true, 'customers.get': true, 'customers.put': true,
  'customers.patterns': true,
};
// paths are keyed by template, with the operation under its method
const byPath: operations['notes.get'] = answer<paths['/api/v1/notes/{id}']['get']>();
use(covered, byPath);
