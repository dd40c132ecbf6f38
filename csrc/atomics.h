/* atomics.h -- the only include of <stdatomic.h>: small inline helpers over
 * 64-bit shared words, each named for the memory order it uses.
 *
 * Every cell of atomicmetrics is an array of `am_word`s reached through a
 * pointer. The words may live inside the Python object or in a shared-memory
 * arena mapped by several processes (lock-free 64-bit atomics are
 * address-free, C11 7.17.5), so no helper here may assume who owns them.
 *
 * Order policy: read-modify-write operations that a caller can observe are
 * acq_rel and plain loads are acquire; relaxed is used only where a comment
 * at the call site says which later release publishes the write.
 */
#ifndef AM_ATOMICS_H
#define AM_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "atomicmetrics needs always-lock-free 64-bit atomics"
#endif

/* One shared signed 64-bit word. Unsigned views use am_uword. */
typedef _Atomic int64_t am_word;
typedef _Atomic uint64_t am_uword;

_Static_assert(sizeof(am_word) == 8, "am_word must be one 64-bit word");
_Static_assert(sizeof(am_uword) == 8, "am_uword must be one 64-bit word");

/* ---- loads and stores -------------------------------------------------- */

static inline int64_t am_load_relaxed(am_word *w)
{ return atomic_load_explicit(w, memory_order_relaxed); }

static inline int64_t am_load_acquire(am_word *w)
{ return atomic_load_explicit(w, memory_order_acquire); }

static inline void am_store_relaxed(am_word *w, int64_t v)
{ atomic_store_explicit(w, v, memory_order_relaxed); }

static inline void am_store_release(am_word *w, int64_t v)
{ atomic_store_explicit(w, v, memory_order_release); }

static inline uint64_t am_uload_acquire(am_uword *w)
{ return atomic_load_explicit(w, memory_order_acquire); }

static inline uint64_t am_uload_relaxed(am_uword *w)
{ return atomic_load_explicit(w, memory_order_relaxed); }

static inline void am_ustore_release(am_uword *w, uint64_t v)
{ atomic_store_explicit(w, v, memory_order_release); }

/* ---- read-modify-write ------------------------------------------------- */

static inline int64_t am_exchange_acq_rel(am_word *w, int64_t v)
{ return atomic_exchange_explicit(w, v, memory_order_acq_rel); }

/* Wrapping add (C11 defines atomic signed arithmetic as two's complement);
 * callers that must not wrap use am_cas_* loops instead. */
static inline int64_t am_fetch_add_relaxed(am_word *w, int64_t v)
{ return atomic_fetch_add_explicit(w, v, memory_order_relaxed); }

static inline int64_t am_fetch_add_release(am_word *w, int64_t v)
{ return atomic_fetch_add_explicit(w, v, memory_order_release); }

static inline int64_t am_fetch_add_acq_rel(am_word *w, int64_t v)
{ return atomic_fetch_add_explicit(w, v, memory_order_acq_rel); }

static inline uint64_t am_ufetch_add_acq_rel(am_uword *w, uint64_t v)
{ return atomic_fetch_add_explicit(w, v, memory_order_acq_rel); }

static inline uint64_t am_ufetch_sub_acq_rel(am_uword *w, uint64_t v)
{ return atomic_fetch_sub_explicit(w, v, memory_order_acq_rel); }

static inline uint64_t am_ufetch_or_acq_rel(am_uword *w, uint64_t v)
{ return atomic_fetch_or_explicit(w, v, memory_order_acq_rel); }

static inline uint64_t am_ufetch_and_release(am_uword *w, uint64_t v)
{ return atomic_fetch_and_explicit(w, v, memory_order_release); }

/* Strong CAS: on failure *expected receives the current value. */
static inline int am_cas_acq_rel(am_word *w, int64_t *expected, int64_t desired)
{
    return atomic_compare_exchange_strong_explicit(
        w, expected, desired, memory_order_acq_rel, memory_order_acquire);
}

/* Weak CAS for retry loops (may fail spuriously). */
static inline int am_cas_weak_acq_rel(am_word *w, int64_t *expected, int64_t desired)
{
    return atomic_compare_exchange_weak_explicit(
        w, expected, desired, memory_order_acq_rel, memory_order_acquire);
}

/* Strong relaxed CAS: a failure means another thread changed the word (how
 * striped cells detect contention); for words that order nothing else. */
static inline int am_cas_relaxed(am_word *w, int64_t *expected, int64_t desired)
{
    return atomic_compare_exchange_strong_explicit(
        w, expected, desired, memory_order_relaxed, memory_order_relaxed);
}

static inline int am_cas_weak_relaxed(am_word *w, int64_t *expected, int64_t desired)
{
    return atomic_compare_exchange_weak_explicit(
        w, expected, desired, memory_order_relaxed, memory_order_relaxed);
}

