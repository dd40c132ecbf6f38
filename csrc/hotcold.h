/* hotcold.h -- the hot/cold protocol shared by AtomicHistogram and
 * RuleExecutionMetric: writers that never wait, snapshots that are
 * consistent (every field describes the same set of operations).
 *
 * Modelled on client_golang's histogram (countAndHotIdx, waitForCooldown,
 * addAndResetCounts), with three changes: the bucket words themselves signal
 * completion (no separate count word), the reader lock is a bit of the
 * control word (so it works across processes in a shared-memory arena), and
 * every wait is bounded so that a process killed mid-update cannot hang the
 * others.
 *
 * ---- Layout ----------------------------------------------------------------
 *
 *   ctl (am_uword, word 0 of the cell)
 *     bit 63     index of the hot half (0 or 1)
 *     bit 62     reader lock (AM_HC_LOCK)
 *     bits 0-61  "started": operations started and not yet dropped by a
 *                reset. Equals the sum of every bucket word of both halves
 *                once all started operations have finished.
 *   half[0], half[1]
 *     type-specific words (sum, total, min, ...), then `nbuckets` bucket
 *     words. Every operation adds exactly 1 to exactly one bucket of the
 *     half it started in, and that add is its LAST write.
 *
 * Zero-filled memory is the valid empty state (hot half 0, lock free,
 * nothing started, every half empty).
 *
 * ---- Writer (never waits, never takes the lock) ----------------------------
 *
 *   W1  n = fetch_add(ctl, 1)                          [acq_rel]
 *       hot = n >> 63. The acquire pairs with the release of the reader's
 *       R2/R5 on ctl: the reader's zeroing of this half happens-before our
 *       writes to it.
 *   W2  relaxed updates of half[hot]'s other words.
 *   W3  fetch_add(half[hot].bucket[i], 1)              [release]
 *       The completion signal: publishes W2 to the reader of R3.
 *
 * ---- Reader (snapshot, reset, every getter) --------------------------------
 *
 *   R1  lock: fetch_or(ctl, LOCK) [acq_rel] until the old value had LOCK
 *       clear. Readers exclude each other; writers ignore the bit.
 *   R2  swap: n = fetch_add(ctl, 1 << 63) [acq_rel]. cold = n >> 63 is the
 *       old hot half; expected = n & COUNT. Every operation started before
 *       R2 went to `cold`, every later one goes to the new hot half, and the
 *       previous reader left the new hot half empty (R4), so cold's buckets
 *       sum to `expected` once the operations started before R2 finish.
 *   R3  cooldown: acquire-load cold's buckets until they sum to `expected`
 *       [acquire, pairs with W3]. Buckets only grow while we hold the lock,
 *       so a sum equal to `expected` means every word read was final: every
 *       operation started before R2 finished and its W2 writes are visible.
 *   R4  move: exchange every cold word with 0 [acq_rel]; a snapshot adds
 *       each value into the hot half (so the hot half again holds all
 *       history), a reset drops them and takes their bucket total off
 *       `started`. The exchanged values ARE the snapshot: they are copied
 *       into a C buffer, and Python objects are built only after R5.
 *   R5  unlock: fetch_and(ctl, ~LOCK) [release].
 *
 * What a reader observes: exactly the operations started before its R2
 * (the linearization point of snapshot() and reset()), each one whole.
 * A writer is linearized at W1; it returns after W3, so a snapshot taken
 * after a record() returned contains it.
 *
 * ---- Stripes (contention-adaptive; stripes.h) ------------------------------
 *
 * A cell that the object owns (not an arena cell) may grow a table of
 * stripes, each a whole cell of the same layout (ctl and two halves) on
 * cache lines of its own, when a write sees contention: W1 on an unstriped
 * cell is a CAS of `started` + 1 (same effect and orders as the fetch_add)
 * whose failure -- another writer, or a reader's R1/R2, changed ctl since
 * our load -- makes the writer publish the table (am_hc_begin_adaptive).
 * From then on W1 is a CAS on the ctl of the stripe the thread's probe
 * picks, re-hashing on failure; W2/W3 go to the half W1 chose in that
 * stripe. No CAS fails on a GIL build, so no table is made there.
 * Readers run R1-R5 on the base cell and then on every stripe, one after
 * the other, adding up what each gives: every stripe's part is one
 * consistent set of operations, so the sum is too (its count is the sum of
 * its buckets; per-cell invariants such as errors <= count and
 * min <= average <= max hold for the union). What changes is the
 * linearization point: a reading sees, per cell, exactly the operations
 * started before that cell's R2, so an operation that starts while the
 * reader goes from cell to cell may be in the reading or in the next one
 * -- never in both, never in part. reset() likewise drops each cell's
 * operations at that cell's R2: every operation is counted once, by the
 * reset or by the metric after it.
 *
 * ---- Recovery (processes sharing an arena can die at any instruction) -----
 *
 *   Writer killed between W1 and W3 (or stalled longer than the bound):
 *     R3 gives up after AM_HC_COOLDOWN_NS and uses the buckets as they are.
 *     The snapshot's count is the sum of its buckets, so count == sum of
 *     buckets still holds; the dead writer's W2 words may be in (its sum,
 *     total or error), which the types document and clamp. `started` is
 *     lowered by the missing operations so that later snapshots do not wait
 *     for them again; if the "dead" writer was only stalled and finishes
 *     later, a later R3 finds more than `expected` and raises `started`
 *     back (the books balance again).
 *   Reader killed while holding the lock (or stalled longer than the bound):
 *     a waiting reader takes the lock over once it has seen the lock held,
 *     with no reader making progress (no swap of the hot bit, never free),
 *     for AM_HC_STALE_LOCK_NS. A live holder holds the lock at most
 *     AM_HC_COOLDOWN_NS plus a few microseconds, far below that bound. If
 *     the holder was only stalled, the two readers overlap: every value is
 *     still moved by exchange (nothing is lost or counted twice in the
 *     cell), but one of the two snapshots may be torn.
 *   Every wait also ends after AM_HC_MAX_WAIT_NS whatever happens.
 */
