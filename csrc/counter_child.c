/* counter_child.c -- Counter (atomicmetrics.Counter): a family's counter
 * child, or a counter standing alone. The shape every child shares is told
 * in children.c; cells are reached through cells.h. */
#include "cells.h"
#include "children.h"

#include <math.h>
#include <stddef.h>

#define CounterChild_CAST(op) ((am_counter_child *)(op))

/* The int cell's value and updates, by its kind (the `kinds` byte). */
static inline int64_t
int_value(const am_counter_child *self)
{
    return self->kinds & AM_INT_STRIPES ? am_striped_load(self->int_cell)
                                        : am_atomic_counter_load(self->int_cell);
}

static inline int
int_add(am_counter_child *self, int64_t n, const char *what)
{
    switch (self->kinds & AM_INT_KIND) {
    case AM_INT_ADDER:
        return am_striped_add(self->int_cell, n, 1, what);
    case AM_INT_STRIPED:
        return am_striped_add(self->int_cell, n, 0, what);
    default:
        return am_atomic_counter_add(self->int_cell, n, what);
    }
}

/* The float cell's value; 0.0 while the counter has none. */
static inline double
float_value(const am_counter_child *self)
{
    PyObject *cell = am_ptr_load_acquire((am_ptr *)&self->float_cell);
    if (cell == NULL) {
        return 0.0;
    }
    return self->kinds & AM_FLOAT_ADDER ? am_float_adder_load(cell) : am_atomic_float_load(cell);
}

/* The float cell of a counter, made now (a _FloatAdder) if it has none yet:
 * borrowed, or NULL with an exception set. */
static PyObject *
counter_float_cell(am_counter_child *self)
{
    PyObject *cell = am_ptr_load_acquire(&self->float_cell);
    if (cell != NULL) {
        return cell;
    }
    am_state *st = am_child_state(Py_TYPE(self));
    PyObject *fresh = PyObject_CallNoArgs((PyObject *)st->float_adder_type);
    if (fresh == NULL) {
        return NULL;
    }
    void *expected = NULL;
    if (am_ptr_cas_acq_rel(&self->float_cell, &expected, fresh)) {
        return fresh;  /* the child owns the reference now */
    }
    Py_DECREF(fresh);  /* another thread published its cell first */
    return expected;
}

void
am_counter_child_read(PyObject *op, am_counter_reading *out)
{
    am_counter_child *self = CounterChild_CAST(op);
    double frac = float_value(self);  /* read first, as documented */
    int64_t whole = int_value(self);
    out->whole = whole;
    out->exact = frac == 0.0;
    if (out->exact) {
        out->total = 0.0;
        return;
    }
    double total = (double)whole + frac;  /* Python's int + float: whole rounded first */
    /* total < whole, compared exactly (as Python compares a float with an
     * int): past 2**53 the rounding of `whole` can go down, and a scraper
     * would see the counter drop. One ULP up keeps total >= whole. */
    if (!isnan(total) && total < 9223372036854775808.0
        && (total < -9223372036854775808.0 || (int64_t)floor(total) < whole)) {
        total = nextafter(total, INFINITY);
    }
    out->total = total;
}

static PyObject *
counter_new(PyTypeObject *type, PyObject *text, PyObject *int_cell, PyObject *float_cell)
{
    am_state *st = am_child_state(type);
    uint8_t kinds = AM_INT_ADDER;
    if (int_cell != NULL) {
        PyTypeObject *tp = Py_TYPE(int_cell);
        kinds = tp == st->int_adder_type ? AM_INT_ADDER
                : tp == st->striped_type ? AM_INT_STRIPED
                                         : AM_INT_ATOMIC;
        if (kinds == AM_INT_ATOMIC && am_check_cell(int_cell, st->counter_type, "int_cell") < 0) {
            return NULL;
        }
    }
    if (float_cell == NULL || Py_IS_TYPE(float_cell, st->float_adder_type)) {
        kinds |= AM_FLOAT_ADDER;  /* none yet: it will be a _FloatAdder */
    }
    else if (am_check_cell(float_cell, st->float_type, "float_cell") < 0) {
        return NULL;
    }
    PyObject *own = NULL;
    if (int_cell == NULL) {
        own = PyObject_CallNoArgs((PyObject *)st->int_adder_type);
        if (own == NULL) {
            return NULL;
        }
        int_cell = own;
    }
    am_counter_child *self = (am_counter_child *)am_child_alloc(
        type, text, offsetof(am_counter_child, text));
    if (self == NULL) {
        Py_XDECREF(own);
        return NULL;
    }
    self->int_cell = own != NULL ? own : Py_NewRef(int_cell);
    self->kinds = kinds;
    atomic_store_explicit(&self->float_cell, (void *)Py_XNewRef(float_cell),
                          memory_order_relaxed);  /* published with the object */
    return (PyObject *)self;
}

