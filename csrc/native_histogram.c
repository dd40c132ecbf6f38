/* native_histogram.c -- the C core of
 * atomicmetrics.AtomicNativeHistogram: Prometheus's native (sparse,
 * exponential) histogram with a lock-free observe() and consistent
 * snapshots by the hot/cold scheme of hotcold.h.
 *
 * ==== Buckets ===============================================================
 *
 * Schema s (-4..8), base 2**(2**-s): bucket i of a span holds the |v| with
 * base**(i-1) < |v| <= base**i; the sign picks the span (positive, negative);
 * |v| <= zero_threshold goes to the zero bucket. Every index is derived from
 * the schema-8 index i8 of |v|, because a bucket of schema s is exactly the
 * 2**(8-s) consecutive schema-8 buckets i8 with ceil(i8 / 2**(8-s)) = i
 * (base_s**i = base_8**(i * 2**(8-s)), and |v| <= base_8**k iff k >= i8):
 *
 *   i8(|v|)  |v| = m * 2**E with m in [1, 2) (subnormals normalized by their
 *            leading zeros); j = the first of the 257 bounds 2**(j/256) of
 *            an octave at or above m, found EXACTLY with one table lookup on
 *            m's top 9 bits and one integer compare of m's 52 mantissa bits
 *            against the bound rounded DOWN to a double (native_bounds.h,
 *            derived with integer arithmetic by scripts/gen_native_bounds.py:
 *            an irrational bound is never a double, so m <= bound iff
 *            m <= RD(bound)). i8 = 256*E + j. No log(), no division.
 *   +-Inf    i8(DBL_MAX) + 1 in its span: the bucket above every finite value
 *            at every schema (client_golang's convention).
 *   lowering one schema maps i to ceil(i/2): pairs (2k-1, 2k) merge into k,
 *            as Prometheus does; it composes, ceil(ceil(i/2)/2) = ceil(i/4).
 *
 * Indices are stored biased, u = i - 1 + NH_BIAS (|i| < 2**19 at schema 8,
 * so u is in [0, 2**21)): then lowering is u -> (u >> 1) + NH_BIAS/2 and
 * every shift is of a non-negative number.
 *
 * ==== Cell layout ===========================================================
 *
 *   [0]        ctl: hot bit 63, reader lock bit 62, bits 0-61 "started"
 *              (am_uword; exactly hotcold.h's control word)
 *   half h     NH_HEAD words each, then (arena cells only) its table:
 *     SUM        sum of the half's observations, double bits
 *     ZERO       zero-bucket count
 *     LOST       observations that could not get a bucket (MemoryError in
 *                observe(); in-process only): counted for the books only
 *     DROP       schema0 - (schema of this half's buckets); 0 in zero-filled
 *                memory, so an empty cell is at the constructor's schema
 *     POPULATED  hint: >= the half's populated buckets (see Compaction)
 *   arena half (after its head): TABLE of `capacity` (key, count) entries,
 *              key = ((u << 1) | span) + 1, 0 = free, claimed by CAS and
 *              never changed while the half is hot; then CATCH, 2 * 133
 *              count words: every bucket of schema -4 of each span (the
 *              whole double range), used when the table is full.
 *   in-process half: the buckets live outside the cell, reached from
 *              chain[h][span]: a singly linked list of blocks, each holding
 *              16 page pointers; a page holds the counts of 16 consecutive
 *              buckets (bucket u: block u >> 8, page (u >> 4) & 15, word
 *              u & 15). Blocks and pages are PyMem_Calloc'd on demand,
 *              published once by CAS (release) and read with acquire; a
 *              block's key is immutable while it is reachable by writers.
 *              Lowering a schema merges block pairs (2m', 2m'+1) into m' and
 *              page pairs within a block, in place: no allocation.
 *
 * Zero-filled words are the valid empty cell (hot half 0, schema0).
 *
 * ==== Writer: observe(v), never takes the lock ==============================
 *
 *   W1  hot = fetch_add(ctl, 1) >> 63                         [acq_rel]
 *       pairs with the release of the reader's swap: the reader's
 *       preparation of this half (DROP, emptied buckets) is visible.
 *   --  find the count word of v's bucket in half[hot] at the half's schema
 *       (in-process: allocating its block/page if needed, CAS-published; on
 *       MemoryError the observation is finished in LOST, W3, and observe()
 *       raises with nothing visible changed).
 *   W2  CAS-add v to half.SUM                                  [relaxed]
 *   W3  old = fetch_add(count, 1)                              [release]
 *       the completion signal: publishes W2 (and any block/page creation)
 *       to the reader's cooldown. The writer never touches half memory that
 *       a reader may free after W3.
 *   W4  if old == 0 (a bucket newly populated): POPULATED += 1 [relaxed];
 *       if that exceeds max_buckets, try a compaction (below).
 *
 * ==== Reader: snapshot, reset, compaction ===================================
 *
 *   R1  lock: the ctl lock bit. In-process: spin, then yield, never taken
 *       over (a second reader would free pages under the first). Arena:
 *       am_hc_lock (taken over from a dead process after the stale bound).
 *       A writer's compaction only TRIES the lock: it never waits for it.
 *   R2  A = the hot half (the whole history), B = the other (empty). Pick
 *       B's schema: the constructor's for reset(); else A's, or lower when
 *       A's POPULATED hint exceeds max_buckets and a racy walk of A (a lower
 *       bound of what A will hold) still needs a lower schema to fit: the
 *       largest schema at which those buckets fit in max_buckets (never
 *       below -4). Store B.DROP and B.POPULATED = 0 (published by R3).
 *   R3  swap: n = fetch_add(ctl, 1 << 63) [acq_rel]. Operations started
 *       before it went to A, later ones go to B. expected = started - B's
 *       total before the swap (0 unless the arena's stragglers, below).
 *   R4  cooldown: acquire-load A's counts (ZERO + LOST + buckets) until they
 *       sum to expected [pairs with W3]: every operation started before R3
 *       finished, A is frozen and private to the reader.
 *   R5  read: copy A's buckets (and SUM, ZERO) into a C buffer, sort by
 *       (span, u), and lower the copy while more than max_buckets remain
 *       (never below -4). That is the snapshot: exactly the operations
 *       started before R3. Python objects are built after R7.
 *   R6  move A into B, which is hot: in-process, lower A's blocks in place
 *       to B's schema, then link each into B's chain or, when B already has
 *       that block (a writer made it after R3), install each page into its
 *       empty slot or add its counts with fetch_add and free it; arena, move
 *       each entry by exchange(count, 0) then fetch_add into B's entry for
 *       the lowered key (claimed like a writer does), then clear A's keys.
 *       SUM, ZERO and LOST move the same way. B's POPULATED counts each
 *       bucket that the move newly populated. reset() instead drops A (its
 *       total is taken off "started", am_hc_forget).
 *   R7  compact while the hot half's hint still exceeds max_buckets (the
 *       writers' compactions failed while this reader held the lock), then
 *       unlock [release].
 *
 * After R6 B holds the whole history and is hot; A is empty. The two halves
 * therefore never hold two copies of the buckets between reads: in process,
 * A's blocks and pages are moved or freed (the memory of the histogram is
 * one set of buckets, plus transient pages during a read).
 *
 * What a reader observes: the operations started before its R3, each one
 * whole: count == zero_count + sum of the buckets, by construction; sum is
 * the sum of the same observations (in-process always; in the arena except
 * after a writer died between W2 and W3).
 *
 * Compaction (schema lowering): the snapshot's schema is always computed
 * from the exact data (the largest schema <= the stored one at which the
 * populated buckets fit in max_buckets, or -4), so it equals what eager
 * lowering after every observation gives (populated counts only grow with
 * data and only shrink with the schema, so the answer does not depend on
 * when the lowering happened). The STORED schema follows: R2 lowers B's
 * schema when the hint says so, and the writer whose W4 pushes the hint
 * past max_buckets runs R1-R7 itself without a snapshot, if the lock is
 * free, so the buckets kept stay near max_buckets without any read. The
 * hint never undercounts (every 0 -> nonzero transition of a count word is
 * counted by the fetch_add that made it), so "hint <= max_buckets" means no
 * lowering is needed; it may overcount by the writers that finished W3 just
 * before a swap, which only costs a walk that finds nothing to lower.
 *
 * Recovery (arena cells only; in-process cells wait without a bound, since
 * a thread cannot die inside observe() and freed pages must not be
 * reachable): as hotcold.h. A cooldown gives up after AM_HC_COOLDOWN_NS
 * (writers killed or stopped between W1 and W3): "started" is lowered by
 * the missing operations and raised back when they show up later; a
 * stopped writer that resumes after its half was moved may add its 1 to an
 * entry whose key was cleared: that observation is then lost, or counted in
 * the bucket whose key claims the entry next. A reader killed while holding
 * the lock loses at most the entry it was moving, and its lock is taken
 * over by the next reader after AM_HC_STALE_LOCK_NS.
 */
