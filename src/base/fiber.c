/*
 * Fibers over glibc's ucontext (getcontext, makecontext, swapcontext). Debian packages no
 * maintained coroutine library for C, and hand-written context switches are assembly we
 * would own per architecture; glibc's ucontext is kept up, and ASan and TSan take switches
 * between its contexts through their fiber APIs (below). Its cost is a sigprocmask system
 * call in every swapcontext, small beside a database round trip. Stacks are mmap'd with a
 * PROT_NONE guard page below them, so an overflow faults instead of writing over a
 * neighbour, and a finished fiber's stack is kept in a per-thread pool for the next one.
 * A fiber's stack is never unmapped while it runs: a finished fiber goes back to the pool
 * from the thread's own stack, after the switch back.
 */
#include "base/fiber.h"
#include "base/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FIBER_TSAN 1
#endif
#endif

#ifdef FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#define STACK_SIZE (1024 * 1024) /* ASan's redzones make every frame larger */
#else
#define STACK_SIZE (256 * 1024)
#endif
#ifdef FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define POOL_MAX 64 /* free fibers a thread keeps; beyond, stacks are unmapped */

enum { FIBER_FREE, FIBER_RUNNING, FIBER_SUSPENDED, FIBER_DONE };

/* Owned by the thread that made it: by its pool while free, else by whoever holds the
 * handle cn_fiber_start returned. */
struct st_cn_fiber_t {
    ucontext_t ctx;
    void (*fn)(void *arg);
    void *arg;
    cn_fiber_switch_fn on_switch;
    void *ud;
    int state;
    char *map; /* guard page, then the stack */
    size_t map_len;
    cn_fiber_t *next_free;
    void *asan_fake_stack; /* ASan's saved fake stack while suspended */
    void *tsan_fiber;
};

static _Thread_local cn_fiber_t *t_current;   /* the running fiber */
static _Thread_local cn_fiber_t *t_starting;  /* handed to the trampoline (makecontext: ints) */
static _Thread_local ucontext_t t_thread_ctx; /* where a fiber switches back to */
static _Thread_local cn_fiber_t *t_pool;
static _Thread_local int t_pool_n;
static _Thread_local const void *t_thread_stack; /* the thread's stack, for ASan */
static _Thread_local size_t t_thread_stack_size;
static _Thread_local void *t_tsan_thread; /* the thread's TSan context */

static void misuse(const char *what)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"fiber misuse: %s\"}\n", what);
    abort();
}

/* ASan: announce the stack we go to (save is where our fake stack is kept; NULL when we
 * leave for good), then learn the one we came from on arrival. */
static void asan_leave(void **save, const void *to, size_t to_size)
{
#ifdef FIBER_ASAN
    __sanitizer_start_switch_fiber(save, to, to_size);
#endif
}

static void asan_arrive(void *save, const void **from, size_t *from_size)
{
#ifdef FIBER_ASAN
    __sanitizer_finish_switch_fiber(save, from, from_size);
#endif
}

static void tsan_switch(void *to)
{
#ifdef FIBER_TSAN
    __tsan_switch_to_fiber(to, 0);
#endif
}

static cn_fiber_t *fiber_new(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    cn_fiber_t *f = cn_calloc(1, sizeof(*f));
    f->map_len = page + STACK_SIZE;
    f->map = mmap(NULL, f->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                  -1, 0);
    if (f->map == MAP_FAILED || mprotect(f->map, page, PROT_NONE) != 0)
        misuse("cannot map a fiber stack");
#ifdef FIBER_TSAN
    f->tsan_fiber = __tsan_create_fiber(0);
#endif
    return f;
}

static void fiber_free(cn_fiber_t *f)
{
#ifdef FIBER_TSAN
    __tsan_destroy_fiber(f->tsan_fiber);
#endif
    munmap(f->map, f->map_len);
    free(f);
}

