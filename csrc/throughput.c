/* throughput.c -- ThroughputCell, the C core of the public ThroughputMetric:
 * construction, record(), the getters and reset(). Cell layout and
 * protocol: throughput.h; the sliding window over the cells:
 * throughput_ring.c. */
#include "throughput.h"
#include "clock.h"

#include <math.h>

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

/* ---- reads ------------------------------------------------------------ */

/* The sums of one per-record word over every cell (`which`: TS_EVENTS,
 * TS_SAMPLES or TS_VIOL), each read with acquire. Bounded per cell (see
 * throughput.h), so the sum stays inside int64. */
static int64_t
tp_total(ThroughputObject *self, am_stripes *t, int which)
{
    tp_part base = tp_base_part(self->cell);
    am_word *words[] = {base.events, base.samples, base.viol};
    int64_t sum = am_load_acquire(words[which]);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            sum += am_load_acquire(&am_stripe(t, i)[which]);
        }
    }
    return sum;
}

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
        am_stripes *t = tp_stripes(self);
        uint64_t sum, peak;
        tp_read_window(self, t, now, &sum, &peak);
        int64_t viol = tp_total(self, t, TS_VIOL);
        int64_t samples = tp_total(self, t, TS_SAMPLES);
        int64_t events = tp_total(self, t, TS_EVENTS);
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
    cfg.arena = owner != NULL;
    self->cfg = cfg;
    self->clock = clk;
    if (owner != NULL) {
        self->owner = owner;  /* the object owns it from here on */
    }
    else {  /* stripes: NULL (tp_alloc zeroed the object) */
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
    if (self->cfg.arena) {
        Py_VISIT(self->owner);
    }
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
    if (self->cfg.arena) {
        Py_CLEAR(self->owner);
    }
    else {
        PyMem_Free(self->cell);
        am_stripes_free(&self->stripes);
    }
    self->cell = NULL;
    tp->tp_free(op);
    Py_DECREF(tp);
}

/* ---- record ------------------------------------------------------------ */

/* Checked add of e (>= 0) to the base EVENTS, kept <= `max`: 0, or -1 with
 * *prev = the value refused (nothing changed). */
static int
tp_base_events(am_word *events, int64_t e, int64_t max, int64_t *prev)
{
    int64_t cur = am_load_relaxed(events);
    for (;;) {
        if (cur > max - e) {
            *prev = cur;
            return -1;
        }
        if (am_cas_weak_acq_rel(events, &cur, cur + e)) {
            return 0;
        }
    }
}

/* Step one of record(): add e to the EVENTS of the cell this record goes to
 * (see "Stripes" in throughput.h) and say which: *part receives its words,
 * *t the table (NULL: none). Returns 0, or -1 with *prev set (overflow:
 * nothing changed). */
static int
tp_take_events(ThroughputObject *self, int64_t e, am_stripes **t, tp_part *part, int64_t *prev)
{
    tp_part base = tp_base_part(self->cell);
    *part = base;
    *t = NULL;
    if (self->cfg.arena) {
        return tp_base_events(base.events, e, INT64_MAX, prev);
    }
    void *tp = am_ptr_load_acquire(&self->stripes);
    if (tp == NULL) {
        int64_t cur = am_load_relaxed(base.events);
        if (cur > INT64_MAX - e) {
            *prev = cur;
            return -1;
        }
        if (cur + e > INT64_MAX - AM_TP_GUARD) {
            /* leaving the band: keep all of int64 for good, unless striped meanwhile */
            if (am_ptr_cas_acq_rel(&self->stripes, &tp, AM_STRIPES_NEVER)
                || tp == AM_STRIPES_NEVER) {
                return tp_base_events(base.events, e, INT64_MAX, prev);
            }
        }
        else if (am_cas_acq_rel(base.events, &cur, cur + e)) {
            return 0;  /* uncontended: the common case, and every case with a GIL */
        }
        else {
            Py_ssize_t words = TS_HEAD + (Py_ssize_t)self->cfg.n;
            tp = am_stripes_grow(&self->stripes, words,
                                 AM_TP_GUARD / am_stripes_for_this_machine(), NULL);
            if (tp == NULL) {  /* out of memory, or went wide meanwhile */
                tp = am_ptr_load_acquire(&self->stripes);
                int64_t max = tp == NULL ? INT64_MAX - AM_TP_GUARD : INT64_MAX;
                return tp_base_events(base.events, e, max, prev);
            }
        }
    }
    if (tp == AM_STRIPES_NEVER) {
        return tp_base_events(base.events, e, INT64_MAX, prev);
    }
    am_stripes *table = tp;
    *t = table;
    if (e <= table->limit) {
        uint32_t p = am_probe();
        for (;;) {
            am_word *stripe = am_stripe(table, p & table->mask);
            int64_t cur = am_load_relaxed(&stripe[TS_EVENTS]);
            if (cur > table->limit - e) {
                break;  /* this stripe is full: the record goes to the base */
            }
            if (am_cas_acq_rel(&stripe[TS_EVENTS], &cur, cur + e)) {
                *part = tp_stripe_part(stripe);
                return 0;
            }
            p = am_probe_next(p);  /* collided with another thread: move */
        }
    }
    return tp_base_events(base.events, e, INT64_MAX - AM_TP_GUARD, prev);
}

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
    am_stripes *t = NULL;
    tp_part part;
    if (tp_take_events(self, events, &t, &part, &prev) < 0) {
        return am_overflow("record()", prev, events);
    }
    if (events != 0) {
        tp_add_to_slot(self, t, part.ring, now, (uint64_t)events);
    }
    (void)am_fetch_add_acq_rel(part.samples, 1);
    if (violated) {
        (void)am_fetch_add_acq_rel(part.viol, 1);
    }
    Py_RETURN_NONE;
}