#include "hotcold.h"  /* first: it brings Python.h, which must precede system headers */
#include "cells.h"
#include "clock.h"
#include "native_bounds.h"

#include <math.h>

/* Allocation of in-process blocks, pages and read buffers. Overridable so
 * that tests/c can drive the protocol on raw threads without an
 * interpreter. */
#ifndef AM_NH_CALLOC
#define AM_NH_CALLOC(n, size) PyMem_Calloc((n), (size))
#define AM_NH_FREE(p) PyMem_Free(p)
#endif

#define NH_SCHEMA_MIN (-4)
#define NH_SCHEMA_MAX 8
#define NH_BIAS (INT64_C(1) << 20)      /* u = i - 1 + NH_BIAS */
#define NH_INF8 (1024 * 256 + 1)        /* i8 of +-Inf: above i8(DBL_MAX) */
#define NH_MANT_MASK ((UINT64_C(1) << 52) - 1)
#define NH_CATCH 133                    /* schema -4 buckets of a span: -67..65 */
#define NH_CATCH_FIRST (-67)
#define NH_MAX_BUCKETS_LIMIT (INT64_C(1) << 20)

enum { NH_SUM, NH_ZERO, NH_LOST, NH_DROP, NH_POPULATED, NH_HEAD };

#define NH_OWN_WORDS (1 + 2 * NH_HEAD)

/* ---- in-process bucket storage -------------------------------------------- */

#define NH_PAGE 16   /* buckets per page */
#define NH_BLOCK 16  /* pages per block: a block covers 256 buckets */

typedef struct {
    am_word count[NH_PAGE];
} nh_page;

typedef struct nh_block {
    uint64_t key;               /* u >> 8 of its buckets; see the layout above */
    am_ptr next;                /* the next block of the chain, set once */
    am_ptr page[NH_BLOCK];      /* nh_page *, each set once while hot */
} nh_block;

/* The protocol's state, without Python objects (tests/c drives it). */
typedef struct {
    am_word *cell;          /* immutable: own words or arena words */
    Py_ssize_t stride;      /* words per half: NH_HEAD, plus the arena table */
    Py_ssize_t capacity;    /* arena: table entries per half (a power of 2); 0 in-process */
    int shift;              /* arena: 64 - log2(capacity), for the hash */
    int schema;             /* the constructor's */
    int64_t max_buckets;
    double zero_threshold;
    am_ptr chain[2][2];     /* in-process: [half][span] first block (atomic) */
} nh_hist;

static inline am_uword *
nh_ctl(const nh_hist *h)
{
    return (am_uword *)&h->cell[0];
}

static inline am_word *
nh_half(const nh_hist *h, unsigned half)
{
    return h->cell + 1 + (Py_ssize_t)half * h->stride;
}

static inline am_word *
nh_table(const nh_hist *h, unsigned half)
{
    return nh_half(h, half) + NH_HEAD;
}

static inline am_word *
nh_catch(const nh_hist *h, unsigned half, unsigned span)
{
    return nh_table(h, half) + 2 * h->capacity + (Py_ssize_t)span * NH_CATCH;
}

static inline int
nh_schema_of(const nh_hist *h, unsigned half)
{
    return h->schema - (int)am_load_relaxed(&nh_half(h, half)[NH_DROP]);
}

/* ---- index math ---------------------------------------------------------- */

/* The schema-8 index of ax (> 0, not NaN; +Inf allowed). */
static inline int32_t
nh_index8(double ax)
{
    uint64_t bits;
    memcpy(&bits, &ax, sizeof bits);
    uint64_t biased = bits >> 52;  /* the sign bit is clear */
    uint64_t mant = bits & NH_MANT_MASK;
    int32_t e;
    if (biased == 0x7ff) {
        return NH_INF8;
    }
    if (biased == 0) {  /* subnormal: mant != 0 since ax > 0 */
        int top = 63 - __builtin_clzll(mant);  /* 0..51 */
        e = top - 1074;
        mant = (mant << (52 - top)) & NH_MANT_MASK;
    }
    else {
        e = (int32_t)biased - 1023;
    }
    unsigned j = am_nh_lut[mant >> 43];
    j += mant > am_nh_bound[j];
    return e * 256 + (int32_t)j;
}

/* The biased index u at schema s of the schema-8 index i8:
 * ceil(i8 / 2**k) - 1 + NH_BIAS with k = 8 - s, computed on non-negatives
 * (NH_BIAS is a multiple of 2**12 and i8 + NH_BIAS > 0). */
static inline uint64_t
nh_u_of(int32_t i8, int s)
{
    unsigned k = (unsigned)(NH_SCHEMA_MAX - s);
    uint64_t t = ((uint64_t)(i8 + NH_BIAS) + ((UINT64_C(1) << k) - 1)) >> k;
    return t - ((uint64_t)NH_BIAS >> k) - 1 + (uint64_t)NH_BIAS;
}

