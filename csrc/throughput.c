/* throughput.c -- ThroughputCell: the C core of the public ThroughputMetric
 * (src/atomicmetrics/throughput.py adds its defaults and snapshot()).
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
 * Limits: a slot counts at most 2**40 - 1 events per resolution interval
 *   (it saturates; the totals stay exact). The 24-bit tag could mistake a
 *   stale slot for a live one only if the whole metric sat idle for a
 *   multiple of 2**24 windows (the sweeper handles partly idle rings).
 */
#include "module.h"
#include "clock.h"

#include <math.h>

enum { TP_RS, TP_RD, TP_EVENTS, TP_SAMPLES, TP_VIOL, TP_PEAK, TP_T0, TP_LAST, TP_SWEEP, TP_HEAD };

#define TP_CNT_BITS 40
#define TP_TAG_BITS 24
#define TP_CNT_MASK ((UINT64_C(1) << TP_CNT_BITS) - 1)
#define TP_TAG_MASK ((UINT64_C(1) << TP_TAG_BITS) - 1)
#define TP_TAG_HALF (UINT64_C(1) << (TP_TAG_BITS - 1))
#define TP_MAX_SLOTS (INT64_C(1) << 20)  /* 8 MiB of ring; the sum of n counts fits in 63 bits */
#define TP_BIAS (UINT64_C(1) << 63)

typedef struct {
    int64_t res_ns;      /* slot width, >= 1 */
    int64_t window_ns;   /* n * res_ns */
    int64_t n;           /* slots in the ring, 1 .. TP_MAX_SLOTS */
    int64_t sla_ns;      /* meaningful when has_sla */
    int has_sla;
    double window_s;     /* window_ns / 1e9 and res_ns / 1e9: the rate denominators */
    double resolution_s;
} tp_config;

typedef struct {
    PyObject_HEAD
    am_word *cell;       /* immutable after construction: own words or arena words */
    PyObject *owner;     /* NULL when the object owns `cell` (PyMem); else a view pinning it */
    PyObject *clock;     /* NULL when the native clock is used; else a strong ref */
    tp_config cfg;       /* immutable after construction */
} ThroughputObject;

#define ThroughputObject_CAST(op) ((ThroughputObject *)(op))

static inline int64_t
tp_floordiv(int64_t a, int64_t b)  /* b > 0 */
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* ---- configuration --------------------------------------------------- */

/* Seconds -> whole ns for a window or resolution: finite, > 0, >= 1 ns.
 * ValueError otherwise. */
static int
tp_duration_ns(PyObject *obj, const char *what, double *seconds, int64_t *ns)
{
    double x;
    if (am_as_double(obj, what, &x) < 0) {
        return -1;
    }
    if (!(x > 0) || !isfinite(x)) {
        PyErr_Format(PyExc_ValueError, "%s must be a finite number of seconds > 0, not %R",
                     what, obj);
        return -1;
    }
    if (am_ns_of_seconds(x, what, ns) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s is too large: %R", what, obj);
        return -1;
    }
    if (*ns < 1) {
        PyErr_Format(PyExc_ValueError, "%s must be at least one nanosecond, not %R", what, obj);
        return -1;
    }
    *seconds = x;
    return 0;
}

