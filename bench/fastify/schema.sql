-- The Fastify + pg peer's tables (bench/fastify/server.mjs), in a database of their own on
-- the PostgreSQL server Cairn uses in bench/pg.sh. The same columns and keys as Cairn's
-- notes, api_keys, audit_log and realtime_* tables on PostgreSQL, so a row costs alike.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, prefix TEXT NOT NULL UNIQUE,
  secret_hash TEXT NOT NULL, name TEXT NOT NULL, scopes TEXT NOT NULL,
  created_by TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT,
  last_used_at BIGINT, revoked_at BIGINT);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE notes (
  tenant_id TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  words BIGINT NOT NULL DEFAULT 0, analyses BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id));

-- seq is a plain sequence here: the peer does not chain the entries (see server.mjs)
CREATE TABLE audit_log (
  seq BIGSERIAL PRIMARY KEY, tenant_id TEXT, actor TEXT NOT NULL, action TEXT NOT NULL,
  object TEXT, ip TEXT NOT NULL, request_id TEXT NOT NULL, status BIGINT NOT NULL,
  at BIGINT NOT NULL, salt TEXT NOT NULL, personal TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);

CREATE TABLE realtime_channels (
  tenant_id TEXT NOT NULL, channel TEXT NOT NULL, seq BIGINT NOT NULL, epoch TEXT NOT NULL,
  PRIMARY KEY (tenant_id, channel));
CREATE TABLE realtime_events (
  tenant_id TEXT NOT NULL, channel TEXT NOT NULL, seq BIGINT NOT NULL, type TEXT NOT NULL,
  data TEXT NOT NULL, at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, channel, seq));
-- the peer's EVENT_SEQ=sequence mode numbers events from this instead of realtime_channels
CREATE SEQUENCE realtime_events_seq;
