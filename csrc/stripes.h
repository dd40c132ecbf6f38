/* stripes.h -- contention-adaptive stripes: the machinery every striped
 * cell shares (StripedCounter, the registry's counter cells, histograms,
 * rule metrics, throughput; Java's LongAdder idea).
 *
 * A striped cell starts as one cell (its `base`, the cell it has always
 * had) and a table pointer that is NULL. Only when an update sees
 * contention -- a CAS on the base that fails because another thread changed
 * the word between our load and our CAS -- does that thread allocate a
 * table of stripes and publish it with one pointer CAS. From then on each
 * thread updates "its" stripe, chosen by a per-thread probe; a thread whose
 * CAS on a stripe fails moves its probe to another stripe (re-hashes), so
 * colliding threads spread out. Readers sum the base and every stripe.
 *
 * On a GIL build no CAS ever fails (no other thread runs between the load
 * and the CAS of one C call), so no table is ever allocated there and the
 * cell costs what it cost before stripes existed: one extra load of the
 * table pointer, which lives beside the base in the object.
 *
 * ---- Table layout ----------------------------------------------------------
 *
 *   am_stripes header (one cache line): mask, words, limit (immutable)
 *   stripe i at byte AM_CACHE_LINE + i * stride, stride = words * 8 rounded
 *   up to a multiple of AM_CACHE_LINE: every stripe starts on its own cache
 *   line, so threads on different stripes never share a line.
 *   Zero-filled: every cell type's empty state is all-zero words.
 *
 * ---- Lifetime and orders ---------------------------------------------------
 *
 * The table pointer (am_ptr, in the cell object) goes from NULL to one
 * value, once: the thread that wins the CAS publishes a fully initialised
 * (zeroed) table with release; every reader acquires it. A table is never
 * replaced, resized or freed while the cell object lives (the object's
 * destructor frees it), so a pointer read once stays valid for the whole
 * call: no reclamation scheme is needed. The loser of a publication race
 * frees its own copy and uses the winner's.
 *
 * AM_STRIPES_NEVER in the pointer means "never stripe": cells whose words
 * live in a multi-process arena (other processes cannot see a heap table;
 * the arena gives each process a shard of its own instead), and cells that
 * must keep their full range in one word (see striped.c).
 *
 * ---- Stripe count and memory ------------------------------------------------
 *
 * Twice the online CPUs, rounded up to a power of two, 4..128 (hash
 * collisions are likely with exactly one stripe per CPU, and the re-hash
 * cures the rest). A contended cell grows by at most
 * 64 + 128 * stride bytes; am_stripes_bytes() reports the table's size for
 * __sizeof__.
 *
 * ---- The probe --------------------------------------------------------------
 *
 * One `_Thread_local` hint per thread, shared by every striped cell: which
 * stripe the thread tries first. Only a hint, never shared between threads
 * (no race); seeded from a hash of the thread id, advanced by xorshift32 on
 * a collision.
 */
#ifndef AM_STRIPES_H
#define AM_STRIPES_H

#include "module.h"

#define AM_CACHE_LINE 64
#define AM_STRIPES_MIN 4u
#define AM_STRIPES_MAX 128u

/* The table pointer of a cell that never stripes. */
#define AM_STRIPES_NEVER ((void *)(uintptr_t)1)

typedef struct {
    uint32_t mask;     /* nstripes - 1; nstripes is a power of two */
    uint32_t words;    /* am_words per stripe (its cell layout) */
    size_t stride;     /* bytes from one stripe to the next, multiple of AM_CACHE_LINE */
    int64_t limit;     /* the cell type's per-stripe bound (striped.c, rule_metric.c), or 0 */
} am_stripes;

_Static_assert(sizeof(am_stripes) <= AM_CACHE_LINE, "the header fits one cache line");

/* The published table, or NULL (none yet, or AM_STRIPES_NEVER). */
static inline am_stripes *
am_stripes_get(am_ptr *slot)
{
    void *t = am_ptr_load_acquire(slot);
    return t == AM_STRIPES_NEVER ? NULL : (am_stripes *)t;
}

static inline uint32_t
am_stripes_count(const am_stripes *t)
{
    return t->mask + 1;
}

/* The words of stripe i (i <= mask). */
static inline am_word *
am_stripe(am_stripes *t, uint32_t i)
{
    return (am_word *)((char *)t + AM_CACHE_LINE + (size_t)i * t->stride);
}

/* The probe of this thread; 0 until seeded. Defined in stripes.c. */
extern _Thread_local uint32_t am_probe_hint;

/* Seed this thread's probe from a hash of its thread id; returns it. */
uint32_t am_probe_seed(void);

/* This thread's probe (never 0). */
static inline uint32_t
am_probe(void)
{
    uint32_t p = am_probe_hint;
    return p != 0 ? p : am_probe_seed();
}

/* After a collision on the stripe of probe p: the next probe (xorshift32),
 * remembered for this thread. */
static inline uint32_t
am_probe_next(uint32_t p)
{
    p ^= p << 13;
    p ^= p >> 17;
    p ^= p << 5;
    am_probe_hint = p;
    return p;
}

/* The table in *slot, allocating and publishing one of `words` words per
 * stripe (and per-stripe bound `limit`) if there is none. *created (when
 * not NULL) is set to 1 when this call published the table, else 0.
 * Returns NULL, without an exception, when the slot holds AM_STRIPES_NEVER
 * or memory is short: the caller keeps updating its base, which is always
 * correct. */
am_stripes *am_stripes_grow(am_ptr *slot, Py_ssize_t words, int64_t limit, int *created);

/* How many stripes a table made now would have (2 x CPUs, 4..128). */
uint32_t am_stripes_for_this_machine(void);

/* Bytes held by the table in *slot (0 without one): for __sizeof__. */
Py_ssize_t am_stripes_bytes(am_ptr *slot);

/* Free the table in *slot (destructors only: no other reference may remain). */
void am_stripes_free(am_ptr *slot);

#endif /* AM_STRIPES_H */
