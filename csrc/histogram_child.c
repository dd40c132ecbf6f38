/* histogram_child.c -- _core.Histogram, the C base of atomicmetrics.Histogram
 * (histogram.py adds snapshot(), native_snapshot(), time() and the default
 * buckets): a
 * family's histogram child, or a histogram standing alone. The shape every
 * child shares is told in children.c; the cell is reached through cells.h. */
#include "cells.h"
#include "children.h"
#include "bounds.h"
#include "hotcold.h"

#include <math.h>
#include <stddef.h>

#define HistogramChild_CAST(op) ((am_histogram_child *)(op))

static PyObject *
histogram_new(PyTypeObject *type, PyObject *text, PyObject *cell, PyObject *native)
{
    am_state *st = am_child_state(type);
    if (cell == NULL && native == NULL) {
        PyErr_SetString(PyExc_TypeError, "a histogram needs a cell, a native cell or both");
        return NULL;
    }
    if ((cell != NULL && am_check_cell(cell, st->histogram_type, "cell") < 0)
        || (native != NULL && am_check_cell(native, st->native_histogram_type, "native") < 0)) {
        return NULL;
    }
    am_histogram_child *self = (am_histogram_child *)am_child_alloc(
        type, text, offsetof(am_histogram_child, text));
    if (self == NULL) {
        return NULL;
    }
    self->cell = Py_XNewRef(cell);
    self->native = Py_XNewRef(native);
    return (PyObject *)self;
}

static PyObject *
HistogramChild_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"cell", "native", NULL};
    PyObject *cell = Py_None, *native = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:Histogram", kwlist, &cell, &native)) {
        return NULL;
    }
    return histogram_new(type, NULL, cell == Py_None ? NULL : cell,
                         native == Py_None ? NULL : native);
}

PyDoc_STRVAR(HistogramChild_labelled_doc,
"_labelled($type, text, cell, native, /)\n--\n\n"
"Private: a child of a family, with its rendered label text; cell (classic\n"
"buckets) or native may be None, not both.");

static PyObject *
HistogramChild_labelled(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_labelled() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    return histogram_new(type, args[0], args[1] == Py_None ? NULL : args[1],
                         args[2] == Py_None ? NULL : args[2]);
}

PyDoc_STRVAR(HistogramChild_observe_doc,
"observe($self, x, /, exemplar=None)\n--\n\n"
"Observe x in the native histogram, then in the classic buckets (each cell's\n"
"own observe; in that order, so that a scrape, which reads the classic\n"
"buckets first, never finds more in them than in the native count).\n"
"exemplar (a dict of label names to values) becomes the latest exemplar of\n"
"x's classic bucket (of the one slot of a native-only histogram), checked\n"
"first by the child's exemplar slots (a family's child has them).");

static PyObject *
histogram_observe(am_histogram_child *self, PyObject *arg)
{
    if (self->native != NULL) {
        PyObject *r = am_native_histogram_observe(self->native, arg);
        if (r == NULL || self->cell == NULL) {
            return r;
        }
        Py_DECREF(r);  /* None */
    }
    return am_histogram_observe(self->cell, arg);
}

/* observe(x, exemplar=labels): x checked, the exemplar checked, the
 * observation, then the exemplar kept in x's bucket (slow path). */
static PyObject *
histogram_observe_exemplar(am_histogram_child *self, PyObject *arg, PyObject *labels)
{
    double x;
    if (am_as_double(arg, "x", &x) < 0) {
        return NULL;
    }
    if (isnan(x)) {
        PyErr_SetString(PyExc_ValueError, "cannot observe NaN");
        return NULL;
    }
    Py_ssize_t bucket = 0;
    if (self->cell != NULL) {
        bucket = am_bounds_find(((am_hc_object *)self->cell)->bounds, x);
    }
    PyObject *made = am_exemplar_make((PyObject *)self, arg, labels);
    PyObject *result = made != NULL ? histogram_observe(self, arg) : NULL;
    if (result != NULL && am_exemplar_keep((PyObject *)self, bucket, made) < 0) {
        Py_CLEAR(result);
    }
    Py_XDECREF(made);
    return result;
}

static PyObject *
HistogramChild_observe(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    am_histogram_child *self = HistogramChild_CAST(op);
    if (nargs == 1 && kwnames == NULL) {
        return histogram_observe(self, args[0]);
    }
    static const char *const names[] = {"x", "exemplar"};
    PyObject *given[2];
    if (am_parse_fastcall("observe", names, 2, 1, args, nargs, kwnames, given) < 0) {
        return NULL;
    }
    if (given[1] != NULL && given[1] != Py_None) {
        return histogram_observe_exemplar(self, given[0], given[1]);
    }
    return histogram_observe(self, given[0]);
}

static PyObject *
HistogramChild_get_text(PyObject *op, void *Py_UNUSED(closure))
{
    return am_child_text(op, HistogramChild_CAST(op)->text);
}

static PyObject *
HistogramChild_get_cell(PyObject *op, void *Py_UNUSED(closure))
{
    PyObject *cell = HistogramChild_CAST(op)->cell;
    return Py_NewRef(cell != NULL ? cell : Py_None);
}

static PyObject *
HistogramChild_get_native(PyObject *op, void *Py_UNUSED(closure))
{
    PyObject *native = HistogramChild_CAST(op)->native;
    return Py_NewRef(native != NULL ? native : Py_None);
}

static void
HistogramChild_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    Py_CLEAR(HistogramChild_CAST(op)->cell);
    Py_CLEAR(HistogramChild_CAST(op)->native);
    am_exemplar_forget(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef HistogramChild_methods[] = {
    {"observe", AM_METHOD(HistogramChild_observe), METH_FASTCALL | METH_KEYWORDS,
     HistogramChild_observe_doc},
    AM_EXEMPLAR_METHODS,
    {"_labelled", AM_METHOD(HistogramChild_labelled), METH_FASTCALL | METH_CLASS,
     HistogramChild_labelled_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef HistogramChild_getset[] = {
    {"_text", HistogramChild_get_text, NULL, "Private: the rendered label text.", NULL},
    {"_cell", HistogramChild_get_cell, NULL,
     "Private: the AtomicHistogram cell (classic buckets), or None.", NULL},
    {"_native", HistogramChild_get_native, NULL,
     "Private: the AtomicNativeHistogram cell, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(HistogramChild_doc,
"Histogram(cell=None, native=None)\n--\n\n"
"The C base of atomicmetrics.Histogram: an AtomicHistogram cell, an\n"
"AtomicNativeHistogram cell or both, and the label text of a family's\n"
"child. observe(x) observes them in one C call. Use atomicmetrics.Histogram.");

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