static int
tp_parse_config(PyObject *window_obj, PyObject *res_obj, PyObject *sla_obj, tp_config *cfg)
{
    double window_s, res_s;
    if (tp_duration_ns(window_obj, "window_s", &window_s, &cfg->window_ns) < 0
        || tp_duration_ns(res_obj, "resolution_s", &res_s, &cfg->res_ns) < 0) {
        return -1;
    }
    if (cfg->window_ns % cfg->res_ns != 0) {
        PyErr_Format(PyExc_ValueError,
                     "window_s (%R) must be a whole multiple of resolution_s (%R)",
                     window_obj, res_obj);
        return -1;
    }
    cfg->n = cfg->window_ns / cfg->res_ns;
    if (cfg->n > TP_MAX_SLOTS) {
        PyErr_Format(PyExc_ValueError,
                     "window_s / resolution_s is %lld slots; at most %lld are supported",
                     (long long)cfg->n, (long long)TP_MAX_SLOTS);
        return -1;
    }
    cfg->window_s = (double)cfg->window_ns / 1e9;
    cfg->resolution_s = (double)cfg->res_ns / 1e9;
    cfg->has_sla = sla_obj != Py_None;
    cfg->sla_ns = 0;
    if (cfg->has_sla) {
        if (am_as_int64(sla_obj, "sla_ns", &cfg->sla_ns) < 0) {
            return -1;
        }
        if (cfg->sla_ns < 0) {
            PyErr_Format(PyExc_ValueError, "sla_ns must be >= 0, not %lld",
                         (long long)cfg->sla_ns);
            return -1;
        }
    }
    return 0;
}

/* The clock to keep: NULL (native) when `clock` is time.monotonic_ns and the
 * platform has the same clock in C; else a new reference to `clock`.
 * Sets *err on failure (TypeError when not callable). */
static PyObject *
tp_choose_clock(PyObject *clock, int *err)
{
    *err = 0;
    if (!PyCallable_Check(clock)) {
        PyErr_Format(PyExc_TypeError, "clock must be callable, not %.100s",
                     Py_TYPE(clock)->tp_name);
        *err = 1;
        return NULL;
    }
#if AM_MONOTONIC_IS_PYTHONS
    PyObject *mono = am_import_attr("time", "monotonic_ns");  /* new reference */
    if (mono == NULL) {
        *err = 1;
        return NULL;
    }
    int native = mono == clock;
    Py_DECREF(mono);
    if (native) {
        return NULL;
    }
#endif
    return Py_NewRef(clock);
}

/* now in ns: 0, or -1 with an exception set (the clock raised or returned a
 * non-int). Called before any atomic is touched. */
static int
tp_now(ThroughputObject *self, int64_t *now)
{
    if (self->clock == NULL) {
#if AM_MONOTONIC_IS_PYTHONS
        *now = am_monotonic_ns();
        return 0;
#else
        PyErr_SetString(PyExc_RuntimeError, "ThroughputMetric has no clock");
        return -1;
#endif
    }
    PyObject *t = PyObject_CallNoArgs(self->clock);  /* new reference */
    if (t == NULL) {
        return -1;
    }
    int rc = am_as_int64(t, "clock()", now);
    Py_DECREF(t);
    return rc;
}

/* ---- the ring --------------------------------------------------------- */

static inline am_uword *
tp_ring(am_word *cell)
{
    return (am_uword *)(cell + TP_HEAD);
}

