/* rule_metric.c -- RuleExecutionMetric: count, total, min/max, duration
 * bucket and error count of rule executions, all updated by ONE C call and
 * read as one consistent snapshot (the hot/cold protocol of hotcold.h).
 *
 * Cell layout (2 + 2 * (4 + B) words, B = len(bounds) + 1 buckets):
 *   [0]                 ctl: hot bit, reader lock bit, started count
 *                       (am_uword; see hotcold.h)
 *   [1]                 reserved: total duration of every record() that got
 *                       past its overflow check, in-flight ones included
 *                       (int64, CAS [relaxed], never above INT64_MAX). The
 *                       linearizable overflow check: a record that would
 *                       take it past 2**63-1 raises before touching anything.
 *   half h at 2 + h*(4+B):
 *     [+0] total        int64 sum of durations (<= reserved)
 *     [+1] errors       int64
 *     [+2] min_enc      INT64_MAX - min(durations), raised by CAS-max
 *     [+3] max          max(durations), raised by CAS-max
 *     [+4+i] bucket i   int64, not cumulative; the last is +Inf. The bucket
 *                       add is a record's last write (W3).
 *   min and max are encoded so that 0 is the identity of "raise to": zero
 *   words are an empty half, merging a half is a CAS-max per word, and they
 *   are decoded only when the half's count (sum of its buckets) is > 0.
 *   Durations are >= 0, so both encodings stay in [0, INT64_MAX].
 *
 * Why min/max live in each half: a reset() drops the cold half; an
 * execution racing with it lands whole in the hot half, its min/max with
 * it, so min <= average <= max holds in every snapshot, reset or not.
 *
 * record(d, error):  reserve d on [1] [relaxed CAS, may raise]; W1 fetch_add
 *                    ctl [acq_rel]; W2 add total, errors, CAS-max min_enc and
 *                    max [relaxed]; W3 fetch_add bucket [release].
 * Stripes:           an object's own cell grows a table of whole cells of this
 *                    layout (hotcold.h, "Stripes") when the reserve CAS on
 *                    [1] fails (another record changed it: contention).
 *                    Publishing it first reserves AM_RULE_GUARD (2**55 ns) on
 *                    the base's [1] -- only if there is room, else the cell
 *                    stays unstriped -- and gives each stripe a reservation
 *                    limit L = AM_RULE_GUARD / stripes. A record then reserves
 *                    d on the [1] of the stripe its thread's probe picks (a
 *                    failed CAS moves it to another stripe), if that stays
 *                    <= L, and records there; otherwise it records into the
 *                    base cell, reserving exactly as an unstriped cell does.
 *                    Hence base + stripes never pass INT64_MAX (the base's
 *                    [1] counts the stripes' whole allowance), and a striped
 *                    metric may raise OverflowError early only within 2**55
 *                    ns (1.1 years) of a 2**63 ns (292 years) total. Arena
 *                    cells never stripe.
 * Readers:           R1-R5 of hotcold.h on the cell and on every stripe,
 *                    added up into a C buffer (min/max merged by max on the
 *                    encodings). A reset also takes each cell's dropped
 *                    total off that cell's `reserved`.
 * Recovery:          after a writer died between W2 and W3 (hotcold.h), the
 *                    snapshot clamps error_count to the count and the average
 *                    into [min, max]; its duration may stay in the total and
 *                    in `reserved` (the overflow limit drops by it).
 */
#include "hotcold.h"
#include "cells.h"
#include "bounds.h"

/* What a striped rule metric reserves on its base cell for its stripes:
 * 2**55 ns, about 1.1 years of total duration (see the layout above). */
#define AM_RULE_GUARD ((int64_t)1 << 55)

typedef struct {
    AM_HC_HEAD
    am_word own[];      /* the cell for objects that own their storage */
} RuleObject;

#define RuleObject_CAST(op) ((RuleObject *)(op))

enum { RM_TOTAL, RM_ERRORS, RM_MIN_ENC, RM_MAX, RM_BUCKETS };