static inline uint64_t am_ufetch_or_relaxed(am_uword *w, uint64_t v)
{ return atomic_fetch_or_explicit(w, v, memory_order_relaxed); }

static inline int64_t am_exchange_relaxed(am_word *w, int64_t v)
{ return atomic_exchange_explicit(w, v, memory_order_relaxed); }

static inline void am_ustore_relaxed(am_uword *w, uint64_t v)
{ atomic_store_explicit(w, v, memory_order_relaxed); }

static inline uint64_t am_ufetch_add_relaxed(am_uword *w, uint64_t v)
{ return atomic_fetch_add_explicit(w, v, memory_order_relaxed); }

static inline uint64_t am_ufetch_add_release(am_uword *w, uint64_t v)
{ return atomic_fetch_add_explicit(w, v, memory_order_release); }

static inline int am_ucas_weak_acq_rel(am_uword *w, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_weak_explicit(
        w, expected, desired, memory_order_acq_rel, memory_order_relaxed);
}

static inline int am_ucas_acq_rel(am_uword *w, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_strong_explicit(
        w, expected, desired, memory_order_acq_rel, memory_order_acquire);
}

/* ---- fences ------------------------------------------------------------ */

/* Full fence: orders an earlier store before a later load (the Dekker
 * pattern of "publish, then check for sleepers" / "announce sleep, then
 * check for work"); both sides need one. */
static inline void am_fence_seq_cst(void)
{ atomic_thread_fence(memory_order_seq_cst); }

/* Acquire fence: orders earlier relaxed loads before later loads (the
 * re-check of a seqlock-style read). */
static inline void am_fence_acquire(void)
{ atomic_thread_fence(memory_order_acquire); }

/* Add n to *w unless the int64 result would overflow; *prev receives the
 * value the decision was made on. Returns 0 (added), or -1 (nothing changed).
 * acq_rel CAS loop: linearizable at the successful CAS. */
static inline int am_add_checked_acq_rel(am_word *w, int64_t n, int64_t *prev)
{
    int64_t cur = am_load_relaxed(w);
    for (;;) {
        if ((n > 0 && cur > INT64_MAX - n) || (n < 0 && cur < INT64_MIN - n)) {
            *prev = cur;
            return -1;
        }
        if (am_cas_weak_acq_rel(w, &cur, cur + n)) {
            *prev = cur;
            return 0;
        }
    }
}

/* Raise the unsigned word *w to at least x (no-op when already >= x).
 * acq_rel CAS when it writes; an acquire load when it does not. */
static inline void am_ufetch_max_acq_rel(am_uword *w, uint64_t x)
{
    uint64_t cur = am_uload_acquire(w);
    while (cur < x && !am_ucas_acq_rel(w, &cur, x)) {
    }
}

/* ---- doubles stored as their bit pattern in one word ------------------- */

static inline int64_t am_bits_of(double x)
{ int64_t b; memcpy(&b, &x, sizeof b); return b; }

static inline double am_double_of(int64_t b)
{ double x; memcpy(&x, &b, sizeof x); return x; }

static inline double am_load_double_acquire(am_word *w)
{ return am_double_of(am_load_acquire(w)); }

/* Add x to the double held in *w by a CAS loop on its bits; returns the
 * previous value. `relaxed` variant for words published by a later release. */
static inline double am_double_add_acq_rel(am_word *w, double x)
{
    int64_t old = am_load_relaxed(w);
    while (!am_cas_weak_acq_rel(w, &old, am_bits_of(am_double_of(old) + x))) {
    }
    return am_double_of(old);
}

static inline double am_double_add_relaxed(am_word *w, double x)
{
    int64_t old = am_load_relaxed(w);
    while (!am_cas_weak_relaxed(w, &old, am_bits_of(am_double_of(old) + x))) {
    }
    return am_double_of(old);
}

/* ---- pointers published once (lazily allocated tables) ----------------- */

/* A pointer word that goes from NULL to one value, once: the winner of the
 * CAS publishes (release) a fully initialised block; readers acquire it. */
typedef _Atomic(void *) am_ptr;

static inline void *am_ptr_load_acquire(am_ptr *p)
{ return atomic_load_explicit(p, memory_order_acquire); }

/* Strong CAS from NULL; on failure *expected receives the current pointer. */
static inline int am_ptr_cas_acq_rel(am_ptr *p, void **expected, void *desired)
{
    return atomic_compare_exchange_strong_explicit(
        p, expected, desired, memory_order_acq_rel, memory_order_acquire);
}

/* ---- pause inside spin loops ------------------------------------------- */

static inline void am_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* AM_ATOMICS_H */
