/*
 * Fibers: a function that runs on a stack of its own and can suspend itself in the middle,
 * so an event loop can start many handlers whose database calls wait on one round trip
 * together (the PostgreSQL driver pipelines their statements) while each handler stays
 * plain sequential code. One thread's fibers run only on that thread, one at a time; a
 * fiber is started and resumed from the thread's own stack, never from another fiber.
 */
#ifndef CAIRN_BASE_FIBER_H
#define CAIRN_BASE_FIBER_H

typedef struct st_cn_fiber_t cn_fiber_t;

/**
 * Called on every switch of the fiber: right after it is switched in (in = 1: started or
 * resumed) and right before it is switched out (in = 0: it suspends or its function has
 * returned). Lets the owner swap per-thread state the fiber's code relies on. May be NULL.
 */
typedef void (*cn_fiber_switch_fn)(void *ud, int in);

/**
 * Runs fn(arg) on a new fiber (its stack from the thread's pool) until fn suspends or
 * returns. Returns the fiber when it is suspended, NULL when fn has already returned (the
 * fiber is then gone). Must be called from the thread's own stack.
 */
cn_fiber_t *cn_fiber_start(void (*fn)(void *arg), void *arg, cn_fiber_switch_fn on_switch,
                           void *ud);

/** The running fiber, or NULL on the thread's own stack. */
cn_fiber_t *cn_fiber_current(void);

/** Switches from the running fiber back to the code that started or resumed it. */
void cn_fiber_suspend(void);

/**
 * Runs suspended fiber f until it suspends again (returns 1) or its function returns
 * (returns 0: f is gone). Must be called from the thread's own stack.
 */
int cn_fiber_resume(cn_fiber_t *f);

/** Frees the calling thread's pool of fiber stacks (no fiber of it may be suspended). */
void cn_fiber_thread_exit(void);

#endif
