/*
 * bench-jobs: end-to-end throughput of the job queue on SQLite. Registers one trivial job
 * type (its handler only counts), starts the workers on a fresh database, enqueues N jobs
 * in transactions of B while the workers run, and reports jobs/s from the first enqueue
 * to the last job marked done (plus the enqueue rate alone and the drain rate after the
 * last enqueue). A thread checkpoints the WAL every 100 ms, as `cairn serve` does.
 *
 *   bench-jobs [--jobs N] [--batch B] [--workers W] [--data DIR]
 *
 * defaults: 200000 jobs, batches of 1000, 2 workers, a new directory under /tmp.
 */
#include "core/jobs.h"
#include "core/jobs_int.h"
#include "core/module.h"
#include "store/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t runs; /* atomic */
static volatile int stop_checkpoints;

static int run_trivial(cn_job_t *job, cn_err_t *err)
{
    __atomic_fetch_add(&runs, 1, __ATOMIC_RELAXED);
    return 0;
}

static const cn_job_type_t bench_jobs[] = {{"bench.trivial", run_trivial}, {0}};
static const cn_app_t bench_app = {.name = "bench", .jobs = bench_jobs};
static const cn_app_t *const apps[] = {&cn_jobs_app, &bench_app, NULL};

static void *checkpointer(void *arg)
{
    cn_store_t *s = arg;
    while (!__atomic_load_n(&stop_checkpoints, __ATOMIC_RELAXED)) {
        usleep(100000);
        cn_ignore(cn_store_checkpoint(s, NULL)); /* the next pass tries again */
    }
    return NULL;
}

static int64_t count_done(cn_store_t *s)
{
    cn_stmt_t *st;
    int64_t n = -1;
    if (cn_store_query(s, "SELECT count(*) FROM jobs WHERE state = 'done'", NULL, 0, &st, NULL) ==
        0) {
        if (cn_stmt_step(st, NULL) == CN_ROW)
            n = cn_stmt_int(st, 0);
        cn_stmt_finish(st);
    }
    return n;
}

int main(int argc, char **argv)
{
    long n_jobs = 200000, batch = 1000, workers = 2;
    char dir[256] = "";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--jobs") == 0)
            n_jobs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--batch") == 0)
            batch = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            workers = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--data") == 0)
            snprintf(dir, sizeof(dir), "%s", argv[i + 1]);
        else {
            fprintf(stderr,
                    "usage: bench-jobs [--jobs N] [--batch B] [--workers W] [--data DIR]\n");
            return 64;
        }
    }
    if (n_jobs < 1 || batch < 1 || workers < 1 || workers > 64) {
        fprintf(stderr, "bench-jobs: bad arguments\n");
        return 64;
    }
    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/tmp/cairn-bench-jobs-XXXXXX");
        if (mkdtemp(dir) == NULL)
            return 74;
    }
    cn_config_t cfg;
    cn_config_defaults(&cfg);
    cn_err_t err = {0};
    char w[16];
    snprintf(w, sizeof(w), "%ld", workers);
    cn_store_t *s = NULL, *cp = NULL;
    cn_store_opts_t opts = {.data_dir = dir, .busy_timeout_ms = 5000, .manual_checkpoint = 1};
    cn_migration_set_t set = {"jobs", cn_jobs_app.migrations};
    if (cn_config_set(&cfg, "store.data", dir, CN_SRC_FLAG, &err) != 0 ||
        cn_config_set(&cfg, "jobs.workers", w, CN_SRC_FLAG, &err) != 0 ||
        cn_store_open(&opts, &s, &err) != 0 || cn_store_open(&opts, &cp, &err) != 0 ||
        cn_migrate(s, &set, 1, 0, NULL, NULL, &err) != 0 || cn_jobs_start(&cfg, apps, &err) != 0) {
        fprintf(stderr, "bench-jobs: %s\n", err.msg);
        return 74;
    }
    pthread_t cpt;
    pthread_create(&cpt, NULL, checkpointer, cp);
    cn_store_set_batching(s, 1);

    uint64_t t0 = cn_now_ns();
    for (long done = 0; done < n_jobs;) {
        long k = n_jobs - done < batch ? n_jobs - done : batch;
        if (cn_store_batch_begin(s, &err) != 0)
            break;
        for (long i = 0; i < k; i++)
            if (cn_jobs_enqueue(s, "bench.trivial", NULL, NULL, NULL, &err) != 0)
                break;
        if (err.msg[0] || cn_store_batch_commit(s, &err) != 0)
            break;
        done += k;
    }
    if (err.msg[0]) {
        fprintf(stderr, "bench-jobs: enqueue: %s\n", err.msg);
        return 1;
    }
    uint64_t t_enqueued = cn_now_ns();
    while (__atomic_load_n(&runs, __ATOMIC_RELAXED) < (uint64_t)n_jobs)
        usleep(1000);
    /* the last runs are counted before their transaction commits: wait for the commits */
    int64_t done;
    while ((done = count_done(s)) < n_jobs && done >= 0) {
        cn_ignore(cn_store_batch_commit(s, NULL)); /* only ends the read transaction */
        usleep(1000);
    }
    uint64_t t_done = cn_now_ns();
    cn_ignore(cn_store_batch_commit(s, NULL)); /* only ends the read transaction */
    cn_jobs_stop();
    __atomic_store_n(&stop_checkpoints, 1, __ATOMIC_RELAXED);
    pthread_join(cpt, NULL);

    double total = (double)(t_done - t0) / 1e9, enq = (double)(t_enqueued - t0) / 1e9;
    printf("jobs %ld, batch %ld, workers %ld, runs %llu, done %lld\n", n_jobs, batch, workers,
           (unsigned long long)runs, (long long)done);
    printf("enqueue only:      %8.0f jobs/s (%.2f s)\n", (double)n_jobs / enq, enq);
    printf("end to end:        %8.0f jobs/s (%.2f s from first enqueue to last done)\n",
           (double)n_jobs / total, total);
    printf("drain after enqueue: %.2f s\n", (double)(t_done - t_enqueued) / 1e9);
    cn_store_close(cp);
    cn_store_close(s);
    cn_config_free(&cfg);
    return done == n_jobs && runs == (uint64_t)n_jobs ? 0 : 1;
}