/* u lowered by k schemas: ceil(i / 2**k). */
static inline uint64_t
nh_u_lower(uint64_t u, unsigned k)
{
    return (u >> k) + (uint64_t)NH_BIAS - ((uint64_t)NH_BIAS >> k);
}

static inline int64_t
nh_index_of_u(uint64_t u)
{
    return (int64_t)u + 1 - NH_BIAS;
}

/* ---- the reader lock -------------------------------------------------------- */

/* R1 (blocking). See the protocol: in-process locks are never taken over. */
static void
nh_lock(const nh_hist *h)
{
    am_uword *ctl = nh_ctl(h);
    if (h->capacity) {
        am_hc_lock(ctl);
        return;
    }
    for (unsigned step = 0;; step++) {
        if (!(am_uload_relaxed(ctl) & AM_HC_LOCK)
            && !(am_ufetch_or_acq_rel(ctl, AM_HC_LOCK) & AM_HC_LOCK)) {
            return;
        }
        (void)am_backoff(step);
    }
}

/* R1 for a writer's compaction: 1 if taken, 0 if another reader holds it. */
static int
nh_trylock(const nh_hist *h)
{
    am_uword *ctl = nh_ctl(h);
    return !(am_uload_relaxed(ctl) & AM_HC_LOCK)
           && !(am_ufetch_or_acq_rel(ctl, AM_HC_LOCK) & AM_HC_LOCK);
}

/* ---- in-process chains ----------------------------------------------------- */

/* Link `fresh` (private, next == NULL) at the tail of the chain at *head
 * unless a block with its key is linked already; returns the block with
 * that key that is linked now (fresh itself, or the older one). Every link
 * is an append by CAS after walking the whole chain, so a key is never
 * linked twice. */
static nh_block *
nh_chain_link(am_ptr *head, nh_block *fresh)
{
    am_ptr *link = head;
    for (;;) {
        nh_block *b = am_ptr_load_acquire(link);
        if (b == NULL) {
            void *expected = NULL;
            if (am_ptr_cas_acq_rel(link, &expected, fresh)) {
                return fresh;
            }
            b = expected;
        }
        if (b->key == fresh->key) {
            return b;
        }
        link = &b->next;
    }
}

/* The count word of bucket u in the chain at *head, creating its block and
 * page if needed (writers and the fold of a hot half). NULL when an
 * allocation failed (no error set: the protocol functions are Python-free). */
static am_word *
nh_page_slot(am_ptr *head, uint64_t u)
{
    uint64_t key = u >> 8;
    nh_block *b = am_ptr_load_acquire(head);
    while (b != NULL && b->key != key) {
        b = am_ptr_load_acquire(&b->next);
    }
    if (b == NULL) {
        nh_block *fresh = AM_NH_CALLOC(1, sizeof(nh_block));
        if (fresh == NULL) {
            return NULL;
        }
        fresh->key = key;
        b = nh_chain_link(head, fresh);
        if (b != fresh) {
            AM_NH_FREE(fresh);
        }
    }
    am_ptr *slot = &b->page[(u >> 4) & (NH_BLOCK - 1)];
    nh_page *p = am_ptr_load_acquire(slot);
    if (p == NULL) {
        nh_page *fresh = AM_NH_CALLOC(1, sizeof(nh_page));
        if (fresh == NULL) {
            return NULL;
        }
        void *expected = NULL;
        if (am_ptr_cas_acq_rel(slot, &expected, fresh)) {
            p = fresh;
        }
        else {
            AM_NH_FREE(fresh);
            p = expected;
        }
    }
    return &p->count[u & (NH_PAGE - 1)];
}

/* Visit every page of a chain: fn(page, u of its first bucket, arg). */
typedef void (*nh_page_fn)(nh_page *p, uint64_t u0, void *arg);

static void
nh_chain_each(am_ptr *head, nh_page_fn fn, void *arg)
{
    for (nh_block *b = am_ptr_load_acquire(head); b != NULL; b = am_ptr_load_acquire(&b->next)) {
        for (unsigned k = 0; k < NH_BLOCK; k++) {
            nh_page *p = am_ptr_load_acquire(&b->page[k]);
            if (p != NULL) {
                fn(p, (b->key << 8) | ((uint64_t)k << 4), arg);
            }
        }
    }
}

/* Free a private chain and empty its head. */
static void
nh_chain_free(am_ptr *head)
{
    nh_block *b = am_ptr_load_acquire(head);
    while (b != NULL) {
        nh_block *next = am_ptr_load_acquire(&b->next);
        for (unsigned k = 0; k < NH_BLOCK; k++) {
            AM_NH_FREE(am_ptr_load_acquire(&b->page[k]));
        }
        AM_NH_FREE(b);
        b = next;
    }
    atomic_store_explicit(head, NULL, memory_order_relaxed);
}

/* Lower a PRIVATE chain by one schema, in place: page pairs of a block
 * merge into one page, block pairs (2m', 2m'+1) into one block m' (whose
 * halves they fill: slots 0-7 from the even block, 8-15 from the odd). */
static void
nh_chain_lower(am_ptr *head)
{
    nh_block *out = NULL;  /* the lowered chain, built privately */
    nh_block *b = am_ptr_load_acquire(head);
    while (b != NULL) {
        nh_block *next = am_ptr_load_acquire(&b->next);
        unsigned base = (b->key & 1) ? NH_BLOCK / 2 : 0;
        nh_page *lowered[NH_BLOCK / 2];
        for (unsigned k = 0; k < NH_BLOCK / 2; k++) {
            nh_page *p0 = am_ptr_load_acquire(&b->page[2 * k]);
            nh_page *p1 = am_ptr_load_acquire(&b->page[2 * k + 1]);
            nh_page *keep = p0 != NULL ? p0 : p1;
            if (keep != NULL) {
                int64_t merged[NH_PAGE] = {0};
                for (unsigned o = 0; o < NH_PAGE / 2; o++) {
                    if (p0 != NULL) {
                        merged[o] = am_load_relaxed(&p0->count[2 * o])
                                    + am_load_relaxed(&p0->count[2 * o + 1]);
                    }
                    if (p1 != NULL) {
                        merged[NH_PAGE / 2 + o] = am_load_relaxed(&p1->count[2 * o])
                                                  + am_load_relaxed(&p1->count[2 * o + 1]);
                    }
                }
                for (unsigned o = 0; o < NH_PAGE; o++) {
                    am_store_relaxed(&keep->count[o], merged[o]);
                }
                if (p0 != NULL && p1 != NULL) {
                    AM_NH_FREE(p1);
                }
            }
            lowered[k] = keep;
        }
        uint64_t key = (b->key >> 1) + (((uint64_t)NH_BIAS >> 9));
        nh_block *into = out;
        while (into != NULL && into->key != key) {
            into = am_ptr_load_acquire(&into->next);
        }
        if (into == NULL) {  /* reuse b itself for the lowered block */
            into = b;
            into->key = key;
            for (unsigned k = 0; k < NH_BLOCK; k++) {
                atomic_store_explicit(&into->page[k], NULL, memory_order_relaxed);
            }
            atomic_store_explicit(&into->next, out, memory_order_relaxed);
            out = into;
        }
        else {
            AM_NH_FREE(b);
        }
        for (unsigned k = 0; k < NH_BLOCK / 2; k++) {
            atomic_store_explicit(&into->page[base + k], lowered[k], memory_order_relaxed);
        }
        b = next;
    }
    atomic_store_explicit(head, out, memory_order_relaxed);
}