static inline uint64_t
tp_count(uint64_t w)
{
    return w & TP_CNT_MASK;
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

/* Fold and zero ring[j] if it is older than the window ending at (lap, i).
 * One attempt: if the word moves under us, someone else is using it. */
static void
tp_sweep_one(am_word *cell, int64_t lap, int64_t i, int64_t j)
{
    am_uword *slot = &tp_ring(cell)[j];
    uint64_t w = am_uload_acquire(slot);
    uint64_t d = (tp_expected_tag(lap, i, j) - (w >> TP_CNT_BITS)) & TP_TAG_MASK;
    if (d == 0 || d >= TP_TAG_HALF || tp_count(w) == 0) {
        return;  /* live, newer than our view, or empty */
    }
    am_ufetch_max_acq_rel((am_uword *)&cell[TP_PEAK], tp_count(w));
    (void)am_ucas_acq_rel(slot, &w, 0);
}

static void
tp_add_to_slot(am_word *cell, const tp_config *cfg, int64_t now, uint64_t e)
{
    int64_t n = cfg->n;
    int64_t k = tp_floordiv(now, cfg->res_ns);
    int64_t lap = tp_floordiv(k, n);
    int64_t i = k - lap * n;
    uint64_t tag = (uint64_t)lap & TP_TAG_MASK;
    am_uword *slot = &tp_ring(cell)[i];
    uint64_t w = am_uload_acquire(slot);
    for (;;) {
        uint64_t wtag = w >> TP_CNT_BITS;
        uint64_t d = (tag - wtag) & TP_TAG_MASK;
        if (w != 0 && ((d == 0 && !tp_all_stale(cell, k, n)) || d >= TP_TAG_HALF)) {
            /* our slot, or a later one that a faster clock reading opened */
            uint64_t next = (wtag << TP_CNT_BITS) | tp_sat_add(tp_count(w), e);
            if (am_ucas_acq_rel(slot, &w, next)) {
                return;
            }
            continue;
        }
        /* stale: fold its count into PEAK first (the replacing CAS releases
         * the fold), announce the rotation in LAST, then replace the word */
        if (tp_count(w) != 0) {
            am_ufetch_max_acq_rel((am_uword *)&cell[TP_PEAK], tp_count(w));
        }
        am_ufetch_max_acq_rel((am_uword *)&cell[TP_LAST], (uint64_t)k ^ TP_BIAS);
        uint64_t next = (tag << TP_CNT_BITS) | tp_sat_add(0, e);
        if (am_ucas_acq_rel(slot, &w, next)) {
            uint64_t c = am_ufetch_add_acq_rel((am_uword *)&cell[TP_SWEEP], 1);
            tp_sweep_one(cell, lap, i, (int64_t)(c % (uint64_t)n));
            return;
        }
    }
}

/* The window sum as of `now` and the peak count, slots read before PEAK
 * (see the header). The caller brackets it with the RS/RD checks. */
static void
tp_read_window(am_word *cell, const tp_config *cfg, int64_t now, uint64_t *sum, uint64_t *peak)
{
    int64_t n = cfg->n;
    int64_t k = tp_floordiv(now, cfg->res_ns);
    int64_t lap = tp_floordiv(k, n);
    int64_t i = k - lap * n;
    int all_stale = tp_all_stale(cell, k, n);
    am_uword *ring = tp_ring(cell);
    uint64_t s = 0, p = 0;
    for (int64_t j = 0; j < n; j++) {
        uint64_t w = am_uload_acquire(&ring[j]);
        uint64_t c = tp_count(w);
        if (c > p) {
            p = c;
        }
        if (!all_stale && (w >> TP_CNT_BITS) == tp_expected_tag(lap, i, j)) {
            s += c;
        }
    }
    uint64_t folded = am_uload_acquire((am_uword *)&cell[TP_PEAK]);
    *sum = s;
    *peak = folded > p ? folded : p;
}

/* ---- reads ------------------------------------------------------------ */

typedef struct {
    int64_t events, samples, violations;
    double rate, throughput, peak;
} tp_values;

static int
tp_read(ThroughputObject *self, tp_values *v)
{
    am_word *cell = self->cell;
    const tp_config *cfg = &self->cfg;
    int64_t now;
    if (tp_now(self, &now) < 0) {
        return -1;
    }
    for (;;) {
        int64_t rs = am_load_acquire(&cell[TP_RS]);
        if (am_load_acquire(&cell[TP_RD]) != rs) {
            memset(v, 0, sizeof *v);  /* a reset is mid-way: linearize after it */
            return 0;
        }
        uint64_t sum, peak;
        tp_read_window(cell, cfg, now, &sum, &peak);
        int64_t viol = am_load_acquire(&cell[TP_VIOL]);
        int64_t samples = am_load_acquire(&cell[TP_SAMPLES]);
        int64_t events = am_load_acquire(&cell[TP_EVENTS]);
        int64_t t0 = am_load_acquire(&cell[TP_T0]);
        if (am_load_acquire(&cell[TP_RS]) != rs) {
            continue;
        }
        /* exact ns difference first (an int64 subtraction could overflow) */
        double elapsed = now >= t0 ? (double)((uint64_t)now - (uint64_t)t0) / 1e9
                                   : -(double)((uint64_t)t0 - (uint64_t)now) / 1e9;
        double denom = elapsed < cfg->resolution_s ? cfg->resolution_s : elapsed;
        if (denom > cfg->window_s) {
            denom = cfg->window_s;
        }
        v->events = events;
        v->samples = samples;
        v->violations = viol;
        v->rate = samples == 0 ? 0.0 : (double)viol / (double)samples;
        v->throughput = (double)sum / denom;
        v->peak = (double)peak / cfg->resolution_s;
        return 0;
    }
}

/* ---- construction ----------------------------------------------------- */

static PyObject *
tp_make(PyTypeObject *type, PyObject *window, PyObject *res, PyObject *sla, PyObject *clock,
        PyObject *view, PyObject *offset)
{
    tp_config cfg;
    if (tp_parse_config(window, res, sla, &cfg) < 0) {
        return NULL;
    }
    size_t nbytes = (size_t)(TP_HEAD + cfg.n) * sizeof(am_word);
    am_word *words = NULL;
    PyObject *owner = NULL;
    if (view != NULL) {
        words = am_view_words(view, offset, (Py_ssize_t)nbytes, &owner);  /* owner: new reference */
        if (words == NULL) {
            return NULL;
        }
    }
    int err;
    PyObject *clk = tp_choose_clock(clock, &err);  /* new reference or NULL */
    if (err) {
        goto error;
    }
    ThroughputObject *self = (ThroughputObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_XDECREF(clk);
        goto error;
    }
    self->cfg = cfg;
    self->clock = clk;
    self->owner = owner;  /* the object owns it from here on */
    if (owner == NULL) {
        words = PyMem_Calloc(TP_HEAD + (size_t)cfg.n, sizeof(am_word));
        if (words == NULL) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
    }
    self->cell = words;
    int64_t now;
    if (tp_now(self, &now) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    int64_t zero = 0;
    if (owner == NULL) {
        am_store_release(&words[TP_T0], now);
    }
    else {
        (void)am_cas_acq_rel(&words[TP_T0], &zero, now);  /* first attach starts the clock */
    }
    return (PyObject *)self;
error:
    Py_XDECREF(owner);
    return NULL;
}

static PyObject *
Throughput_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *window, *res, *sla, *clock;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "ThroughputCell() takes positional arguments only");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "ThroughputCell", 4, 4, &window, &res, &sla, &clock)) {
        return NULL;
    }
    return tp_make(type, window, res, sla, clock, NULL, NULL);
}

