/* throughput.h -- ThroughputCell: the C core of the public ThroughputMetric
 * (src/atomicmetrics/throughput.py adds its defaults and snapshot()):
 * its cell layout and protocol, shared by throughput.c (the type) and
 * throughput_ring.c (the sliding window).
 *
 * Totals (events, samples, SLA violations) are int64 atomics; the sliding
 * window is a ring of n = window / resolution slots that record() rotates
 * WITHOUT a lock: each slot is one 64-bit word packing the slot's lap tag
 * and its event count, replaced by one CAS when it goes stale.
 *
 * Time: k = floor(now_ns / res_ns) is the absolute slot number on the clock
 * (slot boundaries are multiples of the resolution), lap = floor(k / n), and
 * slot k lives at ring[k - lap * n]. A slot word is
 *     bits 63..40  tag   = lap mod 2**24
 *     bits 39..0   count = events in that slot, saturating at 2**40 - 1
 * A zero word (tag 0, count 0) is neutral everywhere: zero-filled memory is
 * an empty ring. A live slot is never zero (a rotation writes count >= 1),
 * so record() always opens a zero word through the rotation path: every
 * slot's content was written by a rotation that had raised LAST first.
 *
 * Cell layout (words; all zero = a fresh metric apart from T0, see below):
 *   [0] RS       resets started  (fetch_add acq_rel)
 *   [1] RD       resets done     (fetch_add acq_rel); RS != RD: mid-reset
 *   [2] EVENTS   int64, checked CAS add (OverflowError, nothing changed)
 *   [3] SAMPLES  int64, fetch_add (2**63 calls cannot happen)
 *   [4] VIOL     int64, fetch_add
 *   [5] PEAK     uint64, the largest count of a slot that has left the ring
 *                (fetch-max acq_rel)
 *   [6] T0       int64 clock reading at creation or reset; 0 in a fresh
 *                arena is replaced by the first attach's clock (CAS)
 *   [7] LAST     biased slot number (k ^ 2**63) of the latest rotation,
 *                fetch-max acq_rel; "now - LAST >= n" means every slot is stale
 *   [8] SWEEP    rotation counter, the cursor of the stale-slot sweeper
 *   [9..9+n)     the ring
 *
 * record(e, latency): EVENTS += e (checked; the only step that can fail, and
 *   it comes first); then the slot for k: load it; if it is non-zero and its
 *   tag is our lap (and the ring is not all stale) or a later lap (our clock
 *   reading is older than a rotation that already happened: count it there),
 *   CAS in count+e; else the slot is stale or empty: fold its count into
 *   PEAK, raise LAST to k, and
 *   CAS in (our tag, e); the winner of that CAS then sweeps one slot at the
 *   SWEEP cursor (folds and zeroes it if stale), so that every slot is
 *   visited at least once per n rotations. Then SAMPLES += 1, then
 *   VIOL += 1 if latency > sla.
 * Ordering and what a concurrent reader sees (reads take RS/RD first and
 *   answer the empty state while a reset is mid-way, and re-read if RS moved):
 *   - EVENTS is added before the slot and read after the slots, so the
 *     window's sum and every slot count are <= events_processed();
 *   - a stale count is folded into PEAK before its slot is replaced (the
 *     replacing CAS releases it) and readers read slots before PEAK, so no
 *     finished slot is ever missing from peak_throughput();
 *   - SAMPLES is added before VIOL and read after it: violations <= samples.
 * reset(): RS += 1; zero the ring, PEAK and the totals; T0 = now; RD += 1.
 *   A record() concurrent with reset() may be counted partly before and
 *   partly after it (e.g. in the totals but not in the window).
 * Stripes (contention-adaptive, stripes.h; only for a cell the object owns:
 *   arena cells never stripe). The first record whose CAS on EVENTS fails
 *   (another record changed it: contention) publishes a table of stripes,
 *   each [S_EVENTS, S_SAMPLES, S_VIOL, ring of n slot words] on cache lines
 *   of its own. A record then adds its events, slot count, sample and
 *   violation to the stripe its thread's probe picks (the probe moves on a
 *   failed CAS on that stripe's S_EVENTS): every record lands whole in one
 *   cell. RS, RD, PEAK, T0, LAST and SWEEP stay single words of the base
 *   cell (written once per slot rotation, not per record).
 *   - Totals are the sums over the base and every stripe. EVENTS never
 *     wraps: each stripe's S_EVENTS stays <= L = AM_TP_GUARD / stripes,
 *     and a striped cell's base EVENTS <= INT64_MAX - AM_TP_GUARD (2**55),
 *     so any mix of cells sums inside int64; a record that does not fit its
 *     stripe goes to the base, and one that does not fit there raises
 *     OverflowError (early: within 2**55 of 2**63 events). As for
 *     _IntAdder (striped.c), a base EVENTS that must pass INT64_MAX - 2**55
 *     before any contention first sets the table word to AM_STRIPES_NEVER
 *     (by CAS from NULL) and then the cell keeps all of int64 and never
 *     stripes.
 *   - The window: slot k lives at index i of every cell's ring, each cell
 *     with its own tag; a cell's slot rotates when a record into that cell
 *     finds it stale, exactly as above. The count of slot k is the sum over
 *     the cells whose slot i carries k's tag. Folding a stale slot into PEAK
 *     folds that sum (every cell still holding the stale tag), before the
 *     rotating cell's CAS replaces its word; the sweeper folds and zeroes a
 *     stale index in every cell. A record whose clock reading is a whole
 *     window old when it reaches its slot may miss the peak (its cell can
 *     be folded before it adds); the window sum and the totals are exact.
 *   - Readers sum per ring index across cells (the window: the cells whose
 *     tag is the expected one; the peak: each tag's sum), read every slot
 *     before PEAK and every S_VIOL before any S_SAMPLES and every count
 *     before any EVENTS, so the invariants above hold for the sums.
 * Limits: a slot counts at most 2**40 - 1 events per resolution interval
 *   (it saturates; the totals stay exact). The 24-bit tag could mistake a
 *   stale slot for a live one only if the whole metric sat idle for a
 *   multiple of 2**24 windows (the sweeper handles partly idle rings).
 */
