/*
 * libFuzzer target: what a WebSocket client sends to the realtime hub. The bytes are raw
 * frames as they come off the socket; wslay (as the hub configures it) reassembles them
 * and every complete text message goes through the hub's protocol parser.
 */
#include "core/realtime.h"

#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

typedef struct {
    const uint8_t *data;
    size_t size, off;
} input_t;

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    input_t *in = ud;
    if (in->off == in->size) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = in->size - in->off < len ? in->size - in->off : len;
    n = n > 7 ? 7 : n; /* small reads: frames split across calls */
    memcpy(buf, in->data + in->off, n);
    in->off += n;
    return (ssize_t)n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    return (ssize_t)len; /* pongs and closes go nowhere */
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
    if (arg->opcode != WSLAY_TEXT_FRAME)
        return;
    cn_rt_msg_t m;
    char why[200];
    int rc = cn_rt_parse((const char *)arg->msg, arg->msg_length, &m, why, sizeof(why));
    if (rc != 0 && why[0] == '\0')
        abort(); /* a refusal always says why */
    if (rc == 0 && (m.op < RT_AUTH || m.op > RT_PING))
        abort();
    if (rc == 0 && (m.op == RT_SUBSCRIBE || m.op == RT_UNSUBSCRIBE) &&
        !cn_events_channel_valid(m.channel))
        abort(); /* an accepted channel is always a valid name */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = {data, size, 0};
    struct wslay_event_callbacks cb = {
        .recv_callback = on_recv, .send_callback = on_send, .on_msg_recv_callback = on_msg};
    wslay_event_context_ptr ctx;
    if (wslay_event_context_server_init(&ctx, &cb, &in) != 0)
        return 0;
    wslay_event_config_set_max_recv_msg_length(ctx, 4096);
    while (in.off < in.size && wslay_event_want_read(ctx))
        if (wslay_event_recv(ctx) != 0)
            break;
    while (wslay_event_want_write(ctx) && wslay_event_send(ctx) == 0 &&
           wslay_event_get_queued_msg_count(ctx) > 0)
        ;
    wslay_event_context_free(ctx);
    return 0;
}