PyDoc_STRVAR(Throughput_from_buffer_doc,
"_from_buffer($type, view, offset, window_s, resolution_s, sla_ns, clock, /)\n--\n\n"
"Private: a metric whose words live at `offset` of a writable memoryview\n"
"(the multi-process arena), _cell_bytes(window_s, resolution_s) bytes.\n"
"Every attacher must pass the same window_s and resolution_s. Zero-filled\n"
"words are a fresh metric; the first attach stamps the creation time.");

static PyObject *
Throughput_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "_from_buffer() takes 6 arguments (%zd given)", nargs);
        return NULL;
    }
    return tp_make(type, args[2], args[3], args[4], args[5], args[0], args[1]);
}

PyDoc_STRVAR(Throughput_cell_bytes_doc,
"_cell_bytes($type, window_s, resolution_s, /)\n--\n\n"
"Private: bytes of arena storage one metric with this window needs.");

static PyObject *
Throughput_cell_bytes(PyTypeObject *Py_UNUSED(type), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_cell_bytes() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    tp_config cfg;
    if (tp_parse_config(args[0], args[1], Py_None, &cfg) < 0) {
        return NULL;
    }
    return PyLong_FromSize_t((size_t)(TP_HEAD + cfg.n) * sizeof(am_word));
}

static int
Throughput_traverse(PyObject *op, visitproc visit, void *arg)
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->clock);
    Py_VISIT(self->owner);
    return 0;
}

