/* counter.c -- AtomicCounter: one signed 64-bit word.
 *
 * Cell layout (1 word): [0] value, int64.
 * Every update is a CAS loop that refuses to leave the int64 range, so an
 * update either lands whole or raises OverflowError and changes nothing.
 * RMWs are acq_rel, loads acquire: each operation is linearizable at its
 * atomic instruction.
 */
#include "cells.h"

typedef am_word_cell CounterObject;  /* the word itself follows the head */

#define CounterObject_CAST(op) ((CounterObject *)(op))

int64_t
am_atomic_counter_load(PyObject *op)
{
    return am_load_acquire(CounterObject_CAST(op)->cell);
}

static PyObject *
Counter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *value_obj = NULL;
    int64_t value = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicCounter", kwlist, &value_obj)) {
        return NULL;
    }
    if (value_obj != NULL && am_as_int64(value_obj, "value", &value) < 0) {
        return NULL;
    }
    return am_word_cell_new(type, value);
}

PyDoc_STRVAR(Counter_from_buffer_doc,
"_from_buffer($type, view, offset, /)\n--\n\n"
"Private: a counter whose word lives at `offset` of a writable memoryview\n"
"(the multi-process arena). The word is used as it is, not cleared.");

PyDoc_STRVAR(Counter_cell_bytes_doc,
"_cell_bytes($type, /)\n--\n\nPrivate: bytes of arena storage one counter needs.");

PyDoc_STRVAR(Counter_inc_doc,
"inc($self, /)\n--\n\nAdd 1. OverflowError at 2**63-1 (the value never wraps).");

