/*
 * insights_load: load generator for the customer-insights app (bench/insights.sh).
 *
 *   insights_load batch --port P [--host 127.0.0.1] [--token T] [--connections 4]
 *                 [--batch 1000] [--count N] [--seconds S] [--customers 1000] [--days 120]
 *                 [--minutes M] [--seed 1] [--progress]
 *       POSTs /api/v1/interactions/batch with freshly generated items over --connections
 *       keep-alive connections (one blocking thread each) until --count interactions were
 *       sent or --seconds passed (whichever comes first; both bound the run). Every batch is
 *       generated while the clock runs. Prints the interactions acknowledged ("created" in
 *       the answers), duplicates, failed items, non-200 answers, batch latency percentiles
 *       and acknowledged interactions/s. --progress prints "progress <s> <acked>" on stderr
 *       every second.
 *   insights_load bodies N [--customers 1000] [--days 120 | --minutes M] [--seed 7]
 *       Prints N single-interaction JSON bodies, one per line (for bench/ingest_one.lua).
 *   insights_load ids [--customers 1000] [--seed 1]
 *       Prints the customer ids, one per line (the same ids the other modes use).
 *
 * Items: ~1 000 customers (ids derived from the index, 30 % of the traffic on the most
 * active 10 %), channels web 35 % / mobile 25 % / email 15 % / chat 15 % / phone 10 %, an
 * event type per channel, 60-200 characters of English composed from a few hundred words
 * (products, issues, praise, complaints), metadata with a user agent (12 real ones), an
 * ip, a session id and a locale; timestamps uniform over the last --days days (a minute
 * ago at the latest), or with --minutes M over the last M minutes (live traffic: the
 * time-ordered indexes then grow at their end), never in the future.
 *
 * Built by bench/insights.sh with: cc -O2 -pthread -o insights_load bench/insights_load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- random */

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rnd(rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

static unsigned rn(rng_t *r, unsigned n)
{
    return (unsigned)((rnd(r) >> 32) % n);
}

#define PICK(r, a) (a[rn(r, sizeof(a) / sizeof(a[0]))])

/* ---------------------------------------------------------------- vocabulary */

static const char *const products[] = {
    "headphones",     "charger",        "laptop",    "phone case",    "subscription",
    "blender",        "coffee machine", "sneakers",  "backpack",      "monitor",
    "keyboard",       "mouse",          "router",    "printer",       "vacuum cleaner",
    "jacket",         "mattress",       "sofa",      "desk lamp",     "camera",
    "tablet",         "smartwatch",     "speaker",   "television",    "microwave",
    "kettle",         "toaster",        "fridge",    "dishwasher",    "washing machine",
    "drill",          "tent",           "bike",      "helmet",        "stroller",
    "car seat",       "perfume",        "shampoo",   "moisturiser",   "vitamins",
    "protein powder", "yoga mat",       "dumbbells", "guitar",        "gift card",
    "sunglasses",     "watch",          "wallet",    "suitcase",      "umbrella",
    "desk chair",     "bookshelf",      "pillow",    "blanket",       "frying pan",
    "knife set",      "water bottle",   "hoodie",    "running shoes", "e-reader",
};
static const char *const subjects[] = {
    "I",      "We",          "My wife",      "My husband", "Our team",
    "My son", "My daughter", "My colleague", "My partner", "Our office",
};
static const char *const bought[] = {
    "ordered", "bought", "received", "returned", "tried", "picked up", "upgraded", "replaced",
};
static const char *const whens[] = {
    "last week", "yesterday", "two days ago",     "this morning",    "last month",
    "on Monday", "on Friday", "over the weekend", "a few weeks ago", "before the holidays",
};
static const char *const outcomes_pos[] = {
    "works perfectly",
    "was exactly as described",
    "is much better than expected",
    "looks great",
    "arrived early and well packed",
    "is excellent value",
    "feels really solid",
    "was easy to set up",
    "made my day",
    "is the best purchase this year",
};
static const char *const outcomes_neg[] = {
    "stopped working after two days",
    "arrived damaged",
    "broke within a week",
    "never arrived",
    "keeps disconnecting",
    "charges very slowly",
    "is smaller than the photos",
    "was missing a part",
    "overheats all the time",
    "smells strange",
};
static const char *const outcomes_neu[] = {
    "is okay for the price",        "does what it says", "is about average",
    "arrived on the expected date", "is fine I guess",   "is similar to the old model",
};
static const char *const support_who[] = {
    "Your support agent",      "The customer service team", "The chat assistant",
    "The person on the phone", "The store manager",         "Your delivery driver",
};
static const char *const support_how[] = {
    "was very helpful",
    "was polite and quick",
    "was rude and unhelpful",
    "was slow to answer",
    "was friendly and patient",
    "was not helpful at all",
    "solved my problem in minutes",
    "kept me on hold for an hour",
    "explained everything clearly",
    "ignored my emails",
};
static const char *const requests[] = {
    "Can you help me reset my password",
    "Please cancel my subscription",
    "How do I track my order",
    "Please update my shipping address",
    "Why was I charged twice",
    "Can I get an invoice for my company",
    "Where is my refund",
    "Can I change my delivery date",
    "How do I apply my discount code",
    "Is the warranty still valid",
};
static const char *const request_obj[] = {
    "I want a refund for the %s",         "Can I exchange the %s for a different size",
    "When will the %s be back in stock",  "Do you ship the %s abroad",
    "Is there a newer version of the %s", "My %s needs a replacement under warranty",
};
static const char *const issues[] = {
    "The tracking number does not work",
    "The checkout page crashed twice",
    "The login page keeps rejecting my password",
    "Billing sent me the wrong invoice",
    "The return label never arrived",
    "The payment failed but the money was taken",
    "The app update deleted my settings",
    "Shipping took almost three weeks",
    "The discount code was not accepted",
    "The battery drains overnight",
    "The screen flickers after the update",
    "Installation instructions were confusing",
};
static const char *const praise[] = {
    "Love it",         "Fantastic service",    "Great experience overall", "Really impressed",
    "Amazing quality", "Brilliant, thank you", "Super fast delivery",      "Wonderful team",
};
static const char *const followups[] = {
    "Thanks!",
    "Thank you so much.",
    "This is the third time I ask.",
    "Very disappointed.",
    "Would recommend.",
    "Will not order again.",
    "Please reply soon.",
    "Not happy.",
    "Keep up the good work.",
    "I expected better.",
    "Five stars.",
    "Any update would help.",
    "Cheers.",
    "Sorry for the long message.",
};
static const char *const user_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
    "okhttp/4.12.0",
    "CairnShop/5.2.1 (iPhone; iOS 17.1; Scale/3.00)",
};
static const char *const locales[] = {"en-GB", "en-US", "en-IE", "en-AU", "en-CA"};