static int
Throughput_clear(PyObject *op)
{
    /* Only the clock can close a cycle (a bound method of an object holding
     * the metric). The cell stays valid: owner is kept until dealloc. */
    Py_CLEAR(ThroughputObject_CAST(op)->clock);
    return 0;
}

static void
Throughput_dealloc(PyObject *op)
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    Py_CLEAR(self->clock);
    if (self->owner == NULL) {
        PyMem_Free(self->cell);
    }
    Py_CLEAR(self->owner);
    self->cell = NULL;
    tp->tp_free(op);
    Py_DECREF(tp);
}

/* ---- record ------------------------------------------------------------ */

PyDoc_STRVAR(Throughput_record_doc,
"record($self, /, events=1, latency_ns=None)\n--\n\n"
"Record one sample of `events` (an int >= 0) events; when latency_ns is\n"
"given and above sla_ns, count one SLA violation. ValueError for negative\n"
"events or latency_ns, TypeError for non-ints, OverflowError outside int64\n"
"or when events_processed() would leave it; nothing is changed then.");

static const char *const Throughput_record_params[] = {"events", "latency_ns"};

static PyObject *
Throughput_record(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    PyObject *argv[2];  /* events, latency_ns (NULL: not given) */
    if (am_parse_fastcall("record", Throughput_record_params, 2, 0, args, nargs, kwnames, argv)
        < 0) {
        return NULL;
    }
    PyObject *events_obj = argv[0], *latency_obj = argv[1];
    int64_t events = 1, latency = 0, now, prev;
    if (events_obj != NULL && am_as_int64(events_obj, "events", &events) < 0) {
        return NULL;
    }
    if (events < 0) {
        PyErr_Format(PyExc_ValueError, "events must be >= 0, not %lld", (long long)events);
        return NULL;
    }
    int violated = 0;
    if (latency_obj != NULL && latency_obj != Py_None) {
        if (am_as_int64(latency_obj, "latency_ns", &latency) < 0) {
            return NULL;
        }
        if (latency < 0) {
            PyErr_Format(PyExc_ValueError, "latency_ns must be >= 0, not %lld",
                         (long long)latency);
            return NULL;
        }
        violated = self->cfg.has_sla && latency > self->cfg.sla_ns;
    }
    if (tp_now(self, &now) < 0) {
        return NULL;
    }
    am_word *cell = self->cell;
    if (am_add_checked_acq_rel(&cell[TP_EVENTS], events, &prev) < 0) {
        return am_overflow("record()", prev, events);
    }
    if (events != 0) {
        tp_add_to_slot(cell, &self->cfg, now, (uint64_t)events);
    }
    (void)am_fetch_add_acq_rel(&cell[TP_SAMPLES], 1);
    if (violated) {
        (void)am_fetch_add_acq_rel(&cell[TP_VIOL], 1);
    }
    Py_RETURN_NONE;
}

/* ---- getters ------------------------------------------------------------ */

PyDoc_STRVAR(Throughput_events_processed_doc,
"events_processed($self, /)\n--\n\nEvents recorded since creation or reset.");

static PyObject *
Throughput_events_processed(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(am_load_acquire(&ThroughputObject_CAST(op)->cell[TP_EVENTS]));
}

PyDoc_STRVAR(Throughput_sample_count_doc,
"sample_count($self, /)\n--\n\nrecord() calls since creation or reset.");

static PyObject *
Throughput_sample_count(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(am_load_acquire(&ThroughputObject_CAST(op)->cell[TP_SAMPLES]));
}

PyDoc_STRVAR(Throughput_sla_violations_doc,
"sla_violations($self, /)\n--\n\nSamples whose latency_ns exceeded sla_ns.");

static PyObject *
Throughput_sla_violations(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(am_load_acquire(&ThroughputObject_CAST(op)->cell[TP_VIOL]));
}