static PyObject *
Counter_inc(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_word *cell = CounterObject_CAST(op)->cell;
    int64_t prev;
    if (am_add_checked_acq_rel(cell, 1, &prev) < 0) {
        return am_overflow("inc()", prev, 1);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Counter_dec_doc,
"dec($self, /)\n--\n\nSubtract 1. OverflowError at -2**63 (the value never wraps).");

static PyObject *
Counter_dec(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_word *cell = CounterObject_CAST(op)->cell;
    int64_t prev;
    if (am_add_checked_acq_rel(cell, -1, &prev) < 0) {
        return am_overflow("dec()", prev, -1);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Counter_add_doc,
"add($self, n, /)\n--\n\nAdd the int n (may be negative). OverflowError when the\n"
"result leaves the int64 range; nothing is changed then.");

static PyObject *
Counter_add(PyObject *op, PyObject *arg)
{
    int64_t n, prev;
    if (am_as_int64(arg, "n", &n) < 0) {
        return NULL;
    }
    if (am_add_checked_acq_rel(CounterObject_CAST(op)->cell, n, &prev) < 0) {
        return am_overflow("add()", prev, n);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Counter_fetch_add_doc,
"fetch_add($self, n, /)\n--\n\nAdd the int n and return the previous value.");

static PyObject *
Counter_fetch_add(PyObject *op, PyObject *arg)
{
    int64_t n, prev;
    if (am_as_int64(arg, "n", &n) < 0) {
        return NULL;
    }
    if (am_add_checked_acq_rel(CounterObject_CAST(op)->cell, n, &prev) < 0) {
        return am_overflow("fetch_add()", prev, n);
    }
    return PyLong_FromLongLong(prev);
}

PyDoc_STRVAR(Counter_load_doc, "load($self, /)\n--\n\nThe current value.");

PyDoc_STRVAR(Counter_store_doc, "store($self, v, /)\n--\n\nSet the value to the int v.");

static PyObject *
Counter_store(PyObject *op, PyObject *arg)
{
    int64_t v;
    if (am_as_int64(arg, "v", &v) < 0) {
        return NULL;
    }
    am_store_release(CounterObject_CAST(op)->cell, v);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Counter_swap_doc,
"swap($self, v, /)\n--\n\nSet the value to the int v and return the previous value.");

static PyObject *
Counter_swap(PyObject *op, PyObject *arg)
{
    int64_t v;
    if (am_as_int64(arg, "v", &v) < 0) {
        return NULL;
    }
    return PyLong_FromLongLong(am_exchange_acq_rel(CounterObject_CAST(op)->cell, v));
}

PyDoc_STRVAR(Counter_compare_and_swap_doc,
"compare_and_swap($self, expected, new, /)\n--\n\n"
"Set the value to new if it equals expected; return whether it did.");

static PyObject *
Counter_compare_and_swap(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    return am_int64_cell_cas(op, "compare_and_swap", args, nargs);
}

PyDoc_STRVAR(Counter_reset_doc,
"reset($self, /)\n--\n\nSet the value to 0 and return the previous value.");

static PyObject *
Counter_int(PyObject *op)
{
    return am_int64_cell_load(op, NULL);
}

static PyObject *
Counter_repr(PyObject *op)
{
    return PyUnicode_FromFormat("AtomicCounter(%lld)",
                                (long long)am_load_acquire(CounterObject_CAST(op)->cell));
}

static PyMethodDef Counter_methods[] = {
    {"inc", Counter_inc, METH_NOARGS, Counter_inc_doc},
    {"dec", Counter_dec, METH_NOARGS, Counter_dec_doc},
    {"add", Counter_add, METH_O, Counter_add_doc},
    {"fetch_add", Counter_fetch_add, METH_O, Counter_fetch_add_doc},
    {"load", am_int64_cell_load, METH_NOARGS, Counter_load_doc},
    {"store", Counter_store, METH_O, Counter_store_doc},
    {"swap", Counter_swap, METH_O, Counter_swap_doc},
    {"compare_and_swap", AM_METHOD(Counter_compare_and_swap), METH_FASTCALL,
     Counter_compare_and_swap_doc},
    {"reset", am_int64_cell_reset, METH_NOARGS, Counter_reset_doc},
    {"_from_buffer", AM_METHOD(am_word_cell_from_buffer), METH_FASTCALL | METH_CLASS,
     Counter_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(am_word_cell_bytes), METH_NOARGS | METH_CLASS,
     Counter_cell_bytes_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Counter_doc,
"AtomicCounter(value=0)\n--\n\n"
"A signed 64-bit integer updated with lock-free atomic operations.\n\n"
"Thread-safe (GIL and free-threaded builds) and linearizable: each method\n"
"takes effect at one atomic instruction. Values, arguments and results must\n"
"fit in int64: OverflowError otherwise, and a call that raises changes\n"
"nothing (inc() at 2**63-1 raises, it never wraps). Arguments must be int\n"
"(bool and __index__ types accepted); anything else raises TypeError.\n"
"Cost: inc() is one C method call and one CAS on an uncontended word.");

static PyType_Slot Counter_slots[] = {
    {Py_tp_new, Counter_new},
    {Py_tp_dealloc, am_cell_dealloc},
    {Py_tp_methods, Counter_methods},
    {Py_tp_repr, Counter_repr},
    {Py_nb_int, Counter_int},
    {Py_nb_index, Counter_int},
    {Py_tp_doc, (void *)Counter_doc},
    {0, NULL},
};

static PyType_Spec Counter_spec = {
    .name = "atomicmetrics._core.AtomicCounter",
    .basicsize = sizeof(CounterObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Counter_slots,
};

/* ---- cells.h ------------------------------------------------------------ */

int
am_atomic_counter_add(PyObject *op, int64_t n, const char *what)
{
    int64_t prev;
    if (am_add_checked_acq_rel(CounterObject_CAST(op)->cell, n, &prev) < 0) {
        (void)am_overflow(what, prev, n);
        return -1;
    }
    return 0;
}

void
am_atomic_counter_set(PyObject *op, int64_t v)
{
    am_store_release(CounterObject_CAST(op)->cell, v);
}

int
am_counter_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &Counter_spec, &st->counter_type);
}
