/* histogram.c -- AtomicHistogram: fixed buckets, lock-free observe(),
 * consistent snapshots by the hot/cold protocol of hotcold.h.
 *
 * Cell layout (1 + 2 * (1 + B) words, B = len(bounds) + 1 buckets):
 *   [0]                 ctl: hot bit, reader lock bit, started count
 *                       (am_uword; see hotcold.h)
 *   [1 + h*(1+B)]       half h: sum of its observations, double bits
 *   [2 + h*(1+B) + i]   half h: bucket i, int64, NOT cumulative; the last
 *                       bucket is +Inf. The bucket add is an observation's
 *                       last write (the completion signal, W3).
 * Zero-filled words are the empty histogram.
 *
 * observe(x):  W1 fetch_add ctl [acq_rel]; W2 CAS-add x to half.sum
 *              [relaxed]; W3 fetch_add half.bucket[i] [release].
 * Stripes:     an object's own cell grows a table of whole cells of this
 *              layout when observe() contends (hotcold.h, "Stripes"):
 *              observe() then writes the cell its thread's probe picks.
 *              Arena cells never stripe.
 * Readers:     every getter, snapshot() and reset() run R1-R5 of hotcold.h
 *              on the cell and on each stripe, adding the parts up in a C
 *              buffer, then build Python objects after unlocking.
 *              A snapshot's count is the sum of its buckets (always equal,
 *              by construction and after recovery alike); its sum is the sum
 *              of the same observations, except after a writer died between
 *              W2 and W3 (its x may be in the sum, counted in no bucket).
 */
#include "hotcold.h"
#include "cells.h"
#include "bounds.h"
#include "cells.h"

#include <math.h>

typedef struct {
    AM_HC_HEAD
    am_word own[];      /* the cell for objects that own their storage */
} HistogramObject;

#define HistogramObject_CAST(op) ((HistogramObject *)(op))

static inline Py_ssize_t
hist_nbuckets(PyObject *bounds)
{
    return PyTuple_GET_SIZE(bounds) + 1;
}

static inline Py_ssize_t
hist_cell_words(Py_ssize_t nbuckets)
{
    return 1 + 2 * (1 + nbuckets);
}

static inline am_word *
hist_half(am_word *cell, Py_ssize_t nbuckets, unsigned h)
{
    return cell + 1 + (Py_ssize_t)h * (1 + nbuckets);
}

/* What a reader copies out under the lock. */
typedef struct {
    double sum;
    int64_t count;
    am_hc_buf buckets;  /* nbuckets counts */
} hist_raw;

/* R1-R5 on one cell of `nb` buckets, ADDED into `raw` (count, sum and
 * buckets); `reset` drops the data instead of merging it back. */
static void
hist_read_cell(am_word *cell, Py_ssize_t nb, int reset, hist_raw *raw)
{
    am_uword *ctl = (am_uword *)&cell[0];
    am_word *half[2] = {hist_half(cell, nb, 0), hist_half(cell, nb, 1)};
    am_word *const buckets[2] = {half[0] + 1, half[1] + 1};

    am_hc_lock(ctl);                                    /* R1 */
    unsigned cold = am_hc_swap(ctl, buckets, nb);       /* R2, R3 */
    am_word *c = half[cold], *h = half[!cold];          /* R4 */
    int64_t sum_bits = am_exchange_acq_rel(&c[0], 0);
    double sum = am_double_of(sum_bits);
    if (!reset && sum_bits != 0) {
        am_double_add_relaxed(&h[0], sum);
    }
    raw->sum += sum;
    raw->count += am_hc_move_buckets(ctl, buckets[cold], buckets[!cold], nb, reset,
                                     raw->buckets.words);
    am_hc_unlock(ctl);                                  /* R5 */
}

/* hist_read_cell over the object's cell and every stripe into `raw`, its
 * buckets zero-filled by the caller. Plain C. */
static void
hist_read_all(HistogramObject *self, Py_ssize_t nb, int reset, hist_raw *raw)
{
    raw->sum = 0.0;
    raw->count = 0;
    hist_read_cell(self->cell, nb, reset, raw);
    am_stripes *t = am_hc_stripes((am_hc_object *)self);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            hist_read_cell(am_stripe(t, i), nb, reset, raw);
        }
    }
}

/* hist_read_all into a zero-filled buffer of its own. Returns 0, or -1 with
 * MemoryError set (before anything was touched). On success the caller
 * frees raw->buckets. */
static int
hist_read(HistogramObject *self, int reset, hist_raw *raw)
{
    Py_ssize_t nb = hist_nbuckets(self->bounds);
    if (am_hc_buf_init(&raw->buckets, nb) < 0) {
        return -1;
    }
    hist_read_all(self, nb, reset, raw);
    return 0;
}

