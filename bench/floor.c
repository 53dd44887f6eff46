/*
 * bench-floor: the storage work of a write without HTTP. One thread drives the production
 * write path (the handlers' own functions, the loop's batch and units of work, the store
 * hooks that write audit entries, events and search entries before each commit), and a
 * second thread checkpoints the WAL every 100 ms as `cairn serve` does. Its rate is a
 * ceiling for the same writes end to end: the server does all of this under its one write
 * lock, plus HTTP, JSON and the load generator on the same two cores.
 *
 *   bench-floor notes  [--items N] [--group G]
 *       POST /api/v1/notes: G requests a commit (default 10), each its note, its audit
 *       entry and its note.created event.
 *   bench-floor single --bodies FILE [--items N] [--group G]
 *       POST /api/v1/interactions: G interactions a commit (default 9), written together
 *       as the loop writes its turn's staged rows.
 *   bench-floor batch  --bodies FILE [--items N] [--group G]
 *       POST /api/v1/interactions/batch: G items a commit (default 1000), in units of
 *       100 as the handler stores its chunks.
 *
 * FILE holds one interaction a line (`insights_load bodies N --minutes 10`); it is read
 * again from the start when the run needs more. Items are parsed and validated with the
 * handlers' code before each commit, outside the timed part, and reported apart. Output:
 * items/s, and CPU per item of the writing thread and of the checkpointer.
 */
#include "apps/apps.h"
#include "apps/insights/internal.h"
#include "auth/audit.h"
#include "core/events.h"
#include "core/jobs.h"
#include "core/jobs_int.h"
#include "core/log.h"
#include "core/router.h"
#include "core/store_open.h"
#include "core/system.h"
#include "store/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TENANT CN_BOOTSTRAP_TENANT
#define LINE_MAX_BYTES 65536

static volatile int stop_checkpoints;
static uint64_t checkpoint_cpu_ns;

static uint64_t thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *checkpointer(void *arg)
{
    cn_store_t *s = arg;
    while (!__atomic_load_n(&stop_checkpoints, __ATOMIC_RELAXED)) {
        usleep(100000);
        cn_ignore(cn_store_checkpoint(s, NULL)); /* the next pass tries again */
    }
    checkpoint_cpu_ns = thread_cpu_ns();
    return NULL;
}

/* ---- the write lock, taken as a loop takes it ---- */

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static int woken;

static void wake(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&wake_lock);
    woken = 1;
    pthread_cond_signal(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
}

/* Opens the batch as a loop does, without blocking on the lock: a thread that blocks on it
 * at once after each commit takes it back before the blocked checkpointer wakes, and the
 * WAL never starts over. */
static int begin_batch(cn_store_t *s, cn_err_t *err)
{
    for (;;) {
        pthread_mutex_lock(&wake_lock);
        woken = 0;
        pthread_mutex_unlock(&wake_lock);
        int rc = cn_store_batch_try_begin(s, err);
        if (rc != CN_EBUSY)
            return rc;
        pthread_mutex_lock(&wake_lock);
        while (!woken)
            pthread_cond_wait(&wake_cond, &wake_lock);
        pthread_mutex_unlock(&wake_lock);
    }
}

/* ---- notes ---- */

static int write_note(cn_store_t *s, long i, cn_err_t *err)
{
    char id[CN_UUID_LEN + 1], title[64], data[512];
    cn_uuid7(id);
    snprintf(title, sizeof(title), "note %ld", i);
    int64_t now = cn_now_ms();
    cn_val_t args[] = {CN_VTEXT(id), CN_VTEXT(TENANT), CN_VTEXT(title),
                       CN_VTEXT("a short body of the kind the benchmark posts"), CN_VINT(now)};
    char at[32];
    cn_format_rfc3339(now, at);
    int len = snprintf(data, sizeof(data), /* the note as the handler answers it */
                       "{\"id\":\"%s\",\"title\":\"%s\",\"body\":\"%s\",\"created_at\":\"%s\","
                       "\"updated_at\":\"%s\"}",
                       id, title, args[3].s, at, at);
    auth_audit_t e = {TENANT, "bootstrap", "POST /api/v1/notes", id, "127.0.0.1", id, 201};
    cn_store_unit_begin(s); /* the unit the kernel wraps a handler in */
    int rc = cn_store_exec(s,
                           "INSERT INTO notes (id, tenant_id, title, body, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, $5, $5)",
                           args, 5, NULL, err);
    if (rc == 0)
        rc = cn_event_publish_text(s, TENANT, "notes", "note.created", data, (size_t)len, err);
    if (rc == 0) /* inside the unit, as the kernel records it */
        rc = auth_audit_stage(s, &e, err);
    int erc = cn_store_unit_end(s, rc == 0, err);
    return rc != 0 ? rc : erc;
}