static inline Py_ssize_t
rule_nbuckets(PyObject *bounds)
{
    return PyTuple_GET_SIZE(bounds) + 1;
}

static inline Py_ssize_t
rule_cell_words(Py_ssize_t nbuckets)
{
    return 2 + 2 * (RM_BUCKETS + nbuckets);
}

static inline am_word *
rule_half(am_word *cell, Py_ssize_t nbuckets, unsigned h)
{
    return cell + 2 + (Py_ssize_t)h * (RM_BUCKETS + nbuckets);
}

/* What a reader copies out under the lock. */
typedef struct {
    int64_t count, total, errors, min_enc, max;
    am_hc_buf buckets;  /* nbuckets counts */
} rule_raw;

/* R1-R5 on one cell of `nb` buckets, ADDED into `raw`; `reset` drops the
 * data instead of merging it back (and releases its reservation). */
static void
rule_read_cell(am_word *cell, Py_ssize_t nb, int reset, rule_raw *raw)
{
    am_uword *ctl = (am_uword *)&cell[0];
    am_word *half[2] = {rule_half(cell, nb, 0), rule_half(cell, nb, 1)};
    am_word *const buckets[2] = {half[0] + RM_BUCKETS, half[1] + RM_BUCKETS};

    am_hc_lock(ctl);                                    /* R1 */
    unsigned cold = am_hc_swap(ctl, buckets, nb);       /* R2, R3 */
    am_word *c = half[cold], *h = half[!cold];          /* R4 */
    int64_t total = am_exchange_acq_rel(&c[RM_TOTAL], 0);
    int64_t errors = am_exchange_acq_rel(&c[RM_ERRORS], 0);
    int64_t min_enc = am_exchange_acq_rel(&c[RM_MIN_ENC], 0);
    int64_t max = am_exchange_acq_rel(&c[RM_MAX], 0);
    raw->count += am_hc_move_buckets(ctl, buckets[cold], buckets[!cold], nb, reset,
                                     raw->buckets.words);
    if (reset) {
        am_fetch_add_relaxed(&cell[1], -total);  /* release the reservation */
    }
    else {
        am_fetch_add_relaxed(&h[RM_TOTAL], total);
        am_fetch_add_relaxed(&h[RM_ERRORS], errors);
        am_hc_max_relaxed(&h[RM_MIN_ENC], min_enc);
        am_hc_max_relaxed(&h[RM_MAX], max);
    }
    am_hc_unlock(ctl);                                  /* R5 */
    /* Each cell's total is <= its reservation, and the reservations sum
     * inside int64; only a reading that straddles a reset and a new table
     * could pass it (a reset between two cells): saturate then. */
    if (__builtin_add_overflow(raw->total, total, &raw->total)) {
        raw->total = INT64_MAX;
    }
    raw->errors += errors;
    raw->min_enc = min_enc > raw->min_enc ? min_enc : raw->min_enc;  /* 0: empty */
    raw->max = max > raw->max ? max : raw->max;
}

/* rule_read_cell over the object's cell and every stripe, into `raw` whose
 * bucket buffer the caller provides, zero-filled. */
static void
rule_read_all(RuleObject *self, int reset, rule_raw *raw)
{
    Py_ssize_t nb = rule_nbuckets(self->bounds);
    raw->count = raw->total = raw->errors = raw->min_enc = raw->max = 0;
    rule_read_cell(self->cell, nb, reset, raw);
    am_stripes *t = am_hc_stripes((am_hc_object *)self);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            rule_read_cell(am_stripe(t, i), nb, reset, raw);
        }
    }
}

/* rule_read_all into a buffer of its own. Returns 0, or -1 with
 * MemoryError set (before anything was touched). On success the caller
 * frees raw->buckets. */
static int
rule_read(RuleObject *self, int reset, rule_raw *raw)
{
    if (am_hc_buf_init(&raw->buckets, rule_nbuckets(self->bounds)) < 0) {
        return -1;
    }
    rule_read_all(self, reset, raw);
    return 0;
}