PyDoc_STRVAR(Throughput_sla_violation_rate_doc,
"sla_violation_rate($self, /)\n--\n\n"
"sla_violations() / sample_count(), read consistently; 0.0 with no samples.");

static PyObject *
Throughput_sla_violation_rate(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_word *cell = ThroughputObject_CAST(op)->cell;
    int64_t viol = am_load_acquire(&cell[TP_VIOL]);  /* before SAMPLES: viol <= samples */
    int64_t samples = am_load_acquire(&cell[TP_SAMPLES]);
    if (samples == 0) {
        return PyFloat_FromDouble(0.0);
    }
    double rate = (double)viol / (double)samples;
    return PyFloat_FromDouble(rate > 1.0 ? 1.0 : rate);  /* a reset between the loads */
}

PyDoc_STRVAR(Throughput_throughput_doc,
"throughput($self, /)\n--\n\n"
"Events per second over the window: the events in the ring's slots (the\n"
"current one included) / min(window_s, max(resolution_s, seconds since\n"
"creation or reset)). Reads the clock once; O(window_s / resolution_s).");

static PyObject *
Throughput_throughput(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    tp_values v;
    if (tp_read(ThroughputObject_CAST(op), &v) < 0) {
        return NULL;
    }
    return PyFloat_FromDouble(v.throughput);
}

PyDoc_STRVAR(Throughput_peak_throughput_doc,
"peak_throughput($self, /)\n--\n\n"
"The highest events / resolution_s of any single slot since creation or reset.");

static PyObject *
Throughput_peak_throughput(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    am_word *cell = self->cell;
    for (;;) {
        int64_t rs = am_load_acquire(&cell[TP_RS]);
        if (am_load_acquire(&cell[TP_RD]) != rs) {
            return PyFloat_FromDouble(0.0);
        }
        uint64_t sum, peak;
        tp_read_window(cell, &self->cfg, 0, &sum, &peak);  /* `now` only affects sum */
        if (am_load_acquire(&cell[TP_RS]) == rs) {
            return PyFloat_FromDouble((double)peak / self->cfg.resolution_s);
        }
    }
}

PyDoc_STRVAR(Throughput_read_doc,
"_read($self, /)\n--\n\n"
"Private: (events_processed, sample_count, sla_violations, sla_violation_rate,\n"
"throughput, peak_throughput) read consistently: the window sum and peak\n"
"never exceed events, violations never exceed samples, and no reset\n"
"falls inside the read.");

static PyObject *
Throughput_read(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    tp_values v;
    if (tp_read(ThroughputObject_CAST(op), &v) < 0) {
        return NULL;
    }
    return Py_BuildValue("(LLLddd)", (long long)v.events, (long long)v.samples,
                         (long long)v.violations, v.rate, v.throughput, v.peak);
}

PyDoc_STRVAR(Throughput_reset_doc,
"reset($self, /)\n--\n\n"
"Zero every total, the window and the peak, and restart the time since\n"
"creation. Reads during the reset answer the empty state; a record()\n"
"running concurrently may be counted partly before and partly after it.");

static PyObject *
Throughput_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    am_word *cell = self->cell;
    int64_t now;
    if (tp_now(self, &now) < 0) {
        return NULL;
    }
    (void)am_fetch_add_acq_rel(&cell[TP_RS], 1);
    am_uword *ring = tp_ring(cell);
    for (int64_t j = 0; j < self->cfg.n; j++) {
        am_ustore_release(&ring[j], 0);
    }
    am_store_release(&cell[TP_PEAK], 0);
    am_store_release(&cell[TP_EVENTS], 0);
    am_store_release(&cell[TP_SAMPLES], 0);
    am_store_release(&cell[TP_VIOL], 0);
    am_store_release(&cell[TP_T0], now);
    (void)am_fetch_add_acq_rel(&cell[TP_RD], 1);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Throughput_sizeof_doc,