#ifndef AM_HOTCOLD_H
#define AM_HOTCOLD_H

#include "module.h"
#include "stripes.h"

#define AM_HC_HOT ((uint64_t)1 << 63)
#define AM_HC_LOCK ((uint64_t)1 << 62)
#define AM_HC_COUNT (AM_HC_LOCK - 1)

/* Bounds of the waits (see Recovery above). A cooldown in one process is
 * immediate under the GIL; the bound only matters for dead or stopped
 * writers in other processes / free-threaded threads. */
#define AM_HC_COOLDOWN_NS 250000000LL     /* 0.25 s */
#define AM_HC_STALE_LOCK_NS 1000000000LL  /* 1 s, > cooldown + move */
#define AM_HC_MAX_WAIT_NS 10000000000LL   /* 10 s, whatever happens */

/* W1: start an operation; returns the index of the half to write. */
static inline unsigned
am_hc_begin(am_uword *ctl)
{
    return (unsigned)(am_ufetch_add_acq_rel(ctl, 1) >> 63);
}

/* W3: finish an operation by counting it in its bucket. */
static inline void
am_hc_finish(am_word *bucket)
{
    am_fetch_add_release(bucket, 1);
}

/* Raise *w to v if v is larger (relaxed: published by W3 or R5). */
static inline void
am_hc_max_relaxed(am_word *w, int64_t v)
{
    int64_t cur = am_load_relaxed(w);
    while (v > cur && !am_cas_weak_relaxed(w, &cur, v)) {
    }
}

/* R1 / R5. am_hc_lock always returns holding the lock (possibly taken over
 * from a dead reader). No Python code may run between the two calls. */
void am_hc_lock(am_uword *ctl);
void am_hc_unlock(am_uword *ctl);

/* R2 + R3: swap hot and cold and wait (bounded) until the cold half is
 * complete. `buckets[h]` points at half h's bucket words. Returns the index
 * of the cold half; the caller then moves its words (R4). */
unsigned am_hc_swap(am_uword *ctl, am_word *const buckets[2], Py_ssize_t nbuckets);

/* R4 of a reset: take `dropped` operations off `started` (never below 0,
 * the lock and hot bits untouched). */
void am_hc_forget(am_uword *ctl, uint64_t dropped);

/* Allocate a variable-size object of `type` with `nitems` zero-filled
 * trailing words (an object that owns its cell). Unlike tp_alloc this adds
 * no sentinel item, so an object costs exactly its __sizeof__ (plus the GC
 * header of a Python subclass, which is always a GC type). New reference,
 * or NULL with MemoryError set. */
PyObject *am_hc_alloc(PyTypeObject *type, Py_ssize_t nitems);

/* R4 for the bucket words: exchange each of the cold half's `nbuckets`
 * bucket words with 0 and ADD them into out[] (a reader of several cells
 * sums them; it zeroes out[] first); a snapshot (reset == 0) adds them into
 * the hot half's, a reset takes their total off `started` instead. Returns
 * the total: the count of the operations read in this cell. */
int64_t am_hc_move_buckets(am_uword *ctl, am_word *cold, am_word *hot, Py_ssize_t nbuckets,
                           int reset, int64_t *out);

/* The C buffer a reader copies the bucket counts into under the lock,
 * before it builds any Python object: on the stack up to AM_HC_STACK_WORDS
 * words, else PyMem_Malloc'd before the lock is taken. Not copyable (it
 * may point into itself). */
#define AM_HC_STACK_WORDS 64

typedef struct {
    int64_t *words;  /* `stack`, or PyMem_Malloc'd */
    int64_t stack[AM_HC_STACK_WORDS];
} am_hc_buf;

/* Room for n words, zero-filled. Returns 0, or -1 with MemoryError set. */
int am_hc_buf_init(am_hc_buf *buf, Py_ssize_t n);