/* The stripe table of an object that owns its cell, publishing one first
 * if needed: reserves AM_RULE_GUARD on the base's [1] for the stripes (NULL
 * when there is no room for it, or memory is short: stay unstriped). */
static am_stripes *
rule_grow(RuleObject *self)
{
    am_stripes *t = am_stripes_get(&self->stripes);
    if (t != NULL) {
        return t;
    }
    am_word *reserved = &self->cell[1];
    int64_t cur = am_load_relaxed(reserved);
    do {
        if (cur > INT64_MAX - AM_RULE_GUARD) {
            return NULL;
        }
    } while (!am_cas_weak_relaxed(reserved, &cur, cur + AM_RULE_GUARD));
    int created;
    t = am_stripes_grow(&self->stripes, rule_cell_words(rule_nbuckets(self->bounds)),
                        AM_RULE_GUARD / am_stripes_for_this_machine(), &created);
    if (!created) {
        am_fetch_add_relaxed(reserved, -AM_RULE_GUARD);  /* lost the race, or no memory */
    }
    return t;
}

/* Reserve d on the cell a record goes to, and return that cell: the base
 * cell, or (striped) a stripe. NULL with OverflowError set when the total
 * would pass INT64_MAX (nothing reserved). */
static am_word *
rule_reserve(RuleObject *self, int64_t d)
{
    am_word *base = self->cell;
    int64_t cur = am_load_relaxed(&base[1]);
    if (base == self->own) {
        am_stripes *t = am_ptr_load_acquire(&self->stripes);
        if (t == NULL) {
            if (cur <= INT64_MAX - d && am_cas_relaxed(&base[1], &cur, cur + d)) {
                return base;  /* uncontended: the common case, and every case with a GIL */
            }
            if (cur <= INT64_MAX - d) {
                t = rule_grow(self);  /* the CAS failed: contended */
            }
        }
        if (t != NULL && d <= t->limit) {
            uint32_t p = am_probe();
            for (;;) {
                am_word *cell = am_stripe(t, p & t->mask);
                int64_t r = am_load_relaxed(&cell[1]);
                if (r > t->limit - d) {
                    break;  /* this stripe's allowance is spent: record into base */
                }
                if (am_cas_relaxed(&cell[1], &r, r + d)) {
                    return cell;
                }
                p = am_probe_next(p);  /* collided with another thread: move */
            }
        }
        cur = am_load_relaxed(&base[1]);
    }
    do {
        if (cur > INT64_MAX - d) {
            am_overflow("record(): total duration", cur, d);
            return NULL;
        }
    } while (!am_cas_weak_relaxed(&base[1], &cur, cur + d));
    return base;
}

/* The derived values of a reading, clamped as the snapshot promises. */
typedef struct {
    int64_t errors;
    double average, error_rate;
} rule_derived;

static rule_derived
rule_derive(const rule_raw *raw)
{
    rule_derived d = {0, 0.0, 0.0};
    if (raw->count <= 0) {
        return d;
    }
    d.errors = raw->errors < raw->count ? raw->errors : raw->count;
    double min = (double)(INT64_MAX - raw->min_enc), max = (double)raw->max;
    d.average = (double)raw->total / (double)raw->count;
    if (d.average < min) {
        d.average = min;
    }
    if (d.average > max) {
        d.average = max;
    }
    d.error_rate = (double)d.errors / (double)raw->count;
    return d;
}

