/* histogram_child.c -- _core.Histogram, the C base of atomicmetrics.Histogram
 * (histogram.py adds snapshot(), time() and the default buckets): a
 * family's histogram child, or a histogram standing alone. The shape every
 * child shares is told in children.c; the cell is reached through cells.h. */
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
    static char *kwlist[] = {"cell", NULL};
    PyObject *cell;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Histogram", kwlist, &cell)) {
        return NULL;
    }
    return histogram_new(type, NULL, cell);
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

PyDoc_STRVAR(HistogramChild__snapshot_doc,
"_snapshot($self, /)\n--\n\n"
"Private: the cell's consistent reading (AtomicHistogram._snapshot).");

static PyObject *
HistogramChild__snapshot(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return am_histogram_snapshot(HistogramChild_CAST(op)->cell);
}

static PyObject *
HistogramChild_get_text(PyObject *op, void *Py_UNUSED(closure))
{
    return am_child_text(op, HistogramChild_CAST(op)->text);
}

static PyObject *
HistogramChild_get_cell(PyObject *op, void *Py_UNUSED(closure))
{
    return Py_NewRef(HistogramChild_CAST(op)->cell);
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
    {"_snapshot", HistogramChild__snapshot, METH_NOARGS, HistogramChild__snapshot_doc},
    {"_labelled", AM_METHOD(HistogramChild_labelled), METH_FASTCALL | METH_CLASS,
     HistogramChild_labelled_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef HistogramChild_getset[] = {
    {"_text", HistogramChild_get_text, NULL, "Private: the rendered label text.", NULL},
    {"_cell", HistogramChild_get_cell, NULL, "Private: the AtomicHistogram cell.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(HistogramChild_doc,
"Histogram(cell)\n--\n\n"
"The C base of atomicmetrics.Histogram: an AtomicHistogram cell and the\n"
"label text of a family's child. observe(x) is the cell's observation in\n"
"one C call. Use atomicmetrics.Histogram.");

static PyType_Slot HistogramChild_slots[] = {
    {Py_tp_new, HistogramChild_new},
    {Py_tp_dealloc, HistogramChild_dealloc},
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
    return am_add_type(module, &HistogramChild_spec, &st->histogram_child_type);
}