/* channel weights: web 35, mobile 25, email 15, chat 15, phone 10 */
static const char *const channels[] = {"web", "mobile", "email", "chat", "phone"};
static const char *const ev_web[] = {"page_view", "checkout", "search", "support_ticket", "review"};
static const char *const ev_mobile[] = {"app_open", "purchase", "review", "push_reply"};
static const char *const ev_email[] = {"email_reply", "complaint", "newsletter_reply"};
static const char *const ev_chat[] = {"chat_message", "chat_transcript"};
static const char *const ev_phone[] = {"call_note", "callback_request"};

static int pick_channel(rng_t *r)
{
    unsigned x = rn(r, 100);
    return x < 35 ? 0 : x < 60 ? 1 : x < 75 ? 2 : x < 90 ? 3 : 4;
}

static const char *pick_event(rng_t *r, int ch)
{
    switch (ch) {
    case 0: return PICK(r, ev_web);
    case 1: return PICK(r, ev_mobile);
    case 2: return PICK(r, ev_email);
    case 3: return PICK(r, ev_chat);
    default: return PICK(r, ev_phone);
    }
}

/* one sentence into out (no NUL needed by the caller; returns its length) */
static int sentence(rng_t *r, char *out, size_t cap)
{
    switch (rn(r, 8)) {
    case 0:
    case 1: {
        unsigned mood = rn(r, 10);
        const char *o = mood < 4   ? PICK(r, outcomes_pos)
                        : mood < 8 ? PICK(r, outcomes_neg)
                                   : PICK(r, outcomes_neu);
        return snprintf(out, cap, "%s %s the %s %s and it %s.", PICK(r, subjects), PICK(r, bought),
                        PICK(r, products), PICK(r, whens), o);
    }
    case 2: return snprintf(out, cap, "%s %s.", PICK(r, support_who), PICK(r, support_how));
    case 3: return snprintf(out, cap, "%s?", PICK(r, requests));
    case 4: {
        char tmp[128];
        snprintf(tmp, sizeof(tmp), PICK(r, request_obj), PICK(r, products));
        return snprintf(out, cap, "%s?", tmp);
    }
    case 5: return snprintf(out, cap, "%s.", PICK(r, issues));
    case 6:
        return snprintf(out, cap, "%s! Really happy with the %s.", PICK(r, praise),
                        PICK(r, products));
    default:
        if (rn(r, 2))
            return snprintf(out, cap, "Order %u: %s", 100000 + rn(r, 900000), PICK(r, followups));
        return snprintf(out, cap, "%s", PICK(r, followups));
    }
}