static int64_t
nh_page_populated(nh_page *p)
{
    int64_t n = 0;
    for (unsigned o = 0; o < NH_PAGE; o++) {
        n += am_load_relaxed(&p->count[o]) != 0;
    }
    return n;
}

/* Move a PRIVATE chain into the hot chain at *head (same schema); returns
 * how many buckets it newly populated there. Allocates nothing. */
static int64_t
nh_chain_adopt(am_ptr *head, am_ptr *from)
{
    int64_t populated = 0;
    nh_block *b = am_ptr_load_acquire(from);
    atomic_store_explicit(from, NULL, memory_order_relaxed);
    while (b != NULL) {
        nh_block *next = am_ptr_load_acquire(&b->next);
        atomic_store_explicit(&b->next, NULL, memory_order_relaxed);
        nh_block *into = nh_chain_link(head, b);
        if (into == b) {  /* linked whole */
            for (unsigned k = 0; k < NH_BLOCK; k++) {
                nh_page *p = am_ptr_load_acquire(&b->page[k]);
                populated += p != NULL ? nh_page_populated(p) : 0;
            }
        }
        else {
            for (unsigned k = 0; k < NH_BLOCK; k++) {
                nh_page *p = am_ptr_load_acquire(&b->page[k]);
                if (p == NULL) {
                    continue;
                }
                void *expected = NULL;
                if (am_ptr_cas_acq_rel(&into->page[k], &expected, p)) {
                    populated += nh_page_populated(p);
                    continue;
                }
                nh_page *q = expected;
                for (unsigned o = 0; o < NH_PAGE; o++) {
                    int64_t c = am_load_relaxed(&p->count[o]);
                    if (c != 0 && am_fetch_add_relaxed(&q->count[o], c) == 0) {
                        populated++;
                    }
                }
                AM_NH_FREE(p);
            }
            AM_NH_FREE(b);
        }
        b = next;
    }
    return populated;
}

/* ---- arena table ------------------------------------------------------------ */

static inline uint64_t
nh_key(uint64_t u, unsigned span)
{
    return ((u << 1) | span) + 1;
}

/* The count word of `key` in half's table, claiming a free entry by CAS;
 * NULL when the table is full. */
static am_word *
nh_table_slot(const nh_hist *h, unsigned half, uint64_t key)
{
    am_word *table = nh_table(h, half);
    size_t mask = (size_t)h->capacity - 1;
    size_t i = (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> h->shift);
    for (size_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
        int64_t cur = am_load_acquire(&table[2 * i]);
        if (cur == 0 && am_cas_acq_rel(&table[2 * i], &cur, (int64_t)key)) {
            return &table[2 * i + 1];
        }
        if (cur == (int64_t)key) {
            return &table[2 * i + 1];
        }
    }
    return NULL;
}

/* The catch-all word of bucket u of schema s: its bucket of schema -4,
 * which always exists. */
static inline am_word *
nh_catch_slot(const nh_hist *h, unsigned half, unsigned span, uint64_t u, int s)
{
    int64_t i = nh_index_of_u(nh_u_lower(u, (unsigned)(s - NH_SCHEMA_MIN)));
    return nh_catch(h, half, span) + (i - NH_CATCH_FIRST);
}

/* ---- the writer ---------------------------------------------------------- */

static void nh_compact(nh_hist *h);

/* observe(x) for x not NaN. Returns 0, or -1 when an in-process block or
 * page could not be allocated: the observation is finished in LOST (the
 * books balance, nothing visible changed) and the caller raises. */
static int
nh_record(nh_hist *h, double x)
{
    double ax = fabs(x);
    int zero = !(ax > h->zero_threshold);
    unsigned span = signbit(x) ? 1u : 0u;
    int32_t i8 = zero ? 0 : nh_index8(ax);
    unsigned hot = am_hc_begin(nh_ctl(h));                  /* W1 */
    am_word *half = nh_half(h, hot);
    am_word *count;
    int s = 0;
    int bucket = 0;  /* a span bucket that counts toward max_buckets */
    if (zero) {
        count = &half[NH_ZERO];
    }
    else {
        s = nh_schema_of(h, hot);
        uint64_t u = nh_u_of(i8, s);
        if (h->capacity == 0) {
            count = nh_page_slot(&h->chain[hot][span], u);
            if (count == NULL) {
                am_hc_finish(&half[NH_LOST]);
                return -1;
            }
            bucket = 1;
        }
        else {
            count = nh_table_slot(h, hot, nh_key(u, span));
            bucket = count != NULL;
            if (count == NULL) {
                count = nh_catch_slot(h, hot, span, u, s);
            }
        }
    }
    am_double_add_relaxed(&half[NH_SUM], x);                /* W2 */
    int64_t old = am_fetch_add_release(count, 1);           /* W3 */
    if (old == 0 && bucket                                  /* W4 */
        && am_fetch_add_relaxed(&half[NH_POPULATED], 1) + 1 > h->max_buckets
        && s > NH_SCHEMA_MIN && nh_trylock(h)) {
        nh_compact(h);
        am_hc_unlock(nh_ctl(h));
    }
    return 0;
}

/* ---- the reader ---------------------------------------------------------- */

/* One bucket as a reader copies it out. */
typedef struct {
    uint64_t u;
    uint64_t span;
    int64_t count;
} nh_entry;

/* A list of entries being collected (capacity fixed when allocated). */
typedef struct {
    nh_entry *items;
    Py_ssize_t n;
    Py_ssize_t cap;
} nh_list;

static void
nh_list_put(nh_list *l, uint64_t u, unsigned span, int64_t count)
{
    if (count != 0 && l->n < l->cap) {
        l->items[l->n++] = (nh_entry){u, span, count};
    }
}

typedef struct {
    nh_list *list;
    unsigned span;
    int64_t total;
} nh_walk;

static void
nh_walk_page(nh_page *p, uint64_t u0, void *arg)
{
    nh_walk *w = arg;
    for (unsigned o = 0; o < NH_PAGE; o++) {
        int64_t c = am_load_acquire(&p->count[o]);  /* pairs with W3 */
        w->total += c;
        if (w->list != NULL) {
            nh_list_put(w->list, u0 | o, w->span, c);
        }
    }
}

/* Walk one half: its bucket total (for the cooldown, LOST and ZERO
 * included) and, when `list` is given, its buckets into it (as many as fit).
 * The catch-all counts in the total; its buckets are not listed. */