static PyObject *
Histogram_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"bounds", NULL};
    PyObject *bounds;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:AtomicHistogram", kwlist, &bounds)) {
        return NULL;
    }
    return am_hc_new(type, bounds, NULL, NULL, hist_cell_words);
}

PyDoc_STRVAR(Histogram_from_buffer_doc,
"_from_buffer($type, view, offset, bounds, /)\n--\n\n"
"Private: a histogram whose cell lives at `offset` of a writable memoryview\n"
"(the multi-process arena), _cell_bytes(len(bounds)) bytes long. The words\n"
"are used as they are (zero-filled words are an empty histogram).");

static PyObject *
Histogram_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    return am_hc_from_buffer(type, args, nargs, hist_cell_words);
}

PyDoc_STRVAR(Histogram_cell_bytes_doc,
"_cell_bytes($type, n_bounds, /)\n--\n\n"
"Private: bytes of arena storage for a histogram with n_bounds finite bounds.");

static PyObject *
Histogram_cell_bytes(PyTypeObject *Py_UNUSED(type), PyObject *arg)
{
    return am_hc_cell_bytes(arg, hist_cell_words);
}

PyDoc_STRVAR(Histogram_observe_doc,
"observe($self, x, /)\n--\n\n"
"Count x (int or float; +-Inf accepted) in the first bucket whose bound is\n"
">= x and add it to the sum. NaN raises ValueError, other types TypeError;\n"
"nothing is changed then. Lock-free: three atomic operations, never waits.");

static PyObject *
Histogram_observe(PyObject *op, PyObject *arg)
{
    HistogramObject *self = HistogramObject_CAST(op);
    double x;
    if (PyFloat_CheckExact(arg)) {
        x = PyFloat_AS_DOUBLE(arg);
    }
    else if (am_as_double(arg, "x", &x) < 0) {
        return NULL;
    }
    if (isnan(x)) {
        PyErr_SetString(PyExc_ValueError, "cannot observe NaN");
        return NULL;
    }
    Py_ssize_t i = am_bounds_find(self->bounds, x);
    Py_ssize_t nb = hist_nbuckets(self->bounds);
    unsigned hot;
    am_word *cell = am_hc_begin_adaptive((am_hc_object *)self, hist_cell_words(nb), &hot); /* W1 */
    am_word *half = hist_half(cell, nb, hot);
    am_double_add_relaxed(&half[0], x);                                                 /* W2 */
    am_hc_finish(&half[1 + i]);                                                         /* W3 */
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Histogram_bounds_doc,
"bounds($self, /)\n--\n\nThe finite upper bounds, a tuple of floats (the +Inf bucket is implied).");

static PyObject *
Histogram_bounds(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(HistogramObject_CAST(op)->bounds);
}

PyDoc_STRVAR(Histogram_count_doc,
"count($self, /)\n--\n\nNumber of observations (the sum of the bucket counts).");

static PyObject *
Histogram_count(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    hist_raw raw;
    if (hist_read(HistogramObject_CAST(op), 0, &raw) < 0) {
        return NULL;
    }
    am_hc_buf_free(&raw.buckets);
    return PyLong_FromLongLong(raw.count);
}

PyDoc_STRVAR(Histogram_sum_doc, "sum($self, /)\n--\n\nSum of the observations (0.0 when empty).");

static PyObject *
Histogram_sum(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    hist_raw raw;
    if (hist_read(HistogramObject_CAST(op), 0, &raw) < 0) {
        return NULL;
    }
    am_hc_buf_free(&raw.buckets);
    return PyFloat_FromDouble(raw.sum);
}

PyDoc_STRVAR(Histogram_bucket_counts_doc,
"bucket_counts($self, /)\n--\n\n"
"Observations per bucket, not cumulative: len(bounds()) + 1 ints, the last\n"
"one for the +Inf bucket.");

static PyObject *
Histogram_bucket_counts(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    HistogramObject *self = HistogramObject_CAST(op);
    hist_raw raw;
    if (hist_read(self, 0, &raw) < 0) {
        return NULL;
    }
    PyObject *list = am_hc_int_list(raw.buckets.words, hist_nbuckets(self->bounds));
    am_hc_buf_free(&raw.buckets);
    return list;
}

PyDoc_STRVAR(Histogram__snapshot_doc,
"_snapshot($self, /)\n--\n\n"
"Private: (bounds, buckets, count, sum), one consistent reading: exactly the\n"
"observations started before the call, count == sum(buckets) always. The\n"
"fields of HistogramSnapshot, in order; snapshot() builds it from them.");