/* New reference: min or max as an int, None when the reading is empty. */
static PyObject *
rule_extreme(const rule_raw *raw, int want_max)
{
    if (raw->count <= 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(want_max ? raw->max : INT64_MAX - raw->min_enc);
}

Py_ssize_t
am_rule_nbuckets(PyObject *op)
{
    return rule_nbuckets(RuleObject_CAST(op)->bounds);
}

void
am_rule_read(PyObject *op, int64_t *buckets, am_rule_reading *out)
{
    RuleObject *self = RuleObject_CAST(op);
    rule_raw raw = {0, 0, 0, 0, 0, {buckets, {0}}};  /* the caller's buffer */
    memset(buckets, 0, (size_t)rule_nbuckets(self->bounds) * sizeof(int64_t));
    rule_read_all(self, 0, &raw);
    rule_derived d = rule_derive(&raw);
    out->count = raw.count;
    out->errors = d.errors;
    out->total = raw.total;
    out->average = d.average;
    out->min = raw.count > 0 ? INT64_MAX - raw.min_enc : 0;
    out->max = raw.count > 0 ? raw.max : 0;
}

static PyObject *
Rule_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"buckets", NULL};
    PyObject *bounds;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:RuleExecutionMetric", kwlist, &bounds)) {
        return NULL;
    }
    return am_hc_new(type, bounds, NULL, NULL, rule_cell_words);
}

PyDoc_STRVAR(Rule_from_buffer_doc,
"_from_buffer($type, view, offset, buckets, /)\n--\n\n"
"Private: a rule metric whose cell lives at `offset` of a writable\n"
"memoryview (the multi-process arena), _cell_bytes(len(buckets)) bytes\n"
"long. The words are used as they are (zero-filled words are empty).");

static PyObject *
Rule_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    return am_hc_from_buffer(type, args, nargs, rule_cell_words);
}

PyDoc_STRVAR(Rule_cell_bytes_doc,
"_cell_bytes($type, n_bounds, /)\n--\n\n"
"Private: bytes of arena storage for a rule metric with n_bounds finite bounds.");

static PyObject *
Rule_cell_bytes(PyTypeObject *Py_UNUSED(type), PyObject *arg)
{
    return am_hc_cell_bytes(arg, rule_cell_words);
}

PyDoc_STRVAR(Rule_record_doc,
"record($self, /, duration_ns, error=False)\n--\n\n"
"Record one execution: count, total, min/max, duration bucket and (when\n"
"error is true) the error count, in one call. duration_ns must be an int\n"
">= 0 (TypeError / ValueError); OverflowError when the total would pass\n"
"2**63-1. Nothing is changed by a call that raises. Lock-free: four atomic\n"
"operations (plus CAS for a new min or max), never waits.");

static const char *const Rule_record_params[] = {"duration_ns", "error"};

static PyObject *
Rule_record(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *argv[2];  /* duration_ns, error (NULL: not given) */
    if (am_parse_fastcall("record", Rule_record_params, 2, 1, args, nargs, kwnames, argv) < 0) {
        return NULL;
    }
    PyObject *dur = argv[0], *err = argv[1];
    int64_t d;
    if (am_as_int64(dur, "duration_ns", &d) < 0) {
        return NULL;
    }
    if (d < 0) {
        PyErr_Format(PyExc_ValueError, "duration_ns must be >= 0, not %lld", (long long)d);
        return NULL;
    }
    int is_error = 0;
    if (err != NULL && err != Py_False) {
        is_error = err == Py_True ? 1 : PyObject_IsTrue(err);
        if (is_error < 0) {
            return NULL;
        }
    }

    RuleObject *self = RuleObject_CAST(op);
    am_word *cell = rule_reserve(self, d);
    if (cell == NULL) {
        return NULL;
    }

    Py_ssize_t i = am_bounds_find(self->bounds, (double)d);
    Py_ssize_t nb = rule_nbuckets(self->bounds);
    am_word *half = rule_half(cell, nb, am_hc_begin((am_uword *)cell));  /* W1 */
    am_fetch_add_relaxed(&half[RM_TOTAL], d);                             /* W2 */
    if (is_error) {
        am_fetch_add_relaxed(&half[RM_ERRORS], 1);
    }
    am_hc_max_relaxed(&half[RM_MIN_ENC], INT64_MAX - d);
    am_hc_max_relaxed(&half[RM_MAX], d);
    am_hc_finish(&half[RM_BUCKETS + i]);                                  /* W3 */
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Rule_bounds_doc,
"bounds($self, /)\n--\n\nThe finite bucket upper bounds in ns, a tuple of floats.");