static int64_t
nh_collect(const nh_hist *h, unsigned half, nh_list *list)
{
    am_word *head = nh_half(h, half);
    int64_t total = am_load_acquire(&head[NH_ZERO]) + am_load_acquire(&head[NH_LOST]);
    if (h->capacity == 0) {
        for (unsigned span = 0; span < 2; span++) {
            nh_walk w = {list, span, 0};
            nh_chain_each((am_ptr *)&h->chain[half][span], nh_walk_page, &w);
            total += w.total;
        }
        return total;
    }
    am_word *table = nh_table(h, half);
    for (Py_ssize_t i = 0; i < h->capacity; i++) {
        int64_t c = am_load_acquire(&table[2 * i + 1]);
        total += c;
        uint64_t key = (uint64_t)am_load_relaxed(&table[2 * i]);
        if (list != NULL && key != 0) {
            nh_list_put(list, (key - 1) >> 1, (unsigned)((key - 1) & 1), c);
        }
    }
    for (unsigned span = 0; span < 2; span++) {
        am_word *catch_all = nh_catch(h, half, span);
        for (Py_ssize_t i = 0; i < NH_CATCH; i++) {
            total += am_load_acquire(&catch_all[i]);
        }
    }
    return total;
}

static int
nh_entry_cmp(const void *a, const void *b)
{
    const nh_entry *x = a, *y = b;
    if (x->span != y->span) {
        return x->span < y->span ? -1 : 1;
    }
    return x->u < y->u ? -1 : x->u > y->u;
}

/* Lower sorted entries by one schema, merging the pairs that meet. */
static void
nh_list_lower(nh_list *l, unsigned k)
{
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < l->n; i++) {
        nh_entry e = l->items[i];
        e.u = nh_u_lower(e.u, k);
        if (n > 0 && l->items[n - 1].u == e.u && l->items[n - 1].span == e.span) {
            l->items[n - 1].count += e.count;
        }
        else {
            l->items[n++] = e;
        }
    }
    l->n = n;
}

/* Sort, then lower from schema s while more than max_buckets buckets are
 * populated (never below -4); returns the schema reached. */
static int
nh_list_fit(const nh_hist *h, nh_list *l, int s)
{
    qsort(l->items, (size_t)l->n, sizeof(nh_entry), nh_entry_cmp);
    while (l->n > h->max_buckets && s > NH_SCHEMA_MIN) {
        nh_list_lower(l, 1);
        s--;
    }
    return s;
}

/* R2: the schema for B when A (hot, at schema s) may need lowering. A racy
 * walk of A sees a subset of what A will hold, so its fit is never below
 * the exact one. Allocation failure: no lowering this time. */
static int
nh_estimate(const nh_hist *h, unsigned a, int s)
{
    Py_ssize_t cap = h->capacity ? h->capacity : 0;
    if (h->capacity == 0) {  /* the hint never undercounts: room for all but racers */
        int64_t n = am_load_relaxed(&nh_half(h, a)[NH_POPULATED]);
        cap = (Py_ssize_t)(n + n / 4 + 16);
    }
    nh_list l = {AM_NH_CALLOC((size_t)cap, sizeof(nh_entry)), 0, cap};
    if (l.items == NULL) {
        return s;
    }
    (void)nh_collect(h, a, &l);
    int fit = nh_list_fit(h, &l, s);
    AM_NH_FREE(l.items);
    return fit;
}

/* What a snapshot copies out (R5). */
typedef struct {
    int schema;
    double sum;
    int64_t zero;
    int64_t count;
    nh_list buckets;    /* sorted by (span, u); items AM_NH_CALLOC'd or NULL */
} nh_snap;

/* R5 on the private half A at schema s. Returns 0, or -1 when the buffer
 * could not be allocated (snap->buckets.items == NULL). */
static int
nh_read(const nh_hist *h, unsigned a, int s, nh_snap *snap)
{
    am_word *head = nh_half(h, a);
    snap->sum = am_double_of(am_load_relaxed(&head[NH_SUM]));
    snap->zero = am_load_relaxed(&head[NH_ZERO]);
    Py_ssize_t cap = 0;
    if (h->capacity) {
        cap = h->capacity + 2 * NH_CATCH;
    }
    else {  /* A is private: count its populated buckets exactly */
        for (unsigned span = 0; span < 2; span++) {
            for (nh_block *b = am_ptr_load_acquire((am_ptr *)&h->chain[a][span]); b != NULL;
                 b = am_ptr_load_acquire(&b->next)) {
                for (unsigned k = 0; k < NH_BLOCK; k++) {
                    nh_page *p = am_ptr_load_acquire(&b->page[k]);
                    cap += p != NULL ? (Py_ssize_t)nh_page_populated(p) : 0;
                }
            }
        }
    }
    snap->buckets = (nh_list){AM_NH_CALLOC((size_t)(cap ? cap : 1), sizeof(nh_entry)), 0, cap};
    if (snap->buckets.items == NULL) {
        return -1;
    }
    (void)nh_collect(h, a, &snap->buckets);
    int catch_used = 0;
    if (h->capacity) {  /* the catch-all forces schema -4 */
        for (unsigned span = 0; span < 2 && !catch_used; span++) {
            am_word *catch_all = nh_catch(h, a, span);
            for (Py_ssize_t i = 0; i < NH_CATCH; i++) {
                catch_used |= am_load_relaxed(&catch_all[i]) != 0;
            }
        }
    }
    if (catch_used) {
        nh_list_lower(&snap->buckets, (unsigned)(s - NH_SCHEMA_MIN));
        for (unsigned span = 0; span < 2; span++) {
            am_word *catch_all = nh_catch(h, a, span);
            for (Py_ssize_t i = 0; i < NH_CATCH; i++) {
                uint64_t u = (uint64_t)(i + NH_CATCH_FIRST - 1 + NH_BIAS);
                nh_list_put(&snap->buckets, u, span, am_load_relaxed(&catch_all[i]));
            }
        }
        s = NH_SCHEMA_MIN;
        qsort(snap->buckets.items, (size_t)snap->buckets.n, sizeof(nh_entry), nh_entry_cmp);
        nh_list_lower(&snap->buckets, 0);  /* merge the duplicates */
    }
    snap->schema = nh_list_fit(h, &snap->buckets, s);
    snap->count = snap->zero;
    for (Py_ssize_t i = 0; i < snap->buckets.n; i++) {
        snap->count += snap->buckets.items[i].count;
    }
    return 0;
}