/* Called on the thread's stack only, never on f's. */
static void pool_put(cn_fiber_t *f)
{
    f->state = FIBER_FREE;
    if (t_pool_n >= POOL_MAX) {
        fiber_free(f);
        return;
    }
    f->next_free = t_pool;
    t_pool = f;
    t_pool_n++;
}

/* On f's stack, right after it is switched in. */
static void fiber_arrived(cn_fiber_t *f)
{
    asan_arrive(f->asan_fake_stack, &t_thread_stack, &t_thread_stack_size);
    if (f->on_switch != NULL)
        f->on_switch(f->ud, 1);
}

/* On f's stack: back to the thread's stack, until resumed (never, once f is done). */
static void fiber_leave(cn_fiber_t *f)
{
    if (f->on_switch != NULL)
        f->on_switch(f->ud, 0);
    tsan_switch(t_tsan_thread);
    asan_leave(f->state == FIBER_DONE ? NULL : &f->asan_fake_stack, t_thread_stack,
               t_thread_stack_size);
    swapcontext(&f->ctx, &t_thread_ctx);
}

static void trampoline(void)
{
    cn_fiber_t *f = t_starting;
    fiber_arrived(f);
    f->fn(f->arg);
    f->state = FIBER_DONE;
    fiber_leave(f);
    misuse("a finished fiber was resumed"); /* unreachable: nobody switches to it again */
}

/* On the thread's stack: runs f until it suspends (1) or finishes (0, f is pooled). */
static int fiber_run(cn_fiber_t *f)
{
    void *fake_stack = NULL;
    t_current = f;
    f->state = FIBER_RUNNING;
#ifdef FIBER_TSAN
    t_tsan_thread = __tsan_get_current_fiber();
#endif
    tsan_switch(f->tsan_fiber);
    asan_leave(&fake_stack, f->map + f->map_len - STACK_SIZE, STACK_SIZE);
    swapcontext(&t_thread_ctx, &f->ctx);
    asan_arrive(fake_stack, NULL, NULL);
    t_current = NULL;
    if (f->state != FIBER_DONE)
        return 1;
    pool_put(f);
    return 0;
}

cn_fiber_t *cn_fiber_start(void (*fn)(void *arg), void *arg, cn_fiber_switch_fn on_switch, void *ud)
{
    if (t_current != NULL)
        misuse("cn_fiber_start inside a fiber");
    cn_fiber_t *f = t_pool;
    if (f != NULL) {
        t_pool = f->next_free;
        t_pool_n--;
    } else {
        f = fiber_new();
    }
    f->fn = fn;
    f->arg = arg;
    f->on_switch = on_switch;
    f->ud = ud;
    f->asan_fake_stack = NULL;
    if (getcontext(&f->ctx) != 0)
        misuse("getcontext failed");
    f->ctx.uc_stack.ss_sp = f->map + f->map_len - STACK_SIZE;
    f->ctx.uc_stack.ss_size = STACK_SIZE;
    f->ctx.uc_link = NULL; /* the trampoline never returns */
    makecontext(&f->ctx, trampoline, 0);
    t_starting = f;
    return fiber_run(f) ? f : NULL;
}

cn_fiber_t *cn_fiber_current(void)
{
    return t_current;
}

void cn_fiber_suspend(void)
{
    cn_fiber_t *f = t_current;
    if (f == NULL)
        misuse("cn_fiber_suspend outside a fiber");
    f->state = FIBER_SUSPENDED;
    fiber_leave(f);
    fiber_arrived(f);
}

int cn_fiber_resume(cn_fiber_t *f)
{
    if (t_current != NULL)
        misuse("cn_fiber_resume inside a fiber");
    if (f == NULL || f->state != FIBER_SUSPENDED)
        misuse("cn_fiber_resume of a fiber that is not suspended");
    return fiber_run(f);
}

void cn_fiber_thread_exit(void)
{
    if (t_current != NULL)
        misuse("cn_fiber_thread_exit inside a fiber");
    while (t_pool != NULL) {
        cn_fiber_t *f = t_pool;
        t_pool = f->next_free;
        fiber_free(f);
    }
    t_pool_n = 0;
}
