/* histogram_child.c -- Histogram (atomicmetrics.Histogram): a family's
 * histogram child, or a histogram standing alone. The shape every child
 * shares is told in children.c; cells are reached through cells.h. */
#include "cells.h"
#include "children.h"

#include <stddef.h>

#define HistogramChild_CAST(op) ((am_histogram_child *)(op))

static PyObject *
histogram_new(PyTypeObject *type, PyObject *text, PyObject *cell)
{
    am_state *st = am_child_state(type);
    if (am_check_cell(cell, st->histogram_type, "cell") < 0) {
        return NULL;
    }
    am_histogram_child *self = (am_histogram_child *)am_child_alloc(
        type, text, offsetof(am_histogram_child, text));
    if (self == NULL) {
        return NULL;
    }
    self->cell = Py_NewRef(cell);
    return (PyObject *)self;
}

static PyObject *
HistogramChild_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"buckets", "cell", NULL};
    PyObject *buckets = NULL, *cell = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$O:Histogram", kwlist, &buckets, &cell)) {
        return NULL;
    }
    if (cell != Py_None) {
        return histogram_new(type, NULL, cell);  /* a family's: buckets ignored */
    }
    am_state *st = am_child_state(type);
    PyObject *own = buckets != NULL
                        ? PyObject_CallOneArg((PyObject *)st->histogram_type, buckets)
                        : PyObject_CallOneArg((PyObject *)st->histogram_type,
                                              st->default_buckets);
    if (own == NULL) {
        return NULL;
    }
    PyObject *self = histogram_new(type, NULL, own);
    Py_DECREF(own);
    return self;
}

PyDoc_STRVAR(HistogramChild_labelled_doc,
"_labelled($type, text, cell, /)\n--\n\n"
"Private: a child of a family, with its rendered label text.");

static PyObject *
HistogramChild_labelled(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_labelled() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    return histogram_new(type, args[0], args[1]);
}

PyDoc_STRVAR(HistogramChild_observe_doc,
"observe($self, x, /)\n--\n\n"
"Count x in its bucket and add it to the sum (AtomicHistogram.observe).");

static PyObject *
HistogramChild_observe(PyObject *op, PyObject *arg)
{
    return am_histogram_observe(HistogramChild_CAST(op)->cell, arg);
}

PyDoc_STRVAR(HistogramChild_snapshot_doc,
"snapshot($self, /)\n--\n\n"
"A consistent HistogramSnapshot (AtomicHistogram.snapshot).");

static PyObject *
HistogramChild_snapshot(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return am_histogram_snapshot(HistogramChild_CAST(op)->cell);
}

PyDoc_STRVAR(HistogramChild_time_doc,
"time($self, /)\n--\n\n"
"A context manager and decorator observing elapsed seconds (HistogramTimer).");

static PyObject *
HistogramChild_time(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_state *st = am_child_state(Py_TYPE(op));
    PyObject *observe = PyObject_GetAttrString(HistogramChild_CAST(op)->cell, "observe");
    if (observe == NULL) {
        return NULL;
    }
    PyObject *timer = PyObject_CallOneArg(st->histogram_timer, observe);
    Py_DECREF(observe);
    return timer;
}

static PyObject *
HistogramChild_repr(PyObject *op)
{
    am_histogram_child *self = HistogramChild_CAST(op);
    Py_ssize_t nb = am_histogram_nbuckets(self->cell);
    int64_t stack[64];
    int64_t *buckets = nb <= 64 ? stack : PyMem_Malloc((size_t)nb * sizeof(int64_t));
    if (buckets == NULL) {
        return PyErr_NoMemory();
    }
    int64_t count;
    double sum = am_histogram_read(self->cell, buckets, &count);
    if (buckets != stack) {
        PyMem_Free(buckets);
    }
    PyObject *total = PyFloat_FromDouble(sum);
    if (total == NULL) {
        return NULL;
    }
    PyObject *repr = PyUnicode_FromFormat("Histogram(count=%lld, sum=%R)", (long long)count, total);
    Py_DECREF(total);
    return repr;
}

static PyObject *
HistogramChild_get_text(PyObject *op, void *Py_UNUSED(closure))
{
    return am_child_text(op, HistogramChild_CAST(op)->text);
}

static void
HistogramChild_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    Py_CLEAR(HistogramChild_CAST(op)->cell);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef HistogramChild_methods[] = {
    {"observe", HistogramChild_observe, METH_O, HistogramChild_observe_doc},
    {"snapshot", HistogramChild_snapshot, METH_NOARGS, HistogramChild_snapshot_doc},
    {"time", HistogramChild_time, METH_NOARGS, HistogramChild_time_doc},
    {"_labelled", AM_METHOD(HistogramChild_labelled), METH_FASTCALL | METH_CLASS,
     HistogramChild_labelled_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef HistogramChild_getset[] = {
    {"_text", HistogramChild_get_text, NULL, "Private: the rendered label text.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(HistogramChild_doc,
"Histogram(buckets=DEFAULT_BUCKETS_S, *, cell=None)\n--\n\n"
"Observations (seconds, by convention) counted in fixed buckets.\n\n"
"Thread-safe and lock-free. observe(x) is AtomicHistogram.observe in one C\n"
"call (NaN raises ValueError, non-numbers TypeError); snapshot() returns a\n"
"consistent HistogramSnapshot (per-bucket counts, not cumulative); time()\n"
"observes elapsed seconds.\n\n"
"Histogram(buckets) stands alone with a cell of its own (bounds in seconds,\n"
"AtomicHistogram's rules: ValueError otherwise; default 5 ms to 10 s); a\n"
"family passes cell= from its registry's storage and buckets is ignored.");

static PyType_Slot HistogramChild_slots[] = {
    {Py_tp_new, HistogramChild_new},
    {Py_tp_dealloc, HistogramChild_dealloc},
    {Py_tp_repr, HistogramChild_repr},
    {Py_tp_methods, HistogramChild_methods},
    {Py_tp_getset, HistogramChild_getset},
    {Py_tp_doc, (void *)HistogramChild_doc},
    {0, NULL},
};

static PyType_Spec HistogramChild_spec = {
    .name = "atomicmetrics._core.Histogram",
    .basicsize = offsetof(am_histogram_child, text),
    .itemsize = 1,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = HistogramChild_slots,
};

int
am_histogram_child_register(PyObject *module, am_state *st)
{
    st->histogram_timer = am_import_attr("atomicmetrics.timing", "HistogramTimer");
    if (st->histogram_timer == NULL) {
        return -1;
    }
    st->default_buckets = am_import_attr("atomicmetrics.timing", "DEFAULT_BUCKETS_S");
    if (st->default_buckets == NULL) {
        return -1;
    }
    return am_add_type(module, &HistogramChild_spec, &st->histogram_child_type);
}
