/* float.c -- AtomicFloat: one IEEE-754 double kept as its bit pattern.
 *
 * Cell layout (1 word): [0] the double's 64 bits (memcpy'd, never converted).
 * All-zero bits are +0.0, so a zero-filled arena cell is AtomicFloat(0.0).
 * add() is a CAS loop on the bits (atomics.h am_double_add_acq_rel);
 * compare_and_swap() compares bit patterns, so -0.0 is not 0.0 and a NaN
 * matches only a NaN with the very same bits. NaN and infinities are ordinary
 * values here, as they are for Python floats. RMWs are acq_rel, loads
 * acquire: each operation is linearizable at its atomic instruction.
 */
#include "cells.h"

typedef am_word_cell FloatObject;  /* the word itself follows the head */

#define FloatObject_CAST(op) ((FloatObject *)(op))

double
am_atomic_float_load(PyObject *op)
{
    return am_load_double_acquire(FloatObject_CAST(op)->cell);
}

static PyObject *
Float_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *value_obj = NULL;
    double value = 0.0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicFloat", kwlist, &value_obj)) {
        return NULL;
    }
    if (value_obj != NULL && am_as_double(value_obj, "value", &value) < 0) {
        return NULL;
    }
    return am_word_cell_new(type, am_bits_of(value));
}

PyDoc_STRVAR(Float_from_buffer_doc,
"_from_buffer($type, view, offset, /)\n--\n\n"
"Private: a float whose word lives at `offset` of a writable memoryview\n"
"(the multi-process arena). The word is used as it is (zero bits = 0.0).");

PyDoc_STRVAR(Float_cell_bytes_doc,
"_cell_bytes($type, /)\n--\n\nPrivate: bytes of arena storage one float needs.");

PyDoc_STRVAR(Float_add_doc,
"add($self, x, /)\n--\n\n"
"Add the int or float x (IEEE-754 double addition: NaN and infinities\n"
"propagate as they do for Python floats). Cost: one CAS loop on the bits.");

static PyObject *
Float_add(PyObject *op, PyObject *arg)
{
    double x;
    if (am_as_double(arg, "x", &x) < 0) {
        return NULL;
    }
    (void)am_double_add_acq_rel(FloatObject_CAST(op)->cell, x);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Float_load_doc, "load($self, /)\n--\n\nThe current value.");

static PyObject *
Float_load(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyFloat_FromDouble(am_load_double_acquire(FloatObject_CAST(op)->cell));
}

PyDoc_STRVAR(Float_store_doc, "store($self, x, /)\n--\n\nSet the value to the int or float x.");

static PyObject *
Float_store(PyObject *op, PyObject *arg)
{
    double x;
    if (am_as_double(arg, "x", &x) < 0) {
        return NULL;
    }
    am_store_release(FloatObject_CAST(op)->cell, am_bits_of(x));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Float_swap_doc,
"swap($self, x, /)\n--\n\nSet the value to x and return the previous value.");

static PyObject *
Float_swap(PyObject *op, PyObject *arg)
{
    double x;
    if (am_as_double(arg, "x", &x) < 0) {
        return NULL;
    }
    int64_t prev = am_exchange_acq_rel(FloatObject_CAST(op)->cell, am_bits_of(x));
    return PyFloat_FromDouble(am_double_of(prev));
}

PyDoc_STRVAR(Float_compare_and_swap_doc,
"compare_and_swap($self, expected, new, /)\n--\n\n"
"Set the value to new if its bits equal those of expected; return whether\n"
"it did. Bitwise: -0.0 does not match 0.0; a NaN matches only the same NaN bits.");

static PyObject *
Float_compare_and_swap(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    double expected, desired;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "compare_and_swap() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (am_as_double(args[0], "expected", &expected) < 0
        || am_as_double(args[1], "new", &desired) < 0) {
        return NULL;
    }
    int64_t expected_bits = am_bits_of(expected);
    return PyBool_FromLong(
        am_cas_acq_rel(FloatObject_CAST(op)->cell, &expected_bits, am_bits_of(desired)));
}

static PyObject *
Float_float(PyObject *op)
{
    return PyFloat_FromDouble(am_load_double_acquire(FloatObject_CAST(op)->cell));
}

static PyObject *
Float_repr(PyObject *op)
{
    PyObject *value = Float_float(op);  /* new reference */
    if (value == NULL) {
        return NULL;
    }
    PyObject *repr = PyUnicode_FromFormat("AtomicFloat(%R)", value);
    Py_DECREF(value);
    return repr;
}

static PyMethodDef Float_methods[] = {
    {"add", Float_add, METH_O, Float_add_doc},
    {"load", Float_load, METH_NOARGS, Float_load_doc},
    {"store", Float_store, METH_O, Float_store_doc},
    {"swap", Float_swap, METH_O, Float_swap_doc},
    {"compare_and_swap", AM_METHOD(Float_compare_and_swap), METH_FASTCALL,
     Float_compare_and_swap_doc},
    {"_from_buffer", AM_METHOD(am_word_cell_from_buffer), METH_FASTCALL | METH_CLASS,
     Float_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(am_word_cell_bytes), METH_NOARGS | METH_CLASS,
     Float_cell_bytes_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Float_doc,
"AtomicFloat(value=0.0)\n--\n\n"
"A double-precision float updated with lock-free atomic operations on its bits.\n\n"
"Thread-safe (GIL and free-threaded builds) and linearizable: each method\n"
"takes effect at one atomic instruction (add() at its successful CAS).\n"
"Arguments must be int (bool included) or float: TypeError otherwise;\n"
"an int too large for a double raises OverflowError; a call that raises\n"
"changes nothing. NaN and +-Inf are accepted and propagate like Python\n"
"float arithmetic (not checked). compare_and_swap() compares bit patterns.\n"
"Cost: add() is one C method call and one CAS on an uncontended word.");

static PyType_Slot Float_slots[] = {
    {Py_tp_new, Float_new},
    {Py_tp_dealloc, am_cell_dealloc},
    {Py_tp_methods, Float_methods},
    {Py_tp_repr, Float_repr},
    {Py_nb_float, Float_float},
    {Py_tp_doc, (void *)Float_doc},
    {0, NULL},
};

static PyType_Spec Float_spec = {
    .name = "atomicmetrics._core.AtomicFloat",
    .basicsize = sizeof(FloatObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Float_slots,
};

/* ---- cells.h ------------------------------------------------------------ */

void
am_atomic_float_add(PyObject *op, double x)
{
    (void)am_double_add_acq_rel(FloatObject_CAST(op)->cell, x);
}

void
am_atomic_float_set(PyObject *op, double x)
{
    am_store_release(FloatObject_CAST(op)->cell, am_bits_of(x));
}

int
am_float_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &Float_spec, &st->float_type);
}