static PyObject *
Histogram__snapshot(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    HistogramObject *self = HistogramObject_CAST(op);
    hist_raw raw;
    if (hist_read(self, 0, &raw) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    PyObject *buckets = am_hc_int_list(raw.buckets.words, hist_nbuckets(self->bounds));
    if (buckets != NULL) {
        result = Py_BuildValue("(ONLd)", self->bounds, buckets, (long long)raw.count, raw.sum);
    }
    am_hc_buf_free(&raw.buckets);
    return result;
}

PyDoc_STRVAR(Histogram_reset_doc,
"reset($self, /)\n--\n\n"
"Forget every observation started before the call (those racing with it\n"
"are kept whole or dropped whole).");

static PyObject *
Histogram_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    hist_raw raw;
    if (hist_read(HistogramObject_CAST(op), 1, &raw) < 0) {
        return NULL;
    }
    am_hc_buf_free(&raw.buckets);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Histogram_spread_doc,
"_spread($self, /)\n--\n\n"
"Private test seam: allocate the stripe table now (observe() does it when\n"
"it contends) and return the number of stripes; 0 for an arena cell.");

static PyObject *
Histogram_spread(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_hc_object *self = (am_hc_object *)op;
    if (!am_hc_owns(self)) {
        return PyLong_FromLong(0);
    }
    Py_ssize_t words = hist_cell_words(hist_nbuckets(self->bounds));
    am_stripes *t = am_stripes_grow(&self->stripes, words, 0, NULL);
    if (t == NULL) {
        return PyErr_NoMemory();
    }
    return PyLong_FromUnsignedLong((unsigned long)am_stripes_count(t));
}

PyDoc_STRVAR(Histogram_sizeof_doc,
"__sizeof__($self, /)\n--\n\nSize in bytes: the object, its own cell and its stripes.");

static PyMethodDef Histogram_methods[] = {
    {"observe", Histogram_observe, METH_O, Histogram_observe_doc},
    {"bounds", Histogram_bounds, METH_NOARGS, Histogram_bounds_doc},
    {"count", Histogram_count, METH_NOARGS, Histogram_count_doc},
    {"sum", Histogram_sum, METH_NOARGS, Histogram_sum_doc},
    {"bucket_counts", Histogram_bucket_counts, METH_NOARGS, Histogram_bucket_counts_doc},
    {"_snapshot", Histogram__snapshot, METH_NOARGS, Histogram__snapshot_doc},
    {"reset", Histogram_reset, METH_NOARGS, Histogram_reset_doc},
    {"_from_buffer", AM_METHOD(Histogram_from_buffer), METH_FASTCALL | METH_CLASS,
     Histogram_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(Histogram_cell_bytes), METH_O | METH_CLASS,
     Histogram_cell_bytes_doc},
    {"_spread", Histogram_spread, METH_NOARGS, Histogram_spread_doc},
    {"__sizeof__", am_hc_sizeof, METH_NOARGS, Histogram_sizeof_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Histogram_doc,
"AtomicHistogram(bounds)\n--\n\n"
"The C core of atomicmetrics.AtomicHistogram (which adds snapshot(); its\n"
"docstring states the contract): the cell, lock-free observe(), and readers\n"
"on client_golang's hot/cold scheme (csrc/hotcold.h), spread over\n"
"per-thread stripes when observe() contends (csrc/stripes.h).");

static PyType_Slot Histogram_slots[] = {
    {Py_tp_new, Histogram_new},
    {Py_tp_dealloc, am_hc_dealloc},
    {Py_tp_methods, Histogram_methods},
    {Py_tp_doc, (void *)Histogram_doc},
    {0, NULL},
};

static PyType_Spec Histogram_spec = {
    .name = "atomicmetrics._core.AtomicHistogram",
    .basicsize = sizeof(HistogramObject),
    .itemsize = sizeof(am_word),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Histogram_slots,
};

/* ---- cells.h ------------------------------------------------------------ */

Py_ssize_t
am_histogram_nbuckets(PyObject *op)
{
    return hist_nbuckets(HistogramObject_CAST(op)->bounds);
}

double
am_histogram_read(PyObject *op, int64_t *buckets, int64_t *count)
{
    HistogramObject *self = HistogramObject_CAST(op);
    Py_ssize_t nb = hist_nbuckets(self->bounds);
    hist_raw raw;  /* its words: the caller's buffer */
    raw.buckets.words = buckets;
    memset(buckets, 0, (size_t)nb * sizeof(int64_t));
    hist_read_all(self, nb, 0, &raw);
    *count = raw.count;
    return raw.sum;
}

PyObject *
am_histogram_observe(PyObject *op, PyObject *x)
{
    return Histogram_observe(op, x);
}

int
am_histogram_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &Histogram_spec, &st->histogram_type);
}
