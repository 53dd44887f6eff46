#!/usr/bin/env node
// The SQL that modules share must be valid on SQLite and on PostgreSQL alike
// (docs/architecture.md, "SQL both engines accept"). This check runs as a ctest
// (sql_common_spelling) so a SQLite-only spelling is caught without a PostgreSQL server:
//
//   node scripts/sql-common.mjs <dir> [--root <dir>]   (paths printed relative to root)
//   node scripts/sql-common.mjs --self-test           (each rule against examples)
//   add --list to print every text it checks, one JSON object a line
//
// It reads every .c and .h file under <dir>, joins adjacent C string literals (and the
// upper-case macros between them, `"SELECT " INS_COLUMNS " FROM …"`) into one text, and
// fails naming file:line and the rule for each text holding a spelling from RULES. Not
// checked, on purpose:
//   - migrations (the initialisers of a `cn_migration_t x[] = {…}`, and the named texts
//     they refer to, SQLite's or PostgreSQL's): their DDL differs by driver (INTEGER/BIGINT,
//     WITHOUT ROWID, FTS5) and gets a text per driver (cn_migration_t's pg);
//   - statements with a text per engine (the initialisers of a `cn_sql_pair_t x = {…};`:
//     full-text search, row locks, sequences), SQLite's spelling beside PostgreSQL's;
//   - the places in ALLOWED below, which are SQLite's own by nature (the SQLite driver).
//     An entry that matches nothing fails the check too, so the list never outlives the
//     code it excuses.
// It is a scan of literals, not a parser: SQL assembled at run time from fragments is
// only checked fragment by fragment.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// [name, pattern, what to write instead]; patterns see one joined literal text
const RULES = [
  ['IS NOT $n', /\bIS\s+(NOT\s+)?\$\d/i, 'IS [NOT] DISTINCT FROM $n (PostgreSQL: syntax error)'],
  ['$n IS NULL', /\$\d+\s+IS\s+(NOT\s+)?NULL\b/i,
    'CAST($n AS TEXT) IS NULL (PostgreSQL cannot type a parameter it first meets there)'],
  ['bare $n as a CASE result', /\b(THEN|ELSE)\s+\$\d+\b/i,
    'CAST($n AS BIGINT) or the column\'s type (PostgreSQL types a CASE of lone parameters as text)'],
  ['$n in arithmetic with a literal', /\$\d+\s*[-+*/%]\s*\d/,
    'CAST($n AS BIGINT) + 1 (PostgreSQL: $n + 1 is a 32-bit integer)'],
  ['SUM of a comparison', /\bSUM\s*\((?!\s*CASE\b)[^()]*?(<>|!=|<=|>=|=|<|>|\bIS\b|\bLIKE\b|\bIN\s*\()/i,
    'COUNT(*) FILTER (WHERE …) or COUNT(CASE WHEN … THEN 1 END) (PostgreSQL: no sum(boolean))'],
  ['INSERT OR …', /\bINSERT\s+OR\s+\w+/i, 'INSERT … ON CONFLICT (…) DO NOTHING / DO UPDATE'],
  ['REPLACE INTO', /\bREPLACE\s+INTO\b/i, 'INSERT … ON CONFLICT (…) DO UPDATE'],
  ['date/time function', /\b(strftime|datetime|julianday|unixepoch|date|time)\s*\(/i,
    'Unix ms computed in C and bound as a parameter'],
  ['SQLite function',
    /\b(ifnull|iif|instr|printf|format|group_concat|typeof|last_insert_rowid|changes|total_changes|randomblob|zeroblob|likelihood|unlikely|sqlite_\w+)\s*\(/i,
    'COALESCE, CASE, or the work in C'],
  ['JSON function', /\b(json_\w+|jsonb_\w+)\s*\(|->>?/i,
    'decode the JSON in C (or a text per driver)'],
  ['GLOB / REGEXP', /\b(GLOB|REGEXP)\b/, 'LIKE on a fixed prefix, or the test in C'],
  ['collation', /\bCOLLATE\b|\bNOCASE\b/i, 'compare bytes (the PostgreSQL database is created with collation C)'],
  ['scalar max/min', /\b(max|min)\s*\([^()]*,/i, 'CASE WHEN a > b THEN a ELSE b END (PostgreSQL: GREATEST/LEAST)'],
  ['round(x, n)', /\bround\s*\([^()]*,/i, 'round in C (PostgreSQL: only round(numeric, int))'],
  ['negative LIMIT', /\bLIMIT\s+-/i, 'leave LIMIT out'],
  ['== in SQL', /[^=!<>]==[^=]/, '= (PostgreSQL has no ==)'],
  [':: cast', /::\s*(bigint|int|integer|text|boolean|bool|jsonb?|real|double|numeric|bytea|regconfig|tsvector|tsquery)\b/i,
    'CAST(x AS …) (SQLite: syntax error)'],
  ['SQLite-only DDL or statement',
    /\b(PRAGMA|WITHOUT\s+ROWID|AUTOINCREMENT|VIRTUAL\s+TABLE|BEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)|ATTACH|VACUUM\s+INTO)\b/i,
    'a text per driver'],
  ['FTS5', /\b(MATCH|bm25|snippet|highlight|fts5|rowid)\b/, 'a text per driver'],
];

// a text is SQL when it holds one of these words (the code writes SQL keywords upper-case)
const SQL = /\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|JOIN|VALUES|SET|AND|OR|CASE|ORDER BY|GROUP BY|LIMIT|CREATE|ALTER|DROP|PRAGMA|BEGIN)\b/;

// [file relative to the root, a text the literal holds ('' = the whole file), why]
const ALLOWED = [
  ['src/store/sqlite.c', '', 'the SQLite driver itself: PRAGMAs, BEGIN IMMEDIATE'],
];

// Splits C source into string literals (with line numbers) and the code between them;
// comments and character constants are skipped.
function literals(src) {
  const out = [];
  let i = 0;
  let line = 1;
  let between = '';
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') line++;
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      for (let k = i; k < stop; k++) if (src[k] === '\n') line++;
      i = stop;
      continue;
    }
    if (c === "'") {
      i++;
      while (i < src.length && src[i] !== "'") i += src[i] === '\\' ? 2 : 1;
      i++;
      between += ' ';
      continue;
    }
    if (c === '"') {
      const start = line;
      let text = '';
      i++;
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\') {
          text += src[i + 1] === 'n' ? '\n' : src[i + 1];
          i += 2;
          continue;
        }
        if (src[i] === '\n') line++;
        text += src[i++];
      }
      i++;
      out.push({ before: between, text, line: start, offset: i });
      between = '';
      continue;
    }
    between += c;
    i++;
  }
  return out;
}

// Adjacent literals (only white space or upper-case macro names between them) form one text.
function texts(src) {
  const groups = [];
  for (const lit of literals(src)) {
    const glue = lit.before.match(/^\s*((?:[A-Z][A-Z0-9_]*\s*)*)$/);
    const last = groups[groups.length - 1];
    if (last && glue) {
      last.text += glue[1].trim() ? ` ${glue[1].trim()} ${lit.text}` : lit.text;
      last.end = lit.offset;
    } else {
      groups.push({ text: lit.text, line: lit.line, start: lit.offset, end: lit.offset });
    }
  }
  return groups;
}

// Offset of the `;` ending the declaration that starts at `from` (strings and comments
// may hold a `;`).
function declarationEnd(src, from) {
  let k = from;
  for (; k < src.length && src[k] !== ';'; k++) {
    if (src.startsWith('/*', k)) k = src.indexOf('*/', k + 2) + 1 || src.length;
    else if (src.startsWith('//', k)) k = src.indexOf('\n', k) >>> 0;
    else if (src[k] === '"')
      for (k++; k < src.length && src[k] !== '"'; k++) if (src[k] === '\\') k++;
  }
  return k;
}

// [start, end) offsets of each `cn_migration_t name[] = {…};` initialiser, and the names of
// the `const char x[]` texts such an initialiser refers to (defined in this file or another).
function migrationRanges(src, names) {
  const ranges = [];
  const re = /cn_migration_t\s+\w+\s*\[\s*\w*\s*\]\s*=\s*\{/g;
  for (let m; (m = re.exec(src));) {
    const end = declarationEnd(src, m.index);
    ranges.push([m.index, end]);
    // the identifiers left once comments and literals are gone: the named texts (sql or pg)
    const body = src
      .slice(m.index + m[0].length, end)
      .replace(/\/\*[\s\S]*?\*\//g, ' ')
      .replace(/"(?:[^"\\]|\\.)*"/g, ' ');
    for (const r of body.matchAll(/\b[A-Za-z_]\w*\b/g)) names.add(r[0]);
  }
  return ranges;
}

// [start, end) offsets of each `cn_sql_pair_t name = {…};` initialiser: a text per engine.
function pairRanges(src) {
  return [...src.matchAll(/\bcn_sql_pair_t\s+\w+\s*=\s*\{/g)].map((m) => [
    m.index,
    declarationEnd(src, m.index),
  ]);
}

// [start, end) offsets of the definitions of those named texts.
function namedRanges(src, names) {
  const ranges = [];
  for (const m of src.matchAll(/\bchar\s+([A-Za-z_]\w*)\s*\[\s*\]\s*=/g))
    if (names.has(m[1])) ranges.push([m.index, declarationEnd(src, m.index)]);
  return ranges;
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return /\.[ch]$/.test(e.name) ? [p] : [];
  });
}

// --self-test: every rule fails on its example, and the common spellings pass them all
const CAUGHT = [
  'SELECT a FROM t WHERE b IS NOT $3',
  'SELECT a FROM t WHERE ($2 IS NULL OR b = $2)',
  'UPDATE t SET a = CASE WHEN $2 IS NULL THEN $3 END',
  'UPDATE t SET n = $2 + 1 WHERE id = $1',
  "SELECT SUM(sentiment = 'positive') FROM interactions",
  "INSERT OR IGNORE INTO t VALUES ($1)",
  'REPLACE INTO t VALUES ($1)',
  "SELECT strftime('%s', 'now') FROM t",
  'SELECT ifnull(a, 0) FROM t',
  'SELECT value ->> 0 FROM json_each($1)',
  "SELECT a FROM t WHERE b GLOB 'x*'",
  'SELECT a FROM t ORDER BY b COLLATE NOCASE',
  'SELECT max(a, b) FROM t',
  'SELECT round(a, 2) FROM t',
  'SELECT a FROM t LIMIT -1',
  'SELECT a FROM t WHERE b == 1',
  'SELECT $1::bigint FROM t',
  'PRAGMA foreign_keys=ON',
  'SELECT rowid FROM t WHERE t MATCH $1',
];
const COMMON = [
  'SELECT a FROM t WHERE b IS DISTINCT FROM $3 AND c IS NOT NULL',
  'SELECT a FROM t WHERE (CAST($2 AS TEXT) IS NULL OR b = $2)',
  "SELECT COUNT(*) FILTER (WHERE sentiment = 'positive'), SUM(CASE WHEN a = 1 THEN 1 ELSE 0 END) FROM t",
  "SELECT COUNT(CASE WHEN s = 'x' THEN 1 END), SUM(a), MAX(b), min(c) FROM t ORDER BY 1 NULLS FIRST",
  'INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING a',
  'UPDATE t SET n = CAST($2 AS BIGINT) + 1 WHERE id = $1 AND (ts, seq) < ($3, $4)',
  'SELECT ts - ts % $3, CASE WHEN $1 = 1 THEN CAST($2 AS BIGINT) ELSE a END FROM t',
];
if (process.argv[2] === '--self-test') {
  const bad = [];
  for (const q of CAUGHT) if (!RULES.some(([, re]) => re.test(q))) bad.push(`not caught: ${q}`);
  for (const q of COMMON)
    for (const [name, re] of RULES) if (re.test(q)) bad.push(`${name} flags a common spelling: ${q}`);
  for (const [name, re] of RULES)
    if (!CAUGHT.some((q) => re.test(q))) bad.push(`rule without an example: ${name}`);
  if (bad.length) {
    console.log(bad.join('\n'));
    process.exit(1);
  }
  console.error(`sql-common: ${RULES.length} rules catch their ${CAUGHT.length} examples`);
  process.exit(0);
}

const args = process.argv.slice(2);
const dir = args[0];
const rootAt = args.indexOf('--root');
const list = args.includes('--list');
const root = rootAt >= 0 ? args[rootAt + 1] : path.dirname(path.resolve(dir));
if (!dir) {
  console.error('usage: node scripts/sql-common.mjs <dir> [--root <dir>]');
  process.exit(2);
}

const files = walk(dir).sort().map((file) => ({
  rel: path.relative(root, file).split(path.sep).join('/'),
  src: readFileSync(file, 'utf8'),
}));
const names = new Set();
for (const f of files) f.skip = migrationRanges(f.src, names);
const used = new Set();
const findings = [];
for (const { rel, src, skip: arrays } of files) {
  const skip = arrays.concat(namedRanges(src, names), pairRanges(src));
  for (const t of texts(src)) {
    if (!SQL.test(t.text)) continue;
    if (skip.some(([a, b]) => t.start > a && t.end <= b)) continue;
    if (list) console.log(JSON.stringify({ at: `${rel}:${t.line}`, sql: t.text }));
    const hits = RULES.filter(([, re]) => re.test(t.text));
    if (hits.length === 0) continue;
    const allow = ALLOWED.findIndex(([f, has]) => f === rel && t.text.includes(has));
    if (allow >= 0) {
      used.add(allow);
      continue;
    }
    for (const [name, , fix] of hits) {
      const excerpt = t.text.replace(/\s+/g, ' ').slice(0, 100);
      findings.push(`${rel}:${t.line}: ${name}: "${excerpt}" — write ${fix}`);
    }
  }
}
const scanned = path.relative(root, path.resolve(dir)).split(path.sep).join('/');
ALLOWED.forEach(([f, has, why], k) => {
  if (!used.has(k) && (f + '/').startsWith(scanned + '/'))
    findings.push(`${f}: allow-list entry "${has}" (${why}) matches nothing: remove it`);
});
if (findings.length > 0) {
  console.log(findings.join('\n'));
  console.error(`sql-common: ${findings.length} finding(s) in shared SQL (above)`);
  process.exit(1);
}
console.error(`sql-common: ${dir}: the shared SQL uses spellings both engines accept`);