/* R6 for the arena: move A's entries into B, lowered by k schemas. */
static int64_t
nh_table_move(const nh_hist *h, unsigned a, unsigned b, unsigned k)
{
    int64_t populated = 0;
    am_word *table = nh_table(h, a);
    for (Py_ssize_t i = 0; i < h->capacity; i++) {
        int64_t c = am_exchange_acq_rel(&table[2 * i + 1], 0);
        uint64_t key = (uint64_t)am_load_relaxed(&table[2 * i]);
        if (c != 0 && key != 0) {
            unsigned span = (unsigned)((key - 1) & 1);
            uint64_t u = nh_u_lower((key - 1) >> 1, k);
            am_word *to = nh_table_slot(h, b, nh_key(u, span));
            if (to == NULL) {  /* B's table is full: its catch-all */
                to = nh_catch_slot(h, b, span, u, nh_schema_of(h, b));
            }
            if (am_fetch_add_relaxed(to, c) == 0) {
                populated++;
            }
        }
        am_store_release(&table[2 * i], 0);
    }
    for (unsigned span = 0; span < 2; span++) {
        am_word *from = nh_catch(h, a, span), *to = nh_catch(h, b, span);
        for (Py_ssize_t i = 0; i < NH_CATCH; i++) {
            int64_t c = am_exchange_acq_rel(&from[i], 0);
            if (c != 0) {
                am_fetch_add_relaxed(&to[i], c);
            }
        }
    }
    return populated;
}

enum { NH_SNAPSHOT, NH_COMPACT, NH_RESET };

/* R2-R6 (the caller holds the lock). `snap` only for NH_SNAPSHOT; returns
 * -1 when its buffer could not be allocated (the fold still completed). */
static int
nh_fold(nh_hist *h, int mode, nh_snap *snap)
{
    am_uword *ctl = nh_ctl(h);
    unsigned a = (unsigned)(am_uload_relaxed(ctl) >> 63), b = !a;  /* only lock holders swap */
    am_word *ha = nh_half(h, a), *hb = nh_half(h, b);
    int sa = nh_schema_of(h, a);
    int sb = sa;                                                       /* R2 */
    if (mode == NH_RESET) {
        sb = h->schema;
    }
    else if (sa > NH_SCHEMA_MIN && am_load_relaxed(&ha[NH_POPULATED]) > h->max_buckets) {
        sb = nh_estimate(h, a, sa);
    }
    if (mode == NH_COMPACT && sb == sa) {
        return 0;  /* the hint overcounted: nothing to lower */
    }
    am_store_relaxed(&hb[NH_DROP], h->schema - sb);
    am_store_relaxed(&hb[NH_POPULATED], 0);
    int64_t before = nh_collect(h, b, NULL);  /* 0 unless arena stragglers */

    uint64_t n = am_ufetch_add_acq_rel(ctl, AM_HC_HOT);                 /* R3 */
    int64_t expected = (int64_t)(n & AM_HC_COUNT) - before;
    int64_t got = nh_collect(h, a, NULL);                              /* R4 */
    int64_t since = 0;
    for (unsigned step = 0; got < expected; step++) {
        int64_t now = am_backoff(step);
        got = nh_collect(h, a, NULL);
        if (h->capacity && am_waited(now, &since, AM_HC_COOLDOWN_NS)) {
            break;  /* arena only: in process the wait is unbounded (see Recovery) */
        }
    }
    if (got < expected) {  /* arena: writers died or stalled; stop waiting for them */
        am_hc_forget(ctl, (uint64_t)(expected - got));
    }
    else if (got > expected) {  /* arena: given-up writers finished after all */
        am_ufetch_add_acq_rel(ctl, (uint64_t)(got - expected));
    }

    int rc = 0;
    if (mode == NH_RESET) {                                            /* R6 (drop) */
        int64_t dropped = got;
        if (h->capacity == 0) {
            nh_chain_free(&h->chain[a][0]);
            nh_chain_free(&h->chain[a][1]);
        }
        else {
            am_word *table = nh_table(h, a);
            for (Py_ssize_t i = 0; i < 2 * h->capacity + 2 * NH_CATCH; i++) {
                am_store_relaxed(&table[i], 0);
            }
        }
        am_store_relaxed(&ha[NH_SUM], 0);
        am_store_relaxed(&ha[NH_ZERO], 0);
        am_store_relaxed(&ha[NH_LOST], 0);
        am_store_relaxed(&ha[NH_POPULATED], 0);
        am_hc_forget(ctl, (uint64_t)dropped);
        return 0;
    }
    if (mode == NH_SNAPSHOT) {                                         /* R5 */
        rc = nh_read(h, a, sa, snap);
    }
    int64_t populated;                                                 /* R6 */
    if (h->capacity == 0) {
        populated = 0;
        for (unsigned span = 0; span < 2; span++) {
            for (int s = sa; s > sb; s--) {
                nh_chain_lower(&h->chain[a][span]);
            }
            populated += nh_chain_adopt(&h->chain[b][span], &h->chain[a][span]);
        }
    }
    else {
        populated = nh_table_move(h, a, b, (unsigned)(sa - sb));
    }
    am_double_add_relaxed(&hb[NH_SUM], am_double_of(am_exchange_acq_rel(&ha[NH_SUM], 0)));
    am_fetch_add_relaxed(&hb[NH_ZERO], am_exchange_acq_rel(&ha[NH_ZERO], 0));
    am_fetch_add_relaxed(&hb[NH_LOST], am_exchange_acq_rel(&ha[NH_LOST], 0));
    am_fetch_add_relaxed(&hb[NH_POPULATED], populated);
    am_store_relaxed(&ha[NH_POPULATED], 0);
    return rc;
}

/* Compaction, lock held: by the writer of W4, and by every reader before
 * it unlocks (the writers that wanted to compact while it held the lock
 * could not). Each fold lowers the schema or stops the loop. */
static void
nh_compact(nh_hist *h)
{
    for (;;) {
        unsigned hot = (unsigned)(am_uload_relaxed(nh_ctl(h)) >> 63);
        int s = nh_schema_of(h, hot);
        if (s == NH_SCHEMA_MIN
            || am_load_relaxed(&nh_half(h, hot)[NH_POPULATED]) <= h->max_buckets) {
            return;
        }
        (void)nh_fold(h, NH_COMPACT, NULL);
        if (nh_schema_of(h, (unsigned)(am_uload_relaxed(nh_ctl(h)) >> 63)) == s) {
            return;
        }
    }
}

/* ==== the Python type ====================================================== */

typedef struct {
    PyObject_HEAD
    PyObject *owner;    /* NULL when the cell is `own`; else a private view pinning the words */
    nh_hist h;
    am_word own[NH_OWN_WORDS];
} NativeHistogramObject;

#define NativeHistogramObject_CAST(op) ((NativeHistogramObject *)(op))

/* The constructor's arguments, validated. */
typedef struct {
    int schema;
    double zero_threshold;
    int64_t max_buckets;
} nh_config;

/* Validate (schema, zero_threshold, max_buckets); NULL items keep the
 * defaults. Returns 0, or -1 with TypeError (not a number) or ValueError
 * naming the argument. */
