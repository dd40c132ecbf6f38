/* throughput_ring.c -- the sliding window of ThroughputCell over its cells
 * (the base cell and, once contended, every stripe): rotating a slot,
 * folding stale slots into PEAK, sweeping, and reading the window. The
 * protocol is in throughput.h. */
#include "throughput.h"

/* Cells of a metric: 1 (the base) + its stripes. Cell 0 is the base. */
static inline uint32_t
tp_cells(am_stripes *t)
{
    return t == NULL ? 1u : am_stripes_count(t) + 1u;
}

static inline am_uword *
tp_ring_of(ThroughputObject *self, am_stripes *t, uint32_t c)
{
    return c == 0 ? tp_base_part(self->cell).ring : tp_stripe_part(am_stripe(t, c - 1)).ring;
}

static inline uint64_t
tp_sat_add(uint64_t count, uint64_t e)
{
    return (e >= TP_CNT_MASK - count) ? TP_CNT_MASK : count + e;
}

/* Whether every slot is older than the window ending at slot number k. */
static inline int
tp_all_stale(am_word *cell, int64_t k, int64_t n)
{
    int64_t last = (int64_t)(am_uload_acquire((am_uword *)&cell[TP_LAST]) ^ TP_BIAS);
    return k > last && (uint64_t)k - (uint64_t)last >= (uint64_t)n;
}

/* The lap that slot index j holds in the window ending at slot k (lap, i). */
static inline uint64_t
tp_expected_tag(int64_t lap, int64_t i, int64_t j)
{
    return (uint64_t)(j <= i ? lap : lap - 1) & TP_TAG_MASK;
}

/* Raise PEAK to the count of the slot at index j of lap tag `tag`: the sum
 * over every cell whose slot j still carries that tag. */
static void
tp_fold(ThroughputObject *self, am_stripes *t, int64_t j, uint64_t tag)
{
    uint64_t sum = 0;
    for (uint32_t c = 0; c < tp_cells(t); c++) {
        uint64_t w = am_uload_acquire(&tp_ring_of(self, t, c)[j]);
        if (w != 0 && (w >> TP_CNT_BITS) == tag) {
            sum += tp_count(w);
        }
    }
    if (sum != 0) {
        am_ufetch_max_acq_rel((am_uword *)&self->cell[TP_PEAK], sum);
    }
}

/* Fold and zero index j of every cell where it is older than the window
 * ending at (lap, i). One attempt per cell: if the word moves under us,
 * someone else is using it. */
static void
tp_sweep_one(ThroughputObject *self, am_stripes *t, int64_t lap, int64_t i, int64_t j)
{
    uint64_t expected = tp_expected_tag(lap, i, j);
    for (uint32_t c = 0; c < tp_cells(t); c++) {
        am_uword *slot = &tp_ring_of(self, t, c)[j];
        uint64_t w = am_uload_acquire(slot);
        uint64_t d = (expected - (w >> TP_CNT_BITS)) & TP_TAG_MASK;
        if (d == 0 || d >= TP_TAG_HALF || tp_count(w) == 0) {
            continue;  /* live, newer than our view, or empty */
        }
        tp_fold(self, t, j, w >> TP_CNT_BITS);
        (void)am_ucas_acq_rel(slot, &w, 0);
    }
}

void
tp_add_to_slot(ThroughputObject *self, am_stripes *t, am_uword *ring, int64_t now, uint64_t e)
{
    am_word *base = self->cell;
    int64_t n = self->cfg.n;
    int64_t k = tp_floordiv(now, self->cfg.res_ns);
    int64_t lap = tp_floordiv(k, n);
    int64_t i = k - lap * n;
    uint64_t tag = (uint64_t)lap & TP_TAG_MASK;
    am_uword *slot = &ring[i];
    uint64_t w = am_uload_acquire(slot);
    for (;;) {
        uint64_t wtag = w >> TP_CNT_BITS;
        uint64_t d = (tag - wtag) & TP_TAG_MASK;
        if (w != 0 && ((d == 0 && !tp_all_stale(base, k, n)) || d >= TP_TAG_HALF)) {
            /* our slot, or a later one that a faster clock reading opened */
            uint64_t next = (wtag << TP_CNT_BITS) | tp_sat_add(tp_count(w), e);
            if (am_ucas_acq_rel(slot, &w, next)) {
                return;
            }
            continue;
        }
        /* stale: fold its slot (over every cell) into PEAK first (the
         * replacing CAS releases the fold), announce the rotation in LAST,
         * then replace the word */
        if (tp_count(w) != 0) {
            tp_fold(self, t, i, wtag);
        }
        am_ufetch_max_acq_rel((am_uword *)&base[TP_LAST], (uint64_t)k ^ TP_BIAS);
        uint64_t next = (tag << TP_CNT_BITS) | tp_sat_add(0, e);
        if (am_ucas_acq_rel(slot, &w, next)) {
            uint64_t c = am_ufetch_add_acq_rel((am_uword *)&base[TP_SWEEP], 1);
            tp_sweep_one(self, t, lap, i, (int64_t)(c % (uint64_t)n));
            return;
        }
    }
}

void
tp_read_window(ThroughputObject *self, am_stripes *t, int64_t now, uint64_t *sum, uint64_t *peak)
{
    am_word *base = self->cell;
    int64_t n = self->cfg.n;
    int64_t k = tp_floordiv(now, self->cfg.res_ns);
    int64_t lap = tp_floordiv(k, n);
    int64_t i = k - lap * n;
    int all_stale = tp_all_stale(base, k, n);
    uint32_t cells = tp_cells(t);
    uint64_t words[AM_STRIPES_MAX + 1];  /* index j of every cell, read once */
    uint64_t s = 0, p = 0;
    for (int64_t j = 0; j < n; j++) {
        for (uint32_t c = 0; c < cells; c++) {
            words[c] = am_uload_acquire(&tp_ring_of(self, t, c)[j]);
        }
        /* The count of each lap present at index j, summed over the cells
         * (usually one lap: one pass; a word once counted is zeroed). */
        uint64_t expected = tp_expected_tag(lap, i, j);
        for (uint32_t c = 0; c < cells; c++) {
            if (words[c] == 0) {
                continue;
            }
            uint64_t tag = words[c] >> TP_CNT_BITS;
            uint64_t count = 0;
            for (uint32_t o = c; o < cells; o++) {
                if (words[o] != 0 && (words[o] >> TP_CNT_BITS) == tag) {
                    count += tp_count(words[o]);
                    words[o] = 0;
                }
            }
            if (count > p) {
                p = count;
            }
            if (!all_stale && tag == expected) {
                s += count;
            }
        }
    }
    uint64_t folded = am_uload_acquire((am_uword *)&base[TP_PEAK]);
    *sum = s;
    *peak = folded > p ? folded : p;
}