/* 60..200 characters of text, no quotes or backslashes */
static size_t content(rng_t *r, char *out)
{
    size_t len = 0;
    char s[256];
    for (int guard = 0; guard < 16; guard++) {
        int n = sentence(r, s, sizeof(s));
        if (n <= 0)
            continue;
        size_t need = (len ? 1 : 0) + (size_t)n;
        if (len + need > 200) {
            if (len >= 60)
                break;
            /* cut the sentence at a word boundary so the text ends within 200 */
            size_t room = 200 - len - (len ? 1 : 0);
            while (room > 0 && s[room] != ' ')
                room--;
            if (room == 0)
                continue;
            n = (int)room;
            need = (len ? 1 : 0) + (size_t)n;
        }
        if (len)
            out[len++] = ' ';
        memcpy(out + len, s, (size_t)n);
        len += (size_t)n;
        if (len >= 60 && rn(r, 3) == 0)
            break;
    }
    while (len < 60) { /* cannot happen with these lists, but keep the promise */
        memcpy(out + len, " Thanks.", 8);
        len += 8;
    }
    out[len] = '\0';
    return len;
}

/* ---------------------------------------------------------------- items */

static int n_customers = 1000;
static int days = 120;
static int minutes = 0; /* > 0: timestamps over the last minutes instead (live traffic) */
static uint64_t seed = 1;

static void customer_id(int i, char out[37])
{
    uint64_t a = splitmix(0xc0ffee + (uint64_t)i), b = splitmix(a ^ 0x5eed);
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

static int pick_customer(rng_t *r)
{
    int hot = n_customers / 10 > 0 ? n_customers / 10 : 1;
    return rn(r, 10) < 3 ? (int)rn(r, (unsigned)hot) : (int)rn(r, (unsigned)n_customers);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t rfc3339(int64_t ms, char *out)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    return (size_t)sprintf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                           (int)(ms % 1000));
}