static PyObject *
Rule_bounds(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(RuleObject_CAST(op)->bounds);
}

/* Each getter takes one consistent reading and returns one value of it. */
enum rule_field {
    RF_COUNT, RF_ERRORS, RF_TOTAL, RF_AVERAGE, RF_MIN, RF_MAX, RF_RATE, RF_BUCKETS, RF_NFIELDS
};

/* New reference: field `f` of a reading. */
static PyObject *
rule_field_value(RuleObject *self, const rule_raw *raw, const rule_derived *d, enum rule_field f)
{
    switch (f) {
    case RF_COUNT:
        return PyLong_FromLongLong(raw->count);
    case RF_ERRORS:
        return PyLong_FromLongLong(d->errors);
    case RF_TOTAL:
        return PyLong_FromLongLong(raw->total);
    case RF_AVERAGE:
        return PyFloat_FromDouble(d->average);
    case RF_MIN:
        return rule_extreme(raw, 0);
    case RF_MAX:
        return rule_extreme(raw, 1);
    case RF_RATE:
        return PyFloat_FromDouble(d->error_rate);
    default:
        return am_hc_int_list(raw->buckets.words, rule_nbuckets(self->bounds));
    }
}

static PyObject *
rule_getter(PyObject *op, enum rule_field f)
{
    RuleObject *self = RuleObject_CAST(op);
    rule_raw raw;
    if (rule_read(self, 0, &raw) < 0) {
        return NULL;
    }
    rule_derived d = rule_derive(&raw);
    PyObject *v = rule_field_value(self, &raw, &d, f);
    am_hc_buf_free(&raw.buckets);
    return v;
}

#define RULE_GETTER(name, field, doc)                                          \
    PyDoc_STRVAR(Rule_##name##_doc, #name "($self, /)\n--\n\n" doc);           \
    static PyObject *Rule_##name(PyObject *op, PyObject *Py_UNUSED(ignored))   \
    {                                                                          \
        return rule_getter(op, field);                                         \
    }

RULE_GETTER(execution_count, RF_COUNT, "Number of executions recorded.")
RULE_GETTER(error_count, RF_ERRORS, "Number of executions recorded with error=True.")
RULE_GETTER(total_duration_ns, RF_TOTAL, "Sum of the recorded durations, in ns.")
RULE_GETTER(average_duration_ns, RF_AVERAGE, "Mean duration in ns, a float (0.0 when empty).")
RULE_GETTER(min_duration_ns, RF_MIN, "Shortest duration in ns, None when empty.")
RULE_GETTER(max_duration_ns, RF_MAX, "Longest duration in ns, None when empty.")
RULE_GETTER(error_rate, RF_RATE, "error_count / execution_count, 0.0 when empty.")
RULE_GETTER(bucket_counts, RF_BUCKETS,
            "Executions per duration bucket, not cumulative: len(bounds()) + 1\n"
            "ints, the last one for the +Inf bucket.")

PyDoc_STRVAR(Rule__snapshot_doc,
"_snapshot($self, /)\n--\n\n"
"Private: one consistent reading of every getter, in the order of the\n"
"fields of RuleExecutionSnapshot (snapshot() builds it from them): exactly\n"
"the executions recorded before the call; count == sum(bucket_counts),\n"
"errors <= count, min <= average <= max.");

static PyObject *
Rule__snapshot(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    RuleObject *self = RuleObject_CAST(op);
    rule_raw raw;
    if (rule_read(self, 0, &raw) < 0) {
        return NULL;
    }
    rule_derived d = rule_derive(&raw);
    PyObject *result = PyTuple_New(RF_NFIELDS);
    for (int f = 0; result != NULL && f < RF_NFIELDS; f++) {
        PyObject *v = rule_field_value(self, &raw, &d, (enum rule_field)f);
        if (v == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, f, v);
    }
    am_hc_buf_free(&raw.buckets);
    return result;
}

PyDoc_STRVAR(Rule_reset_doc,
"reset($self, /)\n--\n\n"
"Forget every execution recorded before the call (those racing with it are\n"
"kept whole or dropped whole).");

static PyObject *
Rule_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    rule_raw raw;
    if (rule_read(RuleObject_CAST(op), 1, &raw) < 0) {
        return NULL;
    }
    am_hc_buf_free(&raw.buckets);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Rule_spread_doc,
"_spread($self, /)\n--\n\n"
"Private test seam: allocate the stripe table now (record() does it when\n"
"it contends) and return the number of stripes; 0 for an arena cell or when\n"
"the total leaves no room for the stripes' allowance.");

