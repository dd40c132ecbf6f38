/* clock.h -- the one monotonic clock of the C module, and the one way it
 * waits for another thread or process: spin, then yield, reading the clock
 * now and then to bound the wait. Plain C (no Python API), so a wait may
 * run with the thread state detached. */
#ifndef AM_CLOCK_H
#define AM_CLOCK_H

#include "atomics.h"

#include <sched.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: what time.monotonic_ns() reads on Linux
 * (a vDSO call, ~20 ns). Never 0 in practice (it counts from boot). */
static inline int64_t
am_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* CLOCK_REALTIME in nanoseconds since the epoch: what time.time_ns() reads
 * on Linux. */
static inline int64_t
am_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* Whether am_monotonic_ns() is the clock of time.monotonic_ns(): on Linux
 * both are clock_gettime(CLOCK_MONOTONIC); elsewhere Python may use another
 * clock, and a reading of one cannot be compared with the other. */
#ifdef __linux__
#define AM_MONOTONIC_IS_PYTHONS 1
#else
#define AM_MONOTONIC_IS_PYTHONS 0
#endif

/* The back-off of every bounded wait: the first AM_BACKOFF_SPINS steps
 * pause the CPU (the awaited thread is usually a few instructions from
 * done), later steps yield it (the awaited thread may be descheduled, or
 * sharing this core), and every AM_BACKOFF_CLOCK_EVERY-th yielding step
 * reads the clock, so that a bound on the wait costs one clock read per
 * 16 yields. */
#define AM_BACKOFF_SPINS 128u
#define AM_BACKOFF_CLOCK_EVERY 16u

/* Whether step `step` of a wait is still spinning: a caller that must not
 * yield (it holds the GIL or a critical section) stops before the first
 * step for which this is false. */
static inline int
am_backoff_spinning(unsigned step)
{
    return step < AM_BACKOFF_SPINS;
}

/* Step `step` (0, 1, 2, ...) of a wait. Returns the clock (am_monotonic_ns)
 * when this step read it, else 0. */
static inline int64_t
am_backoff(unsigned step)
{
    if (am_backoff_spinning(step)) {
        am_cpu_relax();
        return 0;
    }
    sched_yield();
    return step % AM_BACKOFF_CLOCK_EVERY == 0 ? am_monotonic_ns() : 0;
}

/* Whether `bound_ns` has passed since *since, given `now` from am_backoff.
 * The wait is timed lazily: *since == 0 means "not timed yet" (the first
 * reading sets it), so a caller that sees progress restarts the bound by
 * setting *since back to 0. A step without a reading (now == 0) answers 0. */
static inline int
am_waited(int64_t now, int64_t *since, int64_t bound_ns)
{
    if (now == 0) {
        return 0;
    }
    if (*since == 0) {
        *since = now;
        return 0;
    }
    return now - *since >= bound_ns;
}

#endif /* AM_CLOCK_H */