static int
nh_config_from(PyObject *schema, PyObject *zero_threshold, PyObject *max_buckets, nh_config *cfg)
{
    *cfg = (nh_config){3, 0x1p-128, 160};
    int64_t v;
    if (schema != NULL) {
        if (am_as_int64(schema, "schema", &v) < 0) {
            return -1;
        }
        if (v < NH_SCHEMA_MIN || v > NH_SCHEMA_MAX) {
            PyErr_Format(PyExc_ValueError, "schema must be an int in -4..8, not %lld",
                         (long long)v);
            return -1;
        }
        cfg->schema = (int)v;
    }
    if (zero_threshold != NULL) {
        if (am_as_double(zero_threshold, "zero_threshold", &cfg->zero_threshold) < 0) {
            return -1;
        }
        if (!(cfg->zero_threshold >= 0.0) || isinf(cfg->zero_threshold)) {
            PyErr_Format(PyExc_ValueError,
                         "zero_threshold must be a finite number >= 0, not %R", zero_threshold);
            return -1;
        }
    }
    if (max_buckets != NULL) {
        if (am_as_int64(max_buckets, "max_buckets", &v) < 0) {
            return -1;
        }
        if (v < 1 || v > NH_MAX_BUCKETS_LIMIT) {
            PyErr_Format(PyExc_ValueError, "max_buckets must be an int in 1..%lld, not %lld",
                         (long long)NH_MAX_BUCKETS_LIMIT, (long long)v);
            return -1;
        }
        cfg->max_buckets = v;
    }
    return 0;
}

/* Arena table entries for max_buckets: a power of two >= 1.5 * (max + 1),
 * so that a table holding max_buckets + 1 keys (the most a compaction lets
 * it keep, plus racing writers) stays at most 2/3 full. */
static Py_ssize_t
nh_capacity(int64_t max_buckets)
{
    int64_t need = max_buckets + 1 + (max_buckets + 1) / 2;
    Py_ssize_t cap = 4;
    while (cap < need) {
        cap *= 2;
    }
    return cap;
}

static Py_ssize_t
nh_arena_words(Py_ssize_t capacity)
{
    return 1 + 2 * (NH_HEAD + 2 * capacity + 2 * NH_CATCH);
}

static PyObject *
nh_new(PyTypeObject *type, const nh_config *cfg, PyObject *view, PyObject *offset)
{
    am_word *arena = NULL;
    PyObject *owner = NULL;
    Py_ssize_t capacity = 0;
    if (view != NULL) {
        capacity = nh_capacity(cfg->max_buckets);
        arena = am_view_words(view, offset,
                              nh_arena_words(capacity) * (Py_ssize_t)sizeof(am_word), &owner);
        if (arena == NULL) {
            return NULL;
        }
    }
    NativeHistogramObject *self = (NativeHistogramObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_XDECREF(owner);
        return NULL;
    }
    self->owner = owner;
    nh_hist *h = &self->h;  /* tp_alloc zero-filled it: chains empty, own[] empty */
    h->cell = arena ? arena : self->own;
    h->capacity = capacity;
    h->stride = capacity ? NH_HEAD + 2 * capacity + 2 * NH_CATCH : NH_HEAD;
    int log2cap = 0;
    while (((Py_ssize_t)1 << log2cap) < capacity) {
        log2cap++;
    }
    h->shift = 64 - log2cap;
    h->schema = cfg->schema;
    h->zero_threshold = cfg->zero_threshold;
    h->max_buckets = cfg->max_buckets;
    return (PyObject *)self;
}

static PyObject *
NativeHistogram_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"schema", "zero_threshold", "max_buckets", NULL};
    PyObject *schema = NULL, *zero_threshold = NULL, *max_buckets = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:AtomicNativeHistogram", kwlist, &schema,
                                     &zero_threshold, &max_buckets)) {
        return NULL;
    }
    nh_config cfg;
    if (nh_config_from(schema, zero_threshold, max_buckets, &cfg) < 0) {
        return NULL;
    }
    return nh_new(type, &cfg, NULL, NULL);
}

PyDoc_STRVAR(NativeHistogram_from_buffer_doc,
"_from_buffer($type, view, offset, schema, zero_threshold, max_buckets, /)\n--\n\n"
"Private: a native histogram whose cell lives at `offset` of a writable\n"
"memoryview (the multi-process arena), _cell_bytes(max_buckets) bytes long.\n"
"The words are used as they are (zero-filled words are an empty histogram).\n"
"Every process must pass the same arguments for the same words.");

static PyObject *
NativeHistogram_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_Format(PyExc_TypeError, "_from_buffer() takes 5 arguments (%zd given)", nargs);
        return NULL;
    }
    nh_config cfg;
    if (nh_config_from(args[2], args[3], args[4], &cfg) < 0) {
        return NULL;
    }
    return nh_new(type, &cfg, args[0], args[1]);
}

PyDoc_STRVAR(NativeHistogram_cell_bytes_doc,
"_cell_bytes($type, max_buckets, /)\n--\n\n"
"Private: bytes of arena storage for a native histogram with max_buckets:\n"
"8 * (1 + 2 * (5 + 2 * C + 266)) with C the smallest power of two >=\n"
"1.5 * (max_buckets + 1) (12,536 bytes for the default 160).");

static PyObject *
NativeHistogram_cell_bytes(PyTypeObject *Py_UNUSED(type), PyObject *arg)
{
    nh_config cfg;
    if (nh_config_from(NULL, NULL, arg, &cfg) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(nh_arena_words(nh_capacity(cfg.max_buckets))
                              * (Py_ssize_t)sizeof(am_word));
}

PyDoc_STRVAR(NativeHistogram_observe_doc,
"observe($self, v, /)\n--\n\n"
"Count v (int or float) in its bucket and add it to the sum: the zero\n"
"bucket when |v| <= zero_threshold, else bucket i of the span of v's sign\n"
"with base**(i-1) < |v| <= base**i; +-Inf go to the bucket above every\n"
"finite value of their span. NaN raises ValueError, other types TypeError,\n"
"MemoryError when a new bucket page cannot be allocated; nothing is\n"
"changed then. Lock-free: never waits for a lock (see the type's doc for\n"
"the observation that lowers the schema).");

static PyObject *
NativeHistogram_observe(PyObject *op, PyObject *arg)
{
    NativeHistogramObject *self = NativeHistogramObject_CAST(op);
    double x;
    if (PyFloat_CheckExact(arg)) {
        x = PyFloat_AS_DOUBLE(arg);
    }
    else if (am_as_double(arg, "v", &x) < 0) {
        return NULL;
    }
    if (isnan(x)) {
        PyErr_SetString(PyExc_ValueError, "cannot observe NaN");
        return NULL;
    }
    if (nh_record(&self->h, x) < 0) {
        return PyErr_NoMemory();
    }
    Py_RETURN_NONE;
}

/* New reference: {index: count} of one span's sorted entries [from, to). */
static PyObject *
nh_span_dict(const nh_list *l, Py_ssize_t from, Py_ssize_t to)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = from; i < to; i++) {
        PyObject *k = PyLong_FromLongLong(nh_index_of_u(l->items[i].u));
        PyObject *v = k ? PyLong_FromLongLong(l->items[i].count) : NULL;
        int rc = v ? PyDict_SetItem(dict, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(dict);
            return NULL;
        }
    }
    return dict;
}

