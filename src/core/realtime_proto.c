/*
 * The realtime protocol's messages (docs/realtime.md): the parser of what clients send
 * (also fed by the fuzz target) and the encoders of what the hub sends, as WebSocket JSON
 * and as event-stream records. Encoding only: the bytes go to cn__rt_client_send, nothing here
 * touches a socket or the hub's tables.
 */
#include "core/realtime_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- the protocol's parser ---- */

static int copy_field(json_t *o, const char *name, char *out, size_t cap, int required, char *why,
                      size_t why_cap)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        out[0] = '\0';
        if (required)
            snprintf(why, why_cap, "%s is required", name);
        return required ? -1 : 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= cap) {
        snprintf(why, why_cap, "%s must be a string of at most %zu bytes", name, cap - 1);
        return -1;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int cn_rt_parse(const char *text, size_t len, cn_rt_msg_t *m, char *why, size_t why_cap)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    memset(m, 0, sizeof(*m));
    m->since = -1;
    int rc = -1;
    const char *op = json_string_value(json_object_get(o, "op"));
    if (o == NULL) {
        snprintf(why, why_cap, "not JSON: %s at line %d column %d", jerr.text, jerr.line,
                 jerr.column);
    } else if (!json_is_object(o)) {
        snprintf(why, why_cap, "a message is a JSON object");
    } else if (op == NULL) {
        snprintf(why, why_cap, "op is required and must be a string");
    } else if (strcmp(op, "ping") == 0) {
        m->op = RT_PING;
        rc = 0;
    } else if (strcmp(op, "auth") == 0) {
        m->op = RT_AUTH;
        rc = copy_field(o, "token", m->token, sizeof(m->token), 1, why, why_cap);
    } else if (strcmp(op, "subscribe") == 0 || strcmp(op, "unsubscribe") == 0) {
        m->op = op[0] == 's' ? RT_SUBSCRIBE : RT_UNSUBSCRIBE;
        rc = copy_field(o, "channel", m->channel, sizeof(m->channel), 1, why, why_cap);
        if (rc == 0 && !cn_events_channel_valid(m->channel)) {
            snprintf(why, why_cap, "channel must be 1-%d letters, digits or ._-:", CN_CHANNEL_MAX);
            rc = -1;
        }
        json_t *since = json_object_get(o, "since");
        if (rc == 0 && m->op == RT_SUBSCRIBE && since != NULL) {
            if (!json_is_integer(since) || json_integer_value(since) < 0) {
                snprintf(why, why_cap, "since must be an integer >= 0");
                rc = -1;
            } else {
                m->since = json_integer_value(since);
            }
        }
        if (rc == 0 && m->op == RT_SUBSCRIBE)
            rc = copy_field(o, "epoch", m->epoch, sizeof(m->epoch), 0, why, why_cap);
    } else {
        snprintf(why, why_cap, "unknown op; use auth, subscribe, unsubscribe or ping");
    }
    json_decref(o);
    return rc;
}

/* ---- messages the hub sends ---- */

void cn__rt_event_json(cn_buf_t *b, const cn_event_t *ev)
{
    cn_jw_t w;
    cn_jw_init(&w, b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, "event", 5);
    cn_jw_key(&w, "channel");
    cn_jw_str(&w, ev->channel, strlen(ev->channel));
    cn_jw_key(&w, "seq");
    cn_jw_int(&w, ev->seq);
    cn_jw_key(&w, "epoch");
    cn_jw_str(&w, ev->epoch, strlen(ev->epoch));
    cn_jw_key(&w, "type");
    cn_jw_str(&w, ev->type, strlen(ev->type));
    cn_jw_key(&w, "at");
    cn_jw_int(&w, ev->at_ms);
    cn_jw_key(&w, "data");
    cn_jw_raw(&w, ev->data, ev->data_len);
    cn_jw_end(&w);
}

void cn__rt_event_sse(cn_buf_t *b, const cn_event_t *ev, const char *json, size_t len)
{
    cn_buf_appendf(b, "id: %s:%lld\nevent: %s\ndata: ", ev->epoch, (long long)ev->seq, ev->type);
    cn_buf_append(b, json, len);
    cn_buf_lit(b, "\n\n");
}

/* Sends a protocol message; an event stream gets it as a record, named sse_event if given,
 * with the position sse_id ("<epoch>:<seq>") as its id if given. */
static void send_jw_id(client_t *c, const char *sse_event, const char *sse_id, cn_buf_t *b)
{
    cn_buf_t sse = {0};
    if (c->kind == CLIENT_SSE) {
        if (sse_id != NULL)
            cn_buf_appendf(&sse, "id: %s\n", sse_id);
        if (sse_event != NULL)
            cn_buf_appendf(&sse, "event: %s\n", sse_event);
        cn_buf_lit(&sse, "data: ");
        cn_buf_append(&sse, b->data, b->len);
        cn_buf_lit(&sse, "\n\n");
    }
    cn__rt_client_send(c, b->data, b->len, sse.data, sse.len);
    cn_buf_free(&sse);
}

void cn__rt_send_jw(client_t *c, const char *sse_event, cn_buf_t *b)
{
    send_jw_id(c, sse_event, NULL, b);
}

void cn__rt_send_error(client_t *c, const char *code, const char *message, const char *channel)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    cn_jw_init(&w, &b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, "error", 5);
    cn_jw_key(&w, "code");
    cn_jw_str(&w, code, strlen(code));
    cn_jw_key(&w, "message");
    cn_jw_str(&w, message, strlen(message));
    if (channel != NULL) {
        cn_jw_key(&w, "channel");
        cn_jw_str(&w, channel, strlen(channel));
    }
    cn_jw_end(&w);
    cn__rt_send_jw(c, NULL, &b);
    cn_buf_free(&b);
}

/* Sends subscribed or resync_required. at is where the subscription stands once the client
 * has this record: an event stream gives it as the record's id, so that a client cut off
 * before the next event resumes from there (Last-Event-ID) instead of from "now". */
void cn__rt_send_position(client_t *c, const char *op, const char *channel,
                          const cn_position_t *pos, const cn_position_t *at)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    cn_jw_init(&w, &b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, op, strlen(op));
    cn_jw_key(&w, "channel");
    cn_jw_str(&w, channel, strlen(channel));
    cn_jw_key(&w, "seq");
    cn_jw_int(&w, pos->seq);
    cn_jw_key(&w, "epoch");
    cn_jw_str(&w, pos->epoch, strlen(pos->epoch));
    cn_jw_end(&w);
    char id[CN_EPOCH_LEN + 24];
    snprintf(id, sizeof(id), "%s:%lld", at->epoch, (long long)at->seq);
    send_jw_id(c, op, id, &b);
    cn_buf_free(&b);
}

void cn__rt_send_ready(client_t *c)
{
    cn_buf_t b = {0};
    cn_jw_t w;
    cn_jw_init(&w, &b);
    cn_jw_object(&w);
    cn_jw_key(&w, "op");
    cn_jw_str(&w, "ready", 5);
    cn_jw_key(&w, "tenant_id");
    cn_jw_str(&w, c->principal->tenant_id, strlen(c->principal->tenant_id));
    cn_jw_key(&w, "subject");
    cn_jw_str(&w, c->principal->subject, strlen(c->principal->subject));
    cn_jw_key(&w, "heartbeat_s");
    cn_jw_int(&w, cn__realtime.heartbeat_ms / 1000);
    cn_jw_end(&w);
    cn__rt_send_jw(c, NULL, &b);
    cn_buf_free(&b);
}
