/* gauge_child.c -- Gauge (atomicmetrics.Gauge): a family's gauge child, or
 * a gauge standing alone. The shape every child shares is told in
 * children.c; cells are reached through cells.h. */
#include "cells.h"
#include "children.h"
#include "clock.h"

#include <stddef.h>

#define GaugeChild_CAST(op) ((am_gauge_child *)(op))

/* Set the value cell of a gauge, then its stamp (multi-process
 * "mostrecent" gauges only) to the time of the change. */
static void
gauge_set(am_gauge_child *self, double x)
{
    am_atomic_float_set(am_ptr_load_acquire(&self->cell), x);
    PyObject *stamp = am_ptr_load_acquire(&self->stamp);
    if (stamp != NULL) {
        am_atomic_counter_set(stamp, am_realtime_ns());
    }
}

static PyObject *
gauge_new(PyTypeObject *type, PyObject *text, PyObject *cell, PyObject *stamp)
{
    am_state *st = am_child_state(type);
    if (cell != NULL && am_check_cell(cell, st->float_type, "cell") < 0) {
        return NULL;
    }
    if (stamp != NULL && am_check_cell(stamp, st->counter_type, "stamp") < 0) {
        return NULL;
    }
    PyObject *own = NULL;
    if (cell == NULL) {
        own = PyObject_CallNoArgs((PyObject *)st->float_type);
        if (own == NULL) {
            return NULL;
        }
    }
    am_gauge_child *self = (am_gauge_child *)am_child_alloc(type, text,
                                                           offsetof(am_gauge_child, text));
    if (self == NULL) {
        Py_XDECREF(own);
        return NULL;
    }
    atomic_store_explicit(&self->cell, (void *)(own != NULL ? own : Py_NewRef(cell)),
                          memory_order_relaxed);  /* published with the object */
    atomic_store_explicit(&self->stamp, (void *)Py_XNewRef(stamp), memory_order_relaxed);
    return (PyObject *)self;
}

static PyObject *
GaugeChild_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"cell", "stamp", NULL};
    PyObject *cell = Py_None, *stamp = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:Gauge", kwlist, &cell, &stamp)) {
        return NULL;
    }
    return gauge_new(type, NULL, cell == Py_None ? NULL : cell,
                     stamp == Py_None ? NULL : stamp);
}

PyDoc_STRVAR(GaugeChild_labelled_doc,
"_labelled($type, text, cell, stamp, /)\n--\n\n"
"Private: a child of a family, with its rendered label text.");

static PyObject *
GaugeChild_labelled(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_labelled() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    return gauge_new(type, args[0], args[1], args[2] == Py_None ? NULL : args[2]);
}

PyDoc_STRVAR(GaugeChild_set_doc,
"set($self, value, /)\n--\n\n"
"Set the value to the int or float value (NaN and infinities included).");

