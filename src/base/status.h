/*
 * The one vocabulary of internal return values, shared by every layer above lib/:
 * negative = an error (CN_E*: the caller gives up, a cn_err_t or the request carries the
 * message), 0 = done (CN_OK), positive = a named outcome that is not an error but asks
 * the caller to do something other than go on as after CN_OK. A function returns only the
 * positive values its doc comment names; no function returns a bare 1 to mean one of
 * these. Values are distinct so that a value passed to the wrong reader is never
 * mistaken for another outcome. docs/architecture.md ("Return values") lists them.
 * Predicates (cn_events_channel_valid, auth_caller_holds, ...) answer a yes/no question
 * with 1 or 0 and are not part of this vocabulary.
 * Library code under src/lib/ keeps its own small results (cn_geoip_lookup's
 * CN_GEO_*, CN_CSV_STOP): it does not depend on this header.
 */
#ifndef CAIRN_BASE_STATUS_H
#define CAIRN_BASE_STATUS_H

enum {
    /* ---- errors: negative ---- */
    CN_ERR = -1,           /* internal failure: logged, never shown to clients */
    CN_EINVAL = -2,        /* malformed input (400) */
    CN_EVALIDATION = -3,   /* well-formed input that breaks the schema (422) */
    CN_ENOTFOUND = -4,     /* 404 */
    CN_ECONFLICT = -5,     /* uniqueness or state conflict (409) */
    CN_EUNAUTH = -6,       /* no or bad credentials (401) */
    CN_EFORBIDDEN = -7,    /* authenticated but not allowed (403) */
    CN_EBUSY = -8,         /* retry later (503) */
    CN_ETOONEW = -9,       /* database schema newer than this binary */
    CN_EUNSUPPORTED = -10, /* wrong content type (415); an engine not built in (exit 78) */
    CN_ERATELIMIT = -11,   /* too many attempts (429) */
    CN_EUPGRADE = -12,     /* the endpoint needs another protocol (426) */

    /* ---- done: zero ---- */
    CN_OK = 0,

    /* ---- named outcomes: positive ---- */
    /* A handler offloaded work (cn_req_offload) and its completion answers later; the
     * handler's unit of work ends without judging an answer that has not come yet. */
    CN_PENDING = 1,
    /* cn_http_end_turn answered requests outside h2o: the loop polls again at once, since
     * h2o runs those writes' completions only inside h2o_evloop_run. */
    CN_TURN_ANSWERED = 2,
    /* cn_http_end_turn found the write lock held: queued writes wait for a later turn. */
    CN_TURN_WAITING = 3,
    /* A step of the request pipeline passed: go on to the next one (a step that answered
     * the request itself, with a problem or a preflight, returns CN_OK). */
    CN_NEXT = 4,
    /* The cache held the value: it is in the caller's buffer (cn_cache_get), or the
     * cached answer is in cn_reply_buffer(r) and only needs sending (cn_cache_request). */
    CN_CACHE_HIT = 5,
    /* cn_reply_stream started a streamed body: the handler's generator sends the rest. */
    CN_STREAMING = 6,
    /* cn_stmt_step: a row is ready to read (CN_ROW), or the statement has run to its end
     * (CN_DONE). */
    CN_ROW = 7,
    CN_DONE = 8,
    /* cn_events_replay: the client's position cannot be continued from the history (it
     * resyncs from the current state). */
    CN_RESYNC = 9,
};

#endif