PyDoc_STRVAR(NativeHistogram_snapshot_doc,
"_snapshot($self, /)\n--\n\n"
"Private: one consistent reading as the tuple (schema, zero_threshold,\n"
"zero_count, count, sum, positive, negative) that\n"
"atomicmetrics.NativeHistogramSnapshot is made of.");

/* R1-R7: one fold (and the compaction it leaves due) under the lock. */
static int
nh_locked_fold(nh_hist *h, int mode, nh_snap *snap)
{
    nh_lock(h);
    int rc = nh_fold(h, mode, snap);
    nh_compact(h);
    am_hc_unlock(nh_ctl(h));
    return rc;
}

static PyObject *
NativeHistogram_snapshot(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    nh_hist *h = &NativeHistogramObject_CAST(op)->h;
    nh_snap snap;
    if (nh_locked_fold(h, NH_SNAPSHOT, &snap) < 0) {
        return PyErr_NoMemory();
    }
    PyObject *result = NULL, *positive = NULL, *negative = NULL;
    Py_ssize_t split = 0;  /* entries are sorted: span 0 (positive) first */
    while (split < snap.buckets.n && snap.buckets.items[split].span == 0) {
        split++;
    }
    positive = nh_span_dict(&snap.buckets, 0, split);
    negative = positive ? nh_span_dict(&snap.buckets, split, snap.buckets.n) : NULL;
    if (negative != NULL) {
        result = Py_BuildValue("(idLLdOO)", snap.schema, h->zero_threshold,
                               (long long)snap.zero, (long long)snap.count, snap.sum,
                               positive, negative);
    }
    Py_XDECREF(positive);
    Py_XDECREF(negative);
    AM_NH_FREE(snap.buckets.items);
    return result;
}

PyDoc_STRVAR(NativeHistogram_reset_doc,
"reset($self, /)\n--\n\n"
"Forget every observation started before the call (those racing with it\n"
"are kept whole or dropped whole) and return to the constructor's schema.");

static PyObject *
NativeHistogram_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    (void)nh_locked_fold(&NativeHistogramObject_CAST(op)->h, NH_RESET, NULL);
    Py_RETURN_NONE;
}

static void
nh_size_page(nh_page *Py_UNUSED(p), uint64_t Py_UNUSED(u0), void *arg)
{
    *(size_t *)arg += sizeof(nh_page);
}

PyDoc_STRVAR(NativeHistogram_sizeof_doc,
"__sizeof__($self, /)\n--\n\n"
"Bytes held: the object and, in process, its bucket blocks and pages.");

static PyObject *
NativeHistogram_sizeof(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    nh_hist *h = &NativeHistogramObject_CAST(op)->h;
    size_t size = (size_t)Py_TYPE(op)->tp_basicsize;
    nh_lock(h);  /* pages of a cold half are freed only under the lock */
    for (unsigned half = 0; half < 2; half++) {
        for (unsigned span = 0; span < 2; span++) {
            am_ptr *head = &h->chain[half][span];
            for (nh_block *b = am_ptr_load_acquire(head); b; b = am_ptr_load_acquire(&b->next)) {
                size += sizeof(nh_block);
            }
            nh_chain_each(head, nh_size_page, &size);
        }
    }
    am_hc_unlock(nh_ctl(h));
    return PyLong_FromSize_t(size);
}

static PyObject *
NativeHistogram_get_schema(PyObject *op, void *Py_UNUSED(closure))
{
    return PyLong_FromLong(NativeHistogramObject_CAST(op)->h.schema);
}

static PyObject *
NativeHistogram_get_zero_threshold(PyObject *op, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(NativeHistogramObject_CAST(op)->h.zero_threshold);
}

static PyObject *
NativeHistogram_get_max_buckets(PyObject *op, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong(NativeHistogramObject_CAST(op)->h.max_buckets);
}

static PyGetSetDef NativeHistogram_getset[] = {
    {"schema", NativeHistogram_get_schema, NULL,
     PyDoc_STR("The constructor's schema (a snapshot's may be lower)."), NULL},
    {"zero_threshold", NativeHistogram_get_zero_threshold, NULL,
     PyDoc_STR("The zero bucket's bound: |v| <= zero_threshold counts there."), NULL},
    {"max_buckets", NativeHistogram_get_max_buckets, NULL,
     PyDoc_STR("Populated buckets above which the schema is lowered."), NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static void
NativeHistogram_dealloc(PyObject *op)
{
    NativeHistogramObject *self = NativeHistogramObject_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    for (unsigned half = 0; half < 2; half++) {
        nh_chain_free(&self->h.chain[half][0]);
        nh_chain_free(&self->h.chain[half][1]);
    }
    Py_CLEAR(self->owner);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef NativeHistogram_methods[] = {
    {"observe", NativeHistogram_observe, METH_O, NativeHistogram_observe_doc},
    {"_snapshot", NativeHistogram_snapshot, METH_NOARGS, NativeHistogram_snapshot_doc},
    {"reset", NativeHistogram_reset, METH_NOARGS, NativeHistogram_reset_doc},
    {"__sizeof__", NativeHistogram_sizeof, METH_NOARGS, NativeHistogram_sizeof_doc},
    {"_from_buffer", AM_METHOD(NativeHistogram_from_buffer), METH_FASTCALL | METH_CLASS,
     NativeHistogram_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(NativeHistogram_cell_bytes), METH_O | METH_CLASS,
     NativeHistogram_cell_bytes_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(NativeHistogram_doc,
"AtomicNativeHistogram(schema=3, zero_threshold=2.0**-128, max_buckets=160)\n--\n\n"
"Private: the C core of atomicmetrics.AtomicNativeHistogram (which adds\n"
"snapshot()). Lock-free observe(); protocol in csrc/native_histogram.c.");

static PyType_Slot NativeHistogram_slots[] = {
    {Py_tp_new, NativeHistogram_new},
    {Py_tp_dealloc, NativeHistogram_dealloc},
    {Py_tp_methods, NativeHistogram_methods},
    {Py_tp_getset, NativeHistogram_getset},
    {Py_tp_doc, (void *)NativeHistogram_doc},
    {0, NULL},
};

static PyType_Spec NativeHistogram_spec = {
    .name = "atomicmetrics._core.AtomicNativeHistogram",
    .basicsize = sizeof(NativeHistogramObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = NativeHistogram_slots,
};

/* ---- cells.h ------------------------------------------------------------ */

PyObject *
am_native_histogram_observe(PyObject *op, PyObject *x)
{
    return NativeHistogram_observe(op, x);
}

int
am_native_histogram_register(PyObject *module, am_state *st)
{
    st->native_histogram_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &NativeHistogram_spec, NULL);
    if (st->native_histogram_type == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->native_histogram_type);
}