static PyObject *
CounterChild_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"int_cell", "float_cell", NULL};
    PyObject *int_cell = Py_None, *float_cell = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:Counter", kwlist, &int_cell,
                                     &float_cell)) {
        return NULL;
    }
    return counter_new(type, NULL, int_cell == Py_None ? NULL : int_cell,
                       float_cell == Py_None ? NULL : float_cell);
}

PyDoc_STRVAR(CounterChild_labelled_doc,
"_labelled($type, text, int_cell, float_cell, /)\n--\n\n"
"Private: a child of a family, with its rendered label text; float_cell may\n"
"be None (made on the first fractional increment).");

static PyObject *
CounterChild_labelled(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_labelled() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    return counter_new(type, args[0], args[1], args[2] == Py_None ? NULL : args[2]);
}

#define AM_INT64_LIMIT 9223372036854775808.0  /* 2**63: integral floats below it are exact */

static PyObject *
counter_add_int(am_counter_child *self, int64_t n, const char *what)
{
    if (int_add(self, n, what) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(CounterChild_inc_doc,
"inc($self, /, amount=1, exemplar=None)\n--\n\n"
"Add amount (>= 0): ints and integral floats below 2**63 exactly, other\n"
"floats to the float part. ValueError for a negative amount or NaN,\n"
"TypeError for a non-number, OverflowError past 2**63-1; nothing changes then.\n"
"exemplar (a dict of label names to values) becomes the latest exemplar,\n"
"checked first by the child's exemplar slots (a family's child has them).");

/* inc(amount), with the amount given (not NULL). */
static PyObject *
counter_add(am_counter_child *self, PyObject *amount)
{
    if (PyFloat_Check(amount)) {
        double x = PyFloat_AS_DOUBLE(amount);
        if (!(x >= 0.0)) {
            PyErr_Format(PyExc_ValueError,
                         "counters only go up: amount must be >= 0, not %R", amount);
            return NULL;
        }
        if (x < AM_INT64_LIMIT && x == floor(x)) {
            return counter_add_int(self, (int64_t)x, "add()");
        }
        PyObject *fcell = counter_float_cell(self);
        if (fcell == NULL) {
            return NULL;
        }
        if (self->kinds & AM_FLOAT_ADDER) {
            am_float_adder_add(fcell, x);
        }
        else {
            am_atomic_float_add(fcell, x);
        }
        Py_RETURN_NONE;
    }
    int64_t n;
    if (am_as_int64(amount, "amount", &n) < 0) {
        return NULL;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError,
                     "counters only go up: amount must be >= 0, not %lld", (long long)n);
        return NULL;
    }
    return counter_add_int(self, n, "add()");
}

/* inc(amount, exemplar=labels): the exemplar checked, the increment, then
 * the exemplar kept (slow path: Python calls). */
static PyObject *
counter_add_exemplar(am_counter_child *self, PyObject *amount, PyObject *labels)
{
    PyObject *one = NULL;
    if (amount == NULL) {
        amount = one = PyLong_FromLong(1);
        if (one == NULL) {
            return NULL;
        }
    }
    PyObject *made = am_exemplar_make((PyObject *)self, amount, labels);
    PyObject *result = made != NULL ? counter_add(self, amount) : NULL;
    if (result != NULL && am_exemplar_keep((PyObject *)self, 0, made) < 0) {
        Py_CLEAR(result);
    }
    Py_XDECREF(made);
    Py_XDECREF(one);
    return result;
}

static PyObject *
CounterChild_inc(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    am_counter_child *self = CounterChild_CAST(op);
    if (kwnames == NULL && nargs <= 1) {  /* inc() and inc(amount): no parsing */
        return nargs == 0 ? counter_add_int(self, 1, "inc()") : counter_add(self, args[0]);
    }
    static const char *const names[] = {"amount", "exemplar"};
    PyObject *given[2];
    if (am_parse_fastcall("inc", names, 2, 0, args, nargs, kwnames, given) < 0) {
        return NULL;
    }
    if (given[1] != NULL && given[1] != Py_None) {
        return counter_add_exemplar(self, given[0], given[1]);
    }
    if (given[0] == NULL) {
        return counter_add_int(self, 1, "inc()");
    }
    return counter_add(self, given[0]);
}

PyDoc_STRVAR(CounterChild_value_doc,
"value($self, /)\n--\n\n"
"The total: an int while no fractional amount was added, else a float.");

static PyObject *
CounterChild_value(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_counter_reading r;
    am_counter_child_read(op, &r);
    return r.exact ? PyLong_FromLongLong(r.whole) : PyFloat_FromDouble(r.total);
}

static PyObject *
CounterChild_repr(PyObject *op)
{
    PyObject *value = CounterChild_value(op, NULL);
    if (value == NULL) {
        return NULL;
    }
    PyObject *repr = PyUnicode_FromFormat("Counter(%R)", value);
    Py_DECREF(value);
    return repr;
}

static PyObject *
CounterChild_get_text(PyObject *op, void *Py_UNUSED(closure))
{
    return am_child_text(op, CounterChild_CAST(op)->text);
}

static PyObject *
CounterChild_get_int(PyObject *op, void *Py_UNUSED(closure))
{
    return Py_NewRef(CounterChild_CAST(op)->int_cell);
}

static PyObject *
CounterChild_get_float(PyObject *op, void *Py_UNUSED(closure))
{
    return Py_XNewRef(counter_float_cell(CounterChild_CAST(op)));
}

static void
CounterChild_dealloc(PyObject *op)
{
    am_counter_child *self = CounterChild_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    Py_CLEAR(self->int_cell);
    Py_XDECREF((PyObject *)am_ptr_load_acquire(&self->float_cell));
    am_exemplar_forget(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef CounterChild_methods[] = {
    {"inc", AM_METHOD(CounterChild_inc), METH_FASTCALL | METH_KEYWORDS, CounterChild_inc_doc},
    {"value", CounterChild_value, METH_NOARGS, CounterChild_value_doc},
    AM_EXEMPLAR_METHODS,
    {"_labelled", AM_METHOD(CounterChild_labelled), METH_FASTCALL | METH_CLASS,
     CounterChild_labelled_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef CounterChild_getset[] = {
    {"_text", CounterChild_get_text, NULL, "Private: the rendered label text.", NULL},
    {"_int", CounterChild_get_int, NULL, "Private: the AtomicCounter cell (integral amounts).",
     NULL},
    {"_float", CounterChild_get_float, NULL,
     "Private: the AtomicFloat cell (fractional amounts), made now if there is none yet.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(CounterChild_doc,
"Counter(int_cell=None, float_cell=None)\n--\n\n"
"A monotonically increasing counter: an exact int64 part plus a float part.\n\n"
"inc(amount=1) adds amount, which must be >= 0: ints and integral floats\n"
"below 2**63 are added exactly to the int64 part (an AtomicCounter), other\n"
"floats (+inf included) to the float part (an AtomicFloat). ValueError for\n"
"a negative amount or NaN, TypeError for a non-number, OverflowError when\n"
"the int64 part would pass 2**63-1; a call that raises changes nothing.\n"
"value() is the total.\n\n"
"Counter() stands alone with cells of its own; a family passes the cells\n"
"its registry's storage made. Without a float cell, the counter makes one\n"
"on its first fractional increment.\n\n"
"Thread-safe and lock-free: each inc() is one atomic add on one cell, in\n"
"one C call. value() reads the two cells one after the other: exact for a\n"
"quiescent counter, and never less than what was complete before the call.");

static PyType_Slot CounterChild_slots[] = {
    {Py_tp_new, CounterChild_new},
    {Py_tp_dealloc, CounterChild_dealloc},
    {Py_tp_repr, CounterChild_repr},
    {Py_tp_methods, CounterChild_methods},
    {Py_tp_getset, CounterChild_getset},
    {Py_tp_doc, (void *)CounterChild_doc},
    {0, NULL},
};

static PyType_Spec CounterChild_spec = {
    .name = "atomicmetrics._core.Counter",
    .basicsize = offsetof(am_counter_child, text),
    .itemsize = 1,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = CounterChild_slots,
};

int
am_counter_child_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &CounterChild_spec, &st->counter_child_type);
}