/* one item as JSON into out (at most ~900 bytes); returns its length */
static size_t item(rng_t *r, char *out, int64_t now)
{
    char cid[37], ts[80], text[256];
    customer_id(pick_customer(r), cid);
    int64_t span = minutes > 0 ? (int64_t)minutes * 60000LL : (int64_t)days * 86400000LL;
    int64_t at = now - (minutes > 0 ? 1000 : 60000) - (int64_t)(rnd(r) % (uint64_t)span);
    rfc3339(at, ts);
    int ch = pick_channel(r);
    content(r, text);
    char *p = out;
    p += sprintf(p,
                 "{\"customer_id\":\"%s\",\"timestamp\":\"%s\",\"channel\":\"%s\","
                 "\"event_type\":\"%s\",\"content\":\"%s\",\"metadata\":{\"user_agent\":\"%s\","
                 "\"ip\":\"%u.%u.%u.%u\",\"session\":\"%016llx\",\"locale\":\"%s\"",
                 cid, ts, channels[ch], pick_event(r, ch), text, PICK(r, user_agents),
                 11 + rn(r, 200), rn(r, 256), rn(r, 256), 1 + rn(r, 254),
                 (unsigned long long)rnd(r), PICK(r, locales));
    if (ch == 0)
        p += sprintf(p, ",\"page\":\"/products/%u\"", 1000 + rn(r, 9000));
    p += sprintf(p, "}}");
    return (size_t)(p - out);
}

/* ---------------------------------------------------------------- HTTP */

static const char *host = "127.0.0.1";
static int port = 0;
static const char *token = "bench-token";

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static void reserve(buf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    while (b->cap < b->len + more + 1)
        b->cap = b->cap ? b->cap * 2 : 65536;
    b->data = realloc(b->data, b->cap);
    if (b->data == NULL) {
        perror("realloc");
        exit(1);
    }
}

static int fill(int fd, buf_t *b)
{
    reserve(b, 65536);
    ssize_t k;
    do
        k = read(fd, b->data + b->len, b->cap - b->len - 1);
    while (k < 0 && errno == EINTR);
    if (k <= 0)
        return -1;
    b->len += (size_t)k;
    b->data[b->len] = '\0';
    return 0;
}

/* Reads one response; body (NUL-terminated) goes to *body. Returns the status or -1. */
static int read_response(int fd, buf_t *in, buf_t *body, int *close_after)
{
    char *end;
    while ((end = strstr(in->data ? in->data : "", "\r\n\r\n")) == NULL)
        if (fill(fd, in) != 0)
            return -1;
    size_t hlen = (size_t)(end - in->data) + 4;
    int status = 0;
    if (sscanf(in->data, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    long clen = -1;
    int chunked = 0;
    *close_after = 0;
    for (char *line = strstr(in->data, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "content-length:", 15) == 0)
            clen = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strstr(line, "chunked") &&
                 strstr(line, "chunked") < strstr(line, "\r\n"))
            chunked = 1;
        else if (strncasecmp(line, "connection:", 11) == 0 &&
                 strncasecmp(line + 12, "close", 5) == 0)
            *close_after = 1;
    }
    body->len = 0;
    size_t pos = hlen;
    if (chunked) {
        for (;;) {
            char *crlf;
            while ((crlf = strstr(in->data + pos, "\r\n")) == NULL)
                if (fill(fd, in) != 0)
                    return -1;
            long n = strtol(in->data + pos, NULL, 16);
            size_t start = (size_t)(crlf - in->data) + 2;
            while (in->len < start + (size_t)n + 2)
                if (fill(fd, in) != 0)
                    return -1;
            reserve(body, (size_t)n);
            memcpy(body->data + body->len, in->data + start, (size_t)n);
            body->len += (size_t)n;
            pos = start + (size_t)n + 2;
            if (n == 0)
                break;
        }
    } else {
        if (clen < 0)
            clen = 0;
        while (in->len < pos + (size_t)clen)
            if (fill(fd, in) != 0)
                return -1;
        reserve(body, (size_t)clen);
        memcpy(body->data, in->data + pos, (size_t)clen);
        body->len = (size_t)clen;
        pos += (size_t)clen;
    }
    reserve(body, 0);
    body->data[body->len] = '\0';
    memmove(in->data, in->data + pos, in->len - pos);
    in->len -= pos;
    in->data[in->len] = '\0';
    return status;
}

/* ---------------------------------------------------------------- batch mode */