static PyObject *
Rule_spread(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    RuleObject *self = RuleObject_CAST(op);
    if (self->cell != self->own) {
        return PyLong_FromLong(0);
    }
    am_stripes *t = rule_grow(self);
    return PyLong_FromUnsignedLong(t == NULL ? 0ul : (unsigned long)am_stripes_count(t));
}

PyDoc_STRVAR(Rule_sizeof_doc,
"__sizeof__($self, /)\n--\n\nSize in bytes: the object, its own cell and its stripes.");

static PyMethodDef Rule_methods[] = {
    {"record", AM_METHOD(Rule_record), METH_FASTCALL | METH_KEYWORDS, Rule_record_doc},
    {"bounds", Rule_bounds, METH_NOARGS, Rule_bounds_doc},
    {"execution_count", Rule_execution_count, METH_NOARGS, Rule_execution_count_doc},
    {"error_count", Rule_error_count, METH_NOARGS, Rule_error_count_doc},
    {"total_duration_ns", Rule_total_duration_ns, METH_NOARGS, Rule_total_duration_ns_doc},
    {"average_duration_ns", Rule_average_duration_ns, METH_NOARGS, Rule_average_duration_ns_doc},
    {"min_duration_ns", Rule_min_duration_ns, METH_NOARGS, Rule_min_duration_ns_doc},
    {"max_duration_ns", Rule_max_duration_ns, METH_NOARGS, Rule_max_duration_ns_doc},
    {"error_rate", Rule_error_rate, METH_NOARGS, Rule_error_rate_doc},
    {"bucket_counts", Rule_bucket_counts, METH_NOARGS, Rule_bucket_counts_doc},
    {"_snapshot", Rule__snapshot, METH_NOARGS, Rule__snapshot_doc},
    {"reset", Rule_reset, METH_NOARGS, Rule_reset_doc},
    {"_from_buffer", AM_METHOD(Rule_from_buffer), METH_FASTCALL | METH_CLASS,
     Rule_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(Rule_cell_bytes), METH_O | METH_CLASS,
     Rule_cell_bytes_doc},
    {"_spread", Rule_spread, METH_NOARGS, Rule_spread_doc},
    {"__sizeof__", am_hc_sizeof, METH_NOARGS, Rule_sizeof_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Rule_doc,
"RuleExecutionMetric(buckets)\n--\n\n"
"The C core of atomicmetrics.RuleExecutionMetric (which adds the default\n"
"buckets, time() and snapshot(); its docstring states the contract): the\n"
"cell, lock-free record(), and readers on the hot/cold scheme of\n"
"csrc/hotcold.h, spread over per-thread stripes when record() contends\n"
"(csrc/stripes.h).");

static PyType_Slot Rule_slots[] = {
    {Py_tp_new, Rule_new},
    {Py_tp_dealloc, am_hc_dealloc},
    {Py_tp_methods, Rule_methods},
    {Py_tp_doc, (void *)Rule_doc},
    {0, NULL},
};

static PyType_Spec Rule_spec = {
    .name = "atomicmetrics._core.RuleExecutionMetric",
    .basicsize = sizeof(RuleObject),
    .itemsize = sizeof(am_word),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Rule_slots,
};

int
am_rule_metric_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &Rule_spec, &st->rule_metric_type);
}