#ifndef AM_THROUGHPUT_H
#define AM_THROUGHPUT_H

#include "module.h"
#include "stripes.h"

enum { TP_RS, TP_RD, TP_EVENTS, TP_SAMPLES, TP_VIOL, TP_PEAK, TP_T0, TP_LAST, TP_SWEEP, TP_HEAD };

/* A stripe: the per-record words of a cell, then its ring. */
enum { TS_EVENTS, TS_SAMPLES, TS_VIOL, TS_HEAD };

#define TP_CNT_BITS 40
#define TP_TAG_BITS 24
#define TP_CNT_MASK ((UINT64_C(1) << TP_CNT_BITS) - 1)
#define TP_TAG_MASK ((UINT64_C(1) << TP_TAG_BITS) - 1)
#define TP_TAG_HALF (UINT64_C(1) << (TP_TAG_BITS - 1))
#define TP_MAX_SLOTS (INT64_C(1) << 20)  /* 8 MiB of ring; the sum of n counts fits in 63 bits */
#define TP_BIAS (UINT64_C(1) << 63)

/* What a striped cell keeps free below INT64_MAX on its base EVENTS for its
 * stripes: 2**55 events (see "Stripes" above). */
#define AM_TP_GUARD ((int64_t)1 << 55)

typedef struct {
    int64_t res_ns;      /* slot width, >= 1 */
    int64_t window_ns;   /* n * res_ns */
    int64_t n;           /* slots in the ring, 1 .. TP_MAX_SLOTS */
    int64_t sla_ns;      /* meaningful when has_sla */
    int has_sla;
    int arena;           /* the cell lives in a shared arena: `owner` is live, never stripes */
    double window_s;     /* window_ns / 1e9 and res_ns / 1e9: the rate denominators */
    double resolution_s;
} tp_config;

typedef struct {
    PyObject_HEAD
    am_word *cell;       /* immutable after construction: own words (PyMem) or arena words */
    union {              /* which one: cfg.arena (immutable) */
        PyObject *owner; /* arena cell: a view pinning the words */
        am_ptr stripes;  /* own cell: NULL, AM_STRIPES_NEVER (wide) or the table (stripes.h) */
    };
    PyObject *clock;     /* NULL when the native clock is used; else a strong ref */
    tp_config cfg;       /* immutable after construction */
} ThroughputObject;

#define ThroughputObject_CAST(op) ((ThroughputObject *)(op))

/* The per-record words and the ring of one cell (the base or a stripe). */
typedef struct {
    am_word *events, *samples, *viol;
    am_uword *ring;
} tp_part;

static inline tp_part
tp_base_part(am_word *cell)
{
    tp_part p = {&cell[TP_EVENTS], &cell[TP_SAMPLES], &cell[TP_VIOL],
                 (am_uword *)(cell + TP_HEAD)};
    return p;
}

static inline tp_part
tp_stripe_part(am_word *stripe)
{
    tp_part p = {&stripe[TS_EVENTS], &stripe[TS_SAMPLES], &stripe[TS_VIOL],
                 (am_uword *)(stripe + TS_HEAD)};
    return p;
}

/* The stripe table of an object (NULL: none, wide, or an arena cell). */
static inline am_stripes *
tp_stripes(ThroughputObject *self)
{
    return self->cfg.arena ? NULL : am_stripes_get(&self->stripes);
}

static inline int64_t
tp_floordiv(int64_t a, int64_t b)  /* b > 0 */
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline uint64_t
tp_count(uint64_t w)
{
    return w & TP_CNT_MASK;
}

/* ---- the sliding window over every cell (throughput_ring.c) ------------- */

/* Add e (>= 1) events at clock reading `now` to the ring of `part` (a cell
 * of `self`; t: its stripes or NULL). */
void tp_add_to_slot(ThroughputObject *self, am_stripes *t, am_uword *ring, int64_t now,
                    uint64_t e);

/* The window sum as of `now` and the peak count, over every cell, slots
 * read before PEAK. The caller brackets it with the RS/RD checks. */
void tp_read_window(ThroughputObject *self, am_stripes *t, int64_t now, uint64_t *sum,
                    uint64_t *peak);

#endif /* AM_THROUGHPUT_H */