static int batch_size = 1000, connections = 4, progress = 0;
static long long max_count = 100000;
static double max_seconds = 30;

static atomic_llong reserved, acked, dups, failed_items, non200, io_errors, batches;
static atomic_int running;
static double t_start, t_deadline;

#define LAT_MAX 1000000
static double *lat;
static atomic_long n_lat;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    rng_t r = {splitmix(seed * 1000003 + (uint64_t)id) | 1};
    buf_t req = {0}, in = {0}, body = {0};
    char head[512];
    int fd = -1;
    while (mono() < t_deadline) {
        long long want = batch_size;
        long long first = atomic_fetch_add(&reserved, want);
        if (first >= max_count)
            break;
        if (first + want > max_count)
            want = max_count - first;
        /* the body, generated with the clock running */
        int64_t now = now_ms();
        req.len = 0;
        reserve(&req, 16);
        req.len += (size_t)sprintf(req.data, "{\"items\":[");
        for (long long i = 0; i < want; i++) {
            reserve(&req, 1024);
            if (i)
                req.data[req.len++] = ',';
            req.len += item(&r, req.data + req.len, now);
        }
        reserve(&req, 4);
        req.len += (size_t)sprintf(req.data + req.len, "]}");
        int hn = snprintf(head, sizeof(head),
                          "POST /api/v1/interactions/batch HTTP/1.1\r\nHost: %s:%d\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          host, port, token, req.len);
        double t0 = mono();
        int attempt_ok = 0;
        for (int attempt = 0; attempt < 2 && !attempt_ok; attempt++) {
            if (fd < 0 && (fd = dial()) < 0) {
                atomic_fetch_add(&io_errors, 1);
                usleep(100000);
                continue;
            }
            int close_after = 0, status;
            if (write_all(fd, head, (size_t)hn) != 0 || write_all(fd, req.data, req.len) != 0 ||
                (status = read_response(fd, &in, &body, &close_after)) < 0) {
                atomic_fetch_add(&io_errors, 1);
                close(fd);
                fd = -1;
                in.len = 0;
                continue;
            }
            attempt_ok = 1;
            double dt = mono() - t0;
            long k = atomic_fetch_add(&n_lat, 1);
            if (k < LAT_MAX)
                lat[k] = dt;
            atomic_fetch_add(&batches, 1);
            if (status != 200) {
                atomic_fetch_add(&non200, 1);
                if (atomic_load(&non200) <= 3)
                    fprintf(stderr, "insights_load: status %d: %.300s\n", status, body.data);
            } else {
                /* "created":N,"duplicates":N,"failed":N close the answer */
                const char *c =
                    strstr(body.data + (body.len > 200 ? body.len - 200 : 0), "\"created\":");
                long long cr = 0, du = 0, fa = 0;
                if (c && sscanf(c, "\"created\":%lld,\"duplicates\":%lld,\"failed\":%lld", &cr, &du,
                                &fa) == 3) {
                    atomic_fetch_add(&acked, cr);
                    atomic_fetch_add(&dups, du);
                    atomic_fetch_add(&failed_items, fa);
                    if (fa > 0 && atomic_load(&failed_items) == fa)
                        fprintf(stderr, "insights_load: failed items: %.300s\n", body.data);
                } else {
                    atomic_fetch_add(&non200, 1);
                }
            }
            if (close_after) {
                close(fd);
                fd = -1;
                in.len = 0;
            }
        }
    }
    if (fd >= 0)
        close(fd);
    atomic_fetch_sub(&running, 1);
    free(req.data);
    free(in.data);
    free(body.data);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p / 100.0 * (double)n);
    return v[i >= n ? n - 1 : i];
}