/* ---- interactions ---- */

#define GROUP_MAX 1000 /* items of a batch request */

typedef struct {
    FILE *f;
    char *line;
    json_t *json[GROUP_MAX];
    ins_item_t items[GROUP_MAX];
    size_t n;
} group_t;

/* Parses and validates the next n items of the bodies file into g. */
static int read_group(group_t *g, size_t n)
{
    g->n = 0;
    while (g->n < n) {
        if (fgets(g->line, LINE_MAX_BYTES, g->f) == NULL) {
            if (ferror(g->f) || fseek(g->f, 0, SEEK_SET) != 0)
                return -1;
            if (fgets(g->line, LINE_MAX_BYTES, g->f) == NULL)
                return -1;
        }
        json_error_t jerr;
        json_t *v = json_loads(g->line, 0, &jerr);
        cn_verrors_t errs = {0};
        if (v == NULL || ins_validate(v, cn_now_ms(), "", &g->items[g->n], &errs) != 0) {
            fprintf(stderr, "bench-floor: a body is not a valid interaction: %s\n",
                    v == NULL ? jerr.text : errs.items[0].message);
            json_decref(v);
            return -1;
        }
        g->json[g->n++] = v;
    }
    return 0;
}

static void clear_group(group_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        ins_item_clear(&g->items[i]);
        json_decref(g->json[i]);
    }
    g->n = 0;
}

/* One unit of work of up to INS_CHUNK items, as the batch handler stores its chunks. */
static int store_chunk(cn_store_t *s, ins_item_t *items, size_t n, cn_err_t *err)
{
    char ids[INS_CHUNK][CN_UUID_LEN + 1];
    unsigned char dup[INS_CHUNK];
    int rc = cn_store_begin(s, err);
    if (rc != 0)
        return rc;
    return cn_store_end(s, ins_store_items(s, TENANT, items, n, ids, dup, err), err);
}

/* ---- the run ---- */

typedef struct {
    const char *mode;
    long items, group;
    const char *bodies;
    char dir[256];
} args_t;

static int usage(void)
{
    fprintf(stderr, "usage: bench-floor notes|single|batch [--items N] [--group G]"
                    " [--bodies FILE] [--data DIR]\n");
    return 64;
}

static int parse_args(int argc, char **argv, args_t *a)
{
    if (argc < 2)
        return -1;
    a->mode = argv[1];
    int notes = strcmp(a->mode, "notes") == 0, single = strcmp(a->mode, "single") == 0;
    if (!notes && !single && strcmp(a->mode, "batch") != 0)
        return -1;
    a->items = 200000;
    a->group = notes ? 10 : single ? 9 : 1000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--items") == 0)
            a->items = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--group") == 0)
            a->group = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--bodies") == 0)
            a->bodies = argv[i + 1];
        else if (strcmp(argv[i], "--data") == 0)
            snprintf(a->dir, sizeof(a->dir), "%s", argv[i + 1]);
        else
            return -1;
    }
    if (notes)
        a->bodies = NULL; /* notes are made up here */
    if (a->items < 1 || a->group < 1 || a->group > 100000 || (!notes && a->bodies == NULL) ||
        (single && a->group > INS_CHUNK) || (!notes && a->group > GROUP_MAX))
        return -1;
    return 0;
}