/* ---- getters ------------------------------------------------------------ */

PyDoc_STRVAR(Throughput_events_processed_doc,
"events_processed($self, /)\n--\n\nEvents recorded since creation or reset.");

static PyObject *
Throughput_events_processed(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    return PyLong_FromLongLong(tp_total(self, tp_stripes(self), TS_EVENTS));
}

PyDoc_STRVAR(Throughput_sample_count_doc,
"sample_count($self, /)\n--\n\nrecord() calls since creation or reset.");

static PyObject *
Throughput_sample_count(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    return PyLong_FromLongLong(tp_total(self, tp_stripes(self), TS_SAMPLES));
}

PyDoc_STRVAR(Throughput_sla_violations_doc,
"sla_violations($self, /)\n--\n\nSamples whose latency_ns exceeded sla_ns.");

static PyObject *
Throughput_sla_violations(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    return PyLong_FromLongLong(tp_total(self, tp_stripes(self), TS_VIOL));
}

PyDoc_STRVAR(Throughput_sla_violation_rate_doc,
"sla_violation_rate($self, /)\n--\n\n"
"sla_violations() / sample_count(), read consistently; 0.0 with no samples.");

static PyObject *
Throughput_sla_violation_rate(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    am_stripes *t = tp_stripes(self);
    int64_t viol = tp_total(self, t, TS_VIOL);  /* before SAMPLES: viol <= samples */
    int64_t samples = tp_total(self, t, TS_SAMPLES);
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
        tp_read_window(self, tp_stripes(self), 0, &sum, &peak);  /* `now` only affects sum */
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
    am_stripes *t = tp_stripes(self);
    for (uint32_t c = 0; c <= (t == NULL ? 0u : am_stripes_count(t)); c++) {
        tp_part part = c == 0 ? tp_base_part(cell) : tp_stripe_part(am_stripe(t, c - 1));
        for (int64_t j = 0; j < self->cfg.n; j++) {
            am_ustore_release(&part.ring[j], 0);
        }
        am_store_release(part.events, 0);
        am_store_release(part.samples, 0);
        am_store_release(part.viol, 0);
    }
    am_store_release(&cell[TP_PEAK], 0);
    am_store_release(&cell[TP_T0], now);
    (void)am_fetch_add_acq_rel(&cell[TP_RD], 1);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Throughput_sizeof_doc,
"__sizeof__($self, /)\n--\n\nSize in bytes, the ring and stripes included when the object owns them.");

static PyObject *
Throughput_sizeof(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    size_t size = (size_t)Py_TYPE(op)->tp_basicsize;
    if (!self->cfg.arena) {
        size += (size_t)(TP_HEAD + self->cfg.n) * sizeof(am_word);
        size += (size_t)am_stripes_bytes(&self->stripes);
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

PyDoc_STRVAR(Throughput_spread_doc,
"_spread($self, /)\n--\n\n"
"Private test seam: allocate the stripe table now (record() does it when\n"
"it contends) and return the number of stripes; 0 for an arena cell or a\n"
"wide one (events past 2**63 - 2**55 before any contention).");

static PyObject *
Throughput_spread(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    ThroughputObject *self = ThroughputObject_CAST(op);
    if (self->cfg.arena) {
        return PyLong_FromLong(0);
    }
    if (am_load_acquire(&self->cell[TP_EVENTS]) > INT64_MAX - AM_TP_GUARD) {
        void *expected = NULL;  /* as record() would: go wide first */
        (void)am_ptr_cas_acq_rel(&self->stripes, &expected, AM_STRIPES_NEVER);
    }
    Py_ssize_t words = TS_HEAD + (Py_ssize_t)self->cfg.n;
    am_stripes *t = am_stripes_grow(&self->stripes, words,
                                    AM_TP_GUARD / am_stripes_for_this_machine(), NULL);
    if (t == NULL) {
        if (am_ptr_load_acquire(&self->stripes) == AM_STRIPES_NEVER) {
            return PyLong_FromLong(0);
        }
        return PyErr_NoMemory();
    }
    return PyLong_FromUnsignedLong((unsigned long)am_stripes_count(t));
}

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
    {"_spread", Throughput_spread, METH_NOARGS, Throughput_spread_doc},
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