static int run_batch(void)
{
    if (port == 0) {
        fprintf(stderr, "insights_load: --port is required\n");
        return 64;
    }
    lat = malloc(sizeof(double) * LAT_MAX);
    t_start = mono();
    t_deadline = t_start + max_seconds;
    pthread_t th[256];
    if (connections < 1 || connections > 256)
        connections = 4;
    atomic_store(&running, connections);
    for (int i = 0; i < connections; i++)
        pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
    if (progress) {
        /* one line a second while any connection still works (a bounded run: every
         * worker stops at the deadline, after at most one more answer) */
        for (int s = 1; atomic_load(&running) > 0; s++) {
            double wake = t_start + s;
            while (mono() < wake && atomic_load(&running) > 0)
                usleep(20000);
            if (atomic_load(&running) > 0)
                fprintf(stderr, "progress %d %lld\n", s, atomic_load(&acked));
        }
    }
    for (int i = 0; i < connections; i++)
        pthread_join(th[i], NULL);
    double el = mono() - t_start;
    long n = atomic_load(&n_lat);
    if (n > LAT_MAX)
        n = LAT_MAX;
    qsort(lat, (size_t)n, sizeof(double), cmp_d);
    printf("connections: %d, batch: %d, customers: %d, timestamps over the last %d %s\n",
           connections, batch_size, n_customers, minutes > 0 ? minutes : days,
           minutes > 0 ? "minutes" : "days");
    printf("elapsed_s: %.3f\n", el);
    printf("batches: %lld (non-200 or unreadable: %lld, io errors: %lld)\n", atomic_load(&batches),
           atomic_load(&non200), atomic_load(&io_errors));
    printf("acknowledged: %lld (duplicates: %lld, failed items: %lld)\n", atomic_load(&acked),
           atomic_load(&dups), atomic_load(&failed_items));
    printf("batch_latency_ms: p50 %.1f p90 %.1f p99 %.1f max %.1f\n", 1000 * pct(lat, n, 50),
           1000 * pct(lat, n, 90), 1000 * pct(lat, n, 99), n ? 1000 * lat[n - 1] : 0.0);
    printf("interactions_per_s: %.0f\n", (double)atomic_load(&acked) / el);
    free(lat);
    return atomic_load(&non200) || atomic_load(&failed_items) ? 2 : 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: insights_load batch|bodies N|ids [options] (see the source)\n");
        return 64;
    }
    const char *mode = argv[1];
    long long n_bodies = 0;
    int i = 2;
    if (strcmp(mode, "bodies") == 0) {
        if (argc < 3)
            return 64;
        n_bodies = atoll(argv[2]);
        i = 3;
        seed = 7;
    }
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--progress") == 0) {
            progress = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "insights_load: %s needs a value\n", a);
            return 64;
        }
        i++;
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--token") == 0)
            token = v;
        else if (strcmp(a, "--connections") == 0)
            connections = atoi(v);
        else if (strcmp(a, "--batch") == 0)
            batch_size = atoi(v);
        else if (strcmp(a, "--count") == 0)
            max_count = atoll(v);
        else if (strcmp(a, "--seconds") == 0)
            max_seconds = atof(v);
        else if (strcmp(a, "--customers") == 0)
            n_customers = atoi(v);
        else if (strcmp(a, "--days") == 0)
            days = atoi(v);
        else if (strcmp(a, "--minutes") == 0)
            minutes = atoi(v);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "insights_load: unknown option %s\n", a);
            return 64;
        }
    }
    if (n_customers < 1 || days < 1 || batch_size < 1 || batch_size > 1000)
        return 64;
    if (strcmp(mode, "batch") == 0)
        return run_batch();
    if (strcmp(mode, "ids") == 0) {
        char id[37];
        for (int k = 0; k < n_customers; k++) {
            customer_id(k, id);
            puts(id);
        }
        return 0;
    }
    if (strcmp(mode, "bodies") == 0) {
        rng_t r = {splitmix(seed) | 1};
        char out[2048];
        int64_t now = now_ms();
        for (long long k = 0; k < n_bodies; k++) {
            item(&r, out, now);
            puts(out);
        }
        return 0;
    }
    fprintf(stderr, "insights_load: unknown mode %s\n", mode);
    return 64;
}