void am_hc_buf_free(am_hc_buf *buf);

/* ---- the object both types share (cold paths only) ---------------------- */

/* The first members of an AtomicHistogram / RuleExecutionMetric object;
 * `am_word own[]` (the cell for objects that own their storage) follows. */
#define AM_HC_HEAD \
    PyObject_VAR_HEAD   /* ob_size: words of `own` (0 for arena cells) */ \
    am_word *cell;      /* immutable after construction: own, or arena words */ \
    union {             /* which one: cell == own (immutable), am_hc_owns() */ \
        PyObject *owner; /* arena cell: a private view pinning the words */ \
        am_ptr stripes;  /* own cell: NULL, then its stripe table (stripes.h) */ \
    };                                                                            \
    PyObject *bounds;   /* immutable tuple of floats, possibly shared */

typedef struct {
    AM_HC_HEAD
    am_word own[];
} am_hc_object;

/* Whether the object owns its cell (so `stripes` is the live member). */
static inline int
am_hc_owns(am_hc_object *self)
{
    return self->cell == self->own;
}

/* The stripe table of an object, or NULL (none yet, or an arena cell). */
static inline am_stripes *
am_hc_stripes(am_hc_object *self)
{
    return am_hc_owns(self) ? am_stripes_get(&self->stripes) : NULL;
}

/* W1 on any stripe of `t`: a CAS of `started` + 1 on the ctl of the stripe
 * this thread's probe picks, moving to another stripe when it fails.
 * Returns that stripe's words; *hot receives the half to write. */
static inline am_word *
am_hc_begin_striped(am_stripes *t, unsigned *hot)
{
    uint32_t p = am_probe();
    for (;;) {
        am_word *cell = am_stripe(t, p & t->mask);
        am_uword *ctl = (am_uword *)cell;
        uint64_t cur = am_uload_relaxed(ctl);
        if (am_ucas_acq_rel(ctl, &cur, cur + 1)) {
            *hot = (unsigned)(cur >> 63);
            return cell;
        }
        p = am_probe_next(p);  /* collided with another thread: move */
    }
}

/* W1 for an object whose cell may stripe (`words`: its cell's size): on
 * the base cell while nothing contends (a CAS, so contention shows), on a
 * stripe once a table exists; arena cells always W1 on their cell with the
 * fetch_add. Returns the cell to write W2/W3 to; *hot receives the half. */
static inline am_word *
am_hc_begin_adaptive(am_hc_object *self, Py_ssize_t words, unsigned *hot)
{
    am_word *cell = self->cell;
    if (cell != self->own) {
        *hot = am_hc_begin((am_uword *)cell);
        return cell;
    }
    am_stripes *t = am_ptr_load_acquire(&self->stripes);
    if (t == NULL) {
        am_uword *ctl = (am_uword *)cell;
        uint64_t cur = am_uload_relaxed(ctl);
        if (am_ucas_acq_rel(ctl, &cur, cur + 1)) {
            *hot = (unsigned)(cur >> 63);
            return cell;  /* uncontended: the common case, and every case with a GIL */
        }
        t = am_stripes_grow(&self->stripes, words, 0, NULL);  /* contended: spread out */
        if (t == NULL) {
            *hot = am_hc_begin(ctl);  /* out of memory: the base is always right */
            return cell;
        }
    }
    return am_hc_begin_striped(t, hot);
}

/* __sizeof__ of both types: the object, its own cell and its stripes. */
PyObject *am_hc_sizeof(PyObject *op, PyObject *ignored);

/* The words of one type's cell for `nbuckets` buckets (its layout). */
typedef Py_ssize_t (*am_hc_words_fn)(Py_ssize_t nbuckets);

/* A new object of `type` (which starts with AM_HC_HEAD) for the bounds
 * `bounds_arg` (am_bounds_from). With view == NULL the cell is its own
 * zero-filled words; else it lives at `offset` of the writable memoryview
 * `view` (the multi-process arena), used as it is, and `owner` pins the
 * view. New reference, or NULL with an exception set (nothing taken). */
PyObject *am_hc_new(PyTypeObject *type, PyObject *bounds_arg, PyObject *view,
                    PyObject *offset, am_hc_words_fn cell_words);

/* Body of the classmethod `_from_buffer(view, offset, bounds, /)`. */
PyObject *am_hc_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                            am_hc_words_fn cell_words);

/* Body of the classmethod `_cell_bytes(n_bounds, /)`: bytes of arena
 * storage for n_bounds finite bounds (ValueError unless n_bounds >= 1). */
PyObject *am_hc_cell_bytes(PyObject *n_bounds, am_hc_words_fn cell_words);

/* tp_dealloc of both types: drops owner (or frees the stripes) and bounds,
 * frees, drops the type. */
void am_hc_dealloc(PyObject *op);

/* New reference: the n int64 values as a list of ints (bucket counts). */
PyObject *am_hc_int_list(const int64_t *values, Py_ssize_t n);

#endif /* AM_HOTCOLD_H */