"__sizeof__($self, /)\n--\n\nSize in bytes, the ring included when the object owns it.");

static PyObject *
Throughput_sizeof(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    size_t size = (size_t)Py_TYPE(op)->tp_basicsize;
    if (self->owner == NULL) {
        size += (size_t)(TP_HEAD + self->cfg.n) * sizeof(am_word);
    }
    return PyLong_FromSize_t(size);
}

/* ---- configuration getters --------------------------------------------- */

static PyObject *
Throughput_get_window_s(PyObject *op, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(ThroughputObject_CAST(op)->cfg.window_s);
}

static PyObject *
Throughput_get_resolution_s(PyObject *op, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(ThroughputObject_CAST(op)->cfg.resolution_s);
}

static PyObject *
Throughput_get_sla_ns(PyObject *op, void *Py_UNUSED(closure))
{
    const tp_config *cfg = &ThroughputObject_CAST(op)->cfg;
    if (!cfg->has_sla) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(cfg->sla_ns);
}

static PyGetSetDef Throughput_getset[] = {
    {"window_s", Throughput_get_window_s, NULL,
     PyDoc_STR("The window in seconds (a whole number of nanoseconds)."), NULL},
    {"resolution_s", Throughput_get_resolution_s, NULL,
     PyDoc_STR("The slot width in seconds (a whole number of nanoseconds)."), NULL},
    {"sla_ns", Throughput_get_sla_ns, NULL,
     PyDoc_STR("The SLA threshold in nanoseconds, or None."), NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Throughput_methods[] = {
    {"record", AM_METHOD(Throughput_record), METH_FASTCALL | METH_KEYWORDS,
     Throughput_record_doc},
    {"events_processed", Throughput_events_processed, METH_NOARGS,
     Throughput_events_processed_doc},
    {"sample_count", Throughput_sample_count, METH_NOARGS, Throughput_sample_count_doc},
    {"sla_violations", Throughput_sla_violations, METH_NOARGS, Throughput_sla_violations_doc},
    {"sla_violation_rate", Throughput_sla_violation_rate, METH_NOARGS,
     Throughput_sla_violation_rate_doc},
    {"throughput", Throughput_throughput, METH_NOARGS, Throughput_throughput_doc},
    {"peak_throughput", Throughput_peak_throughput, METH_NOARGS, Throughput_peak_throughput_doc},
    {"_read", Throughput_read, METH_NOARGS, Throughput_read_doc},
    {"reset", Throughput_reset, METH_NOARGS, Throughput_reset_doc},
    {"__sizeof__", Throughput_sizeof, METH_NOARGS, Throughput_sizeof_doc},
    {"_from_buffer", AM_METHOD(Throughput_from_buffer), METH_FASTCALL | METH_CLASS,
     Throughput_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(Throughput_cell_bytes), METH_FASTCALL | METH_CLASS,
     Throughput_cell_bytes_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Throughput_doc,
"ThroughputCell(window_s, resolution_s, sla_ns, clock, /)\n--\n\n"
"Private: the C core of atomicmetrics.ThroughputMetric (which adds the\n"
"defaults and snapshot()). Lock-free record(); protocol in csrc/throughput.c.");

static PyType_Slot Throughput_slots[] = {
    {Py_tp_new, Throughput_new},
    {Py_tp_dealloc, Throughput_dealloc},
    {Py_tp_traverse, Throughput_traverse},
    {Py_tp_clear, Throughput_clear},
    {Py_tp_methods, Throughput_methods},
    {Py_tp_getset, Throughput_getset},
    {Py_tp_doc, (void *)Throughput_doc},
    {0, NULL},
};

static PyType_Spec Throughput_spec = {
    .name = "atomicmetrics._core.ThroughputCell",
    .basicsize = sizeof(ThroughputObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Throughput_slots,
};

int
am_throughput_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &Throughput_spec, &st->throughput_type);
}