/* One commit of n items (n <= GROUP_MAX for interactions, parsed into g beforehand). */
static int write_group(cn_store_t *s, const args_t *a, group_t *g, long first, long n,
                       cn_err_t *err)
{
    int rc = begin_batch(s, err);
    for (long i = 0; rc == 0 && i < n;) {
        long k = a->mode[0] == 'n' ? 1 : n - i < INS_CHUNK ? n - i : INS_CHUNK;
        rc = a->mode[0] == 'n' ? write_note(s, first + i, err)
                               : store_chunk(s, g->items + i, (size_t)k, err);
        i += k;
    }
    if (rc != 0) {
        cn_err_t ignored;
        cn_store_batch_fail(s);                        /* the commit rolls it back */
        cn_ignore(cn_store_batch_commit(s, &ignored)); /* doomed: rc says why */
        return rc;
    }
    return cn_store_batch_commit(s, err);
}

static int open_stores(const args_t *a, cn_config_t *cfg, cn_store_t **s, cn_store_t **cp,
                       cn_err_t *err)
{
    /* loaded with the modules: their start hooks read the settings the loader fills */
    const char *const flags[] = {"store.data", a->dir, "jobs.workers", "0", "log.level", "warn"};
    memset(cfg, 0, sizeof(*cfg));
    if (cn_config_load(cfg, cn_apps, NULL, flags, 3, err) != 0)
        return -1;
    cn_log_init(cfg->log_level, 0);
    if (cn_system_init(cfg, cn_apps, cn_router_new(), err) != 0 ||
        cn_jobs_start(cfg, cn_apps, err) != 0)
        return -1;
    if (cn_open_loop_store(cfg, s, err) != 0 || cn_open_store(cfg, 1, cp, err) != 0)
        return -1;
    cn_store_set_batching(*s, 1);
    cn_store_set_waker(*s, wake, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    args_t a = {0};
    if (parse_args(argc, argv, &a) != 0)
        return usage();
    group_t *g = calloc(1, sizeof(*g));
    g->line = malloc(LINE_MAX_BYTES);
    if (a.bodies != NULL && (g->f = fopen(a.bodies, "r")) == NULL) {
        perror(a.bodies);
        return 66;
    }
    if (a.dir[0] == '\0') {
        snprintf(a.dir, sizeof(a.dir), "/tmp/cairn-bench-floor-XXXXXX");
        if (mkdtemp(a.dir) == NULL)
            return 74;
    }
    cn_config_t cfg;
    cn_err_t err = {0};
    cn_store_t *s = NULL, *cp = NULL;
    if (open_stores(&a, &cfg, &s, &cp, &err) != 0) {
        fprintf(stderr, "bench-floor: %s\n", err.msg);
        return 74;
    }
    pthread_t cpt;
    pthread_create(&cpt, NULL, checkpointer, cp);

    uint64_t parse_ns = 0, t0 = cn_now_ns(), cpu0 = thread_cpu_ns();
    long done = 0;
    while (done < a.items) {
        long n = a.items - done < a.group ? a.items - done : a.group;
        uint64_t p0 = thread_cpu_ns();
        if (a.bodies != NULL && read_group(g, (size_t)n) != 0)
            return 65;
        parse_ns += thread_cpu_ns() - p0;
        if (write_group(s, &a, g, done, n, &err) != 0) {
            fprintf(stderr, "bench-floor: %s\n", err.msg);
            return 1;
        }
        clear_group(g);
        done += n;
    }
    uint64_t wall = cn_now_ns() - t0, cpu = thread_cpu_ns() - cpu0 - parse_ns;
    __atomic_store_n(&stop_checkpoints, 1, __ATOMIC_RELAXED);
    pthread_join(cpt, NULL);
    double secs = (double)(wall - parse_ns) / 1e9;
    printf("%s: %ld items, %ld a commit, %.2f s: %.0f items/s | CPU per item: writer %.1f us,"
           " checkpointer %.1f us | parse and validate %.1f us (not counted)\n",
           a.mode, done, a.group, secs, (double)done / secs, (double)cpu / 1e3 / (double)done,
           (double)checkpoint_cpu_ns / 1e3 / (double)done, (double)parse_ns / 1e3 / (double)done);
    if (g->f)
        fclose(g->f);
    free(g->line);
    free(g);
    cn_store_close(s);
    cn_store_close(cp);
    return 0;
}
