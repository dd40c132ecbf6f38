/* float_adder.c -- _FloatAdder: a double sum spread over cache-line cells
 * under contention (stripes.h), the fractional part of the registry's
 * Counter.
 *
 * Layout. `base` is one word inside the object holding a double's bits;
 * `table` is NULL until the first CAS on `base` fails, then a table of
 * one-word stripes (each alone on its cache line) that threads add to by
 * their probe, re-hashing on a failed CAS. Zero bits are 0.0.
 *
 * add(x): CAS loop on the bits of one cell [acq_rel]; no bound (a sum of
 * doubles saturates at +-inf, or becomes NaN, as float addition does).
 * load(): base + every stripe, each read with acquire, summed in stripe
 * order. A sum of cells is not the sum the same adds would give in one
 * word (floating-point addition is not associative): it may differ in the
 * last bits. It is monotonic for adds of one sign: every cell only grows,
 * float addition is monotonic in each operand, and the cells are summed in
 * the same order every time, so a later load() of a counter is never
 * smaller than an earlier one (a scrape never sees a counter reset).
 * reset(): exchanges every cell with 0.0, returns what they held: every add
 * is counted once, in the result or in the cell after it.
 */
#include "cells.h"
#include "stripes.h"

typedef struct {
    PyObject_HEAD
    am_ptr table; /* NULL or the table, once (acquire/release) */
    am_word base; /* double bits; acq_rel CAS */
} FloatAdderObject;

#define FloatAdderObject_CAST(op) ((FloatAdderObject *)(op))

static void
stripes_add_double(am_stripes *t, double x)
{
    uint32_t p = am_probe();
    for (;;) {
        am_word *cell = am_stripe(t, p & t->mask);
        int64_t cur = am_load_relaxed(cell);
        if (am_cas_acq_rel(cell, &cur, am_bits_of(am_double_of(cur) + x))) {
            return;
        }
        p = am_probe_next(p);  /* collided with another thread: move */
    }
}

static inline void
float_adder_add(FloatAdderObject *self, double x)
{
    am_stripes *t = am_ptr_load_acquire(&self->table);
    if (t == NULL) {
        int64_t cur = am_load_relaxed(&self->base);
        if (am_cas_acq_rel(&self->base, &cur, am_bits_of(am_double_of(cur) + x))) {
            return;  /* uncontended: the common case, and every case with a GIL */
        }
        t = am_stripes_grow(&self->table, 1, 0, NULL);  /* contended: spread out */
        if (t == NULL) {
            am_double_add_acq_rel(&self->base, x);  /* out of memory: base is always right */
            return;
        }
    }
    stripes_add_double(t, x);
}

void
am_float_adder_add(PyObject *op, double x)
{
    float_adder_add(FloatAdderObject_CAST(op), x);
}

double
am_float_adder_load(PyObject *op)
{
    FloatAdderObject *self = FloatAdderObject_CAST(op);
    double sum = am_load_double_acquire(&self->base);
    am_stripes *t = am_stripes_get(&self->table);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            sum += am_load_double_acquire(am_stripe(t, i));
        }
    }
    return sum;
}

static PyObject *
FloatAdder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":_FloatAdder", kwlist)) {
        return NULL;
    }
    return type->tp_alloc(type, 0);  /* zeroed: 0.0, no table */
}

static void
FloatAdder_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    am_stripes_free(&FloatAdderObject_CAST(op)->table);
    tp->tp_free(op);
    Py_DECREF(tp);
}

PyDoc_STRVAR(FloatAdder_add_doc,
"add($self, x, /)\n--\n\nAdd the int or float x (TypeError otherwise; no bound).");

static PyObject *
FloatAdder_add(PyObject *op, PyObject *arg)
{
    double x;
    if (PyFloat_CheckExact(arg)) {
        x = PyFloat_AS_DOUBLE(arg);
    }
    else if (am_as_double(arg, "x", &x) < 0) {
        return NULL;
    }
    float_adder_add(FloatAdderObject_CAST(op), x);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(FloatAdder_load_doc,
"load($self, /)\n--\n\nThe sum of the cells (see the class for what it is while adds run).");

static PyObject *
FloatAdder_load(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyFloat_FromDouble(am_float_adder_load(op));
}

PyDoc_STRVAR(FloatAdder_reset_doc,
"reset($self, /)\n--\n\nSet every cell to 0.0 and return the sum they held.");

static PyObject *
FloatAdder_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    FloatAdderObject *self = FloatAdderObject_CAST(op);
    double sum = am_double_of(am_exchange_acq_rel(&self->base, 0));
    am_stripes *t = am_stripes_get(&self->table);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            sum += am_double_of(am_exchange_acq_rel(am_stripe(t, i), 0));
        }
    }
    return PyFloat_FromDouble(sum);
}

PyDoc_STRVAR(FloatAdder_spread_doc,
"_spread($self, /)\n--\n\n"
"Private test seam: allocate the stripe table now and return its stripe count.");

static PyObject *
FloatAdder_spread(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_stripes *t = am_stripes_grow(&FloatAdderObject_CAST(op)->table, 1, 0, NULL);
    if (t == NULL) {
        return PyErr_NoMemory();
    }
    return PyLong_FromUnsignedLong((unsigned long)am_stripes_count(t));
}

PyDoc_STRVAR(FloatAdder_sizeof_doc,
"__sizeof__($self, /)\n--\n\nSize in bytes: the object and its stripe table, if any.");

static PyObject *
FloatAdder_sizeof(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(Py_TYPE(op)->tp_basicsize
                              + am_stripes_bytes(&FloatAdderObject_CAST(op)->table));
}

static PyObject *
FloatAdder_repr(PyObject *op)
{
    PyObject *value = PyFloat_FromDouble(am_float_adder_load(op));
    if (value == NULL) {
        return NULL;
    }
    PyObject *r = PyUnicode_FromFormat("_FloatAdder(%R)", value);
    Py_DECREF(value);
    return r;
}

static PyMethodDef FloatAdder_methods[] = {
    {"add", FloatAdder_add, METH_O, FloatAdder_add_doc},
    {"load", FloatAdder_load, METH_NOARGS, FloatAdder_load_doc},
    {"reset", FloatAdder_reset, METH_NOARGS, FloatAdder_reset_doc},
    {"_spread", FloatAdder_spread, METH_NOARGS, FloatAdder_spread_doc},
    {"__sizeof__", FloatAdder_sizeof, METH_NOARGS, FloatAdder_sizeof_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(FloatAdder_doc,
"_FloatAdder()\n--\n\n"
"Private: the fractional part of the registry's Counter, a sum of doubles\n"
"that spreads over per-thread cache-line cells when adds contend (one word\n"
"while they do not, and always on a GIL build). Thread-safe and lock-free.");

static PyType_Slot FloatAdder_slots[] = {
    {Py_tp_new, FloatAdder_new},
    {Py_tp_dealloc, FloatAdder_dealloc},
    {Py_tp_methods, FloatAdder_methods},
    {Py_tp_repr, FloatAdder_repr},
    {Py_tp_doc, (void *)FloatAdder_doc},
    {0, NULL},
};

static PyType_Spec FloatAdder_spec = {
    .name = "atomicmetrics._core._FloatAdder",
    .basicsize = sizeof(FloatAdderObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = FloatAdder_slots,
};

int
am_float_adder_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &FloatAdder_spec, &st->float_adder_type);
}