static PyObject *
GaugeChild_set(PyObject *op, PyObject *arg)
{
    double x;
    if (am_as_double(arg, "x", &x) < 0) {
        return NULL;
    }
    gauge_set(GaugeChild_CAST(op), x);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(GaugeChild_inc_doc,
"inc($self, /, amount=1.0)\n--\n\nAdd amount (default 1; may be negative).");

static PyObject *
GaugeChild_inc(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    am_gauge_child *self = GaugeChild_CAST(op);
    static const char *const names[] = {"amount"};
    PyObject *amount;
    double x = 1.0;
    if (am_parse_fastcall("inc", names, 1, 0, args, nargs, kwnames, &amount) < 0) {
        return NULL;
    }
    if (amount != NULL && am_as_double(amount, "x", &x) < 0) {
        return NULL;
    }
    am_atomic_float_add(am_ptr_load_acquire(&self->cell), x);
    PyObject *stamp = am_ptr_load_acquire(&self->stamp);
    if (stamp != NULL) {
        am_atomic_counter_set(stamp, am_realtime_ns());
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(GaugeChild_dec_doc,
"dec($self, /, amount=1.0)\n--\n\nSubtract amount (default 1; may be negative).");

static PyObject *
GaugeChild_dec(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"amount"};
    PyObject *amount;
    if (am_parse_fastcall("dec", names, 1, 0, args, nargs, kwnames, &amount) < 0) {
        return NULL;
    }
    if (amount == NULL) {
        PyObject *minus_one[1] = {NULL};
        minus_one[0] = PyFloat_FromDouble(-1.0);
        if (minus_one[0] == NULL) {
            return NULL;
        }
        PyObject *r = GaugeChild_inc(op, minus_one, 1, NULL);
        Py_DECREF(minus_one[0]);
        return r;
    }
    PyObject *negated[1] = {PyNumber_Negative(amount)};  /* as inc(-amount) */
    if (negated[0] == NULL) {
        return NULL;
    }
    PyObject *r = GaugeChild_inc(op, negated, 1, NULL);
    Py_DECREF(negated[0]);
    return r;
}

PyDoc_STRVAR(GaugeChild_set_to_current_time_doc,
"set_to_current_time($self, /)\n--\n\n"
"Set the value to the current Unix time in seconds (what time.time() reads).");

static PyObject *
GaugeChild_set_to_current_time(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    gauge_set(GaugeChild_CAST(op), (double)am_realtime_ns() / 1e9);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(GaugeChild_value_doc, "value($self, /)\n--\n\nThe current value.");

static PyObject *
GaugeChild_value(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyFloat_FromDouble(am_gauge_child_value(op));
}

double
am_gauge_child_value(PyObject *op)
{
    return am_atomic_float_load(am_ptr_load_acquire(&GaugeChild_CAST(op)->cell));
}

PyDoc_STRVAR(GaugeChild_bind_doc,
"_bind($self, cell, stamp=None, /)\n--\n\n"
"Private: record into these cells from now on (the multi-process registry\n"
"gives a forked process its own). The cells replaced stay alive.");

static PyObject *
GaugeChild_bind(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    am_gauge_child *self = GaugeChild_CAST(op);
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "_bind() takes 1 or 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *cell = args[0], *stamp = nargs == 2 && args[1] != Py_None ? args[1] : NULL;
    am_state *st = am_child_state(Py_TYPE(op));
    if (am_check_cell(cell, st->float_type, "cell") < 0
        || (stamp != NULL && am_check_cell(stamp, st->counter_type, "stamp") < 0)) {
        return NULL;
    }
    if (self->retired == NULL) {
        self->retired = PyList_New(0);
        if (self->retired == NULL) {
            return NULL;
        }
    }
    PyObject *old_cell = am_ptr_load_acquire(&self->cell);
    PyObject *old_stamp = am_ptr_load_acquire(&self->stamp);
    if (PyList_Append(self->retired, old_cell) < 0
        || (old_stamp != NULL && PyList_Append(self->retired, old_stamp) < 0)) {
        return NULL;
    }
    atomic_store_explicit(&self->cell, (void *)Py_NewRef(cell), memory_order_release);
    atomic_store_explicit(&self->stamp, (void *)Py_XNewRef(stamp), memory_order_release);
    Py_DECREF(old_cell);  /* `retired` keeps it alive */
    Py_XDECREF(old_stamp);
    Py_RETURN_NONE;
}

static PyObject *
GaugeChild_repr(PyObject *op)
{
    PyObject *value = PyFloat_FromDouble(am_gauge_child_value(op));
    if (value == NULL) {
        return NULL;
    }
    PyObject *repr = PyUnicode_FromFormat("Gauge(%R)", value);
    Py_DECREF(value);
    return repr;
}

static PyObject *
GaugeChild_get_text(PyObject *op, void *Py_UNUSED(closure))
{
    return am_child_text(op, GaugeChild_CAST(op)->text);
}

static void
GaugeChild_dealloc(PyObject *op)
{
    am_gauge_child *self = GaugeChild_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    Py_XDECREF((PyObject *)am_ptr_load_acquire(&self->cell));
    Py_XDECREF((PyObject *)am_ptr_load_acquire(&self->stamp));
    Py_CLEAR(self->retired);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef GaugeChild_methods[] = {
    {"set", GaugeChild_set, METH_O, GaugeChild_set_doc},
    {"inc", AM_METHOD(GaugeChild_inc), METH_FASTCALL | METH_KEYWORDS, GaugeChild_inc_doc},
    {"dec", AM_METHOD(GaugeChild_dec), METH_FASTCALL | METH_KEYWORDS, GaugeChild_dec_doc},
    {"set_to_current_time", GaugeChild_set_to_current_time, METH_NOARGS,
     GaugeChild_set_to_current_time_doc},
    {"value", GaugeChild_value, METH_NOARGS, GaugeChild_value_doc},
    {"_bind", AM_METHOD(GaugeChild_bind), METH_FASTCALL, GaugeChild_bind_doc},
    {"_labelled", AM_METHOD(GaugeChild_labelled), METH_FASTCALL | METH_CLASS,
     GaugeChild_labelled_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef GaugeChild_getset[] = {
    {"_text", GaugeChild_get_text, NULL, "Private: the rendered label text.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(GaugeChild_doc,
"Gauge(cell=None, stamp=None)\n--\n\n"
"A float value that can be set, increased and decreased.\n\n"
"Thread-safe and lock-free: set(value) stores an int or float (NaN and\n"
"infinities included) and value() loads it, one atomic operation each;\n"
"inc()/dec() add by a CAS loop. Non-numbers raise TypeError; ints too\n"
"large for a double raise OverflowError. Gauge() stands alone with a cell\n"
"of its own (an AtomicFloat); a family passes the cell its registry's\n"
"storage made, and in a multi-process registry a `stamp` word (an\n"
"AtomicCounter) where every change stores time.time_ns() after the value.");

static PyType_Slot GaugeChild_slots[] = {
    {Py_tp_new, GaugeChild_new},
    {Py_tp_dealloc, GaugeChild_dealloc},
    {Py_tp_repr, GaugeChild_repr},
    {Py_tp_methods, GaugeChild_methods},
    {Py_tp_getset, GaugeChild_getset},
    {Py_tp_doc, (void *)GaugeChild_doc},
    {0, NULL},
};

static PyType_Spec GaugeChild_spec = {
    .name = "atomicmetrics._core.Gauge",
    .basicsize = offsetof(am_gauge_child, text),
    .itemsize = 1,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = GaugeChild_slots,
};

int
am_gauge_child_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &GaugeChild_spec, &st->gauge_child_type);
}
