/* duration.c -- AtomicDuration: nanoseconds in one signed 64-bit word.
 *
 * Cell layout (1 word): [0] nanoseconds, int64 (zero-filled = 0 ns).
 * Additions are checked CAS loops (am_add_checked_acq_rel): an add either
 * lands whole or raises OverflowError and changes nothing. RMWs are acq_rel,
 * loads acquire: each operation is linearizable at its atomic instruction.
 *
 * Conversions are exact, never through a lossy float step:
 *   - add(float seconds): am_ns_of_seconds (convert.c): nearest nanosecond,
 *     ties to even (what round(Fraction(x) * 10**9) gives in Python);
 *   - add(timedelta): days, seconds and microseconds as integers;
 *   - load(): ns rounded to the nearest microsecond, ties to even (the rule
 *     timedelta itself applies to fractional microseconds);
 *   - seconds(): ns / 10**9 correctly rounded (Python's int true division).
 */
#include "module.h"

typedef am_word_cell DurationObject;  /* the word itself follows the head */

#define DurationObject_CAST(op) ((DurationObject *)(op))

#define AM_NS_PER_S INT64_C(1000000000)
#define AM_NS_PER_US INT64_C(1000)
#define AM_US_PER_S INT64_C(1000000)
#define AM_S_PER_DAY INT64_C(86400)

typedef __int128 am_i128;

/* Store v in *out if it fits in int64; else OverflowError naming `what`. */
static int
duration_fit(am_i128 v, const char *what, int64_t *out)
{
    if (v > INT64_MAX || v < INT64_MIN) {
        PyErr_Format(PyExc_OverflowError,
                     "%s is out of the signed 64-bit nanosecond range", what);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* Integer attribute `name` of obj as a long long; -1 with an exception set. */
static int
duration_int_attr(PyObject *obj, const char *name, long long *out)
{
    PyObject *v = PyObject_GetAttrString(obj, name);  /* new reference */
    if (v == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* A timedelta, an int or a float number of seconds -> nanoseconds.
 * Returns 0, or -1 with an exception set (TypeError / ValueError /
 * OverflowError as the contract says). */
static int
duration_ns_of(PyObject *op, PyObject *d, int64_t *out)
{
    if (PyLong_Check(d)) {
        int64_t s;
        if (am_as_int64(d, "d", &s) < 0) {
            return -1;
        }
        return duration_fit((am_i128)s * AM_NS_PER_S, "the duration to add", out);
    }
    if (PyFloat_Check(d)) {
        return am_ns_of_seconds(PyFloat_AS_DOUBLE(d), "the duration to add", out);
    }
    am_state *st = (am_state *)PyType_GetModuleState(Py_TYPE(op));
    if (st == NULL) {
        return -1;
    }
    if (!PyObject_TypeCheck(d, st->timedelta_type)) {
        PyErr_Format(PyExc_TypeError, "d must be a timedelta, int or float, not %.100s",
                     Py_TYPE(d)->tp_name);
        return -1;
    }
    long long days, secs, us;
    if (duration_int_attr(d, "days", &days) < 0
        || duration_int_attr(d, "seconds", &secs) < 0
        || duration_int_attr(d, "microseconds", &us) < 0) {
        return -1;
    }
    am_i128 ns = ((am_i128)days * AM_S_PER_DAY + secs) * AM_NS_PER_S + (am_i128)us * AM_NS_PER_US;
    return duration_fit(ns, "the duration to add", out);
}

static PyObject *
Duration_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"ns", NULL};
    PyObject *ns_obj = NULL;
    int64_t ns = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicDuration", kwlist, &ns_obj)) {
        return NULL;
    }
    if (ns_obj != NULL && am_as_int64(ns_obj, "ns", &ns) < 0) {
        return NULL;
    }
    return am_word_cell_new(type, ns);
}

PyDoc_STRVAR(Duration_from_buffer_doc,
"_from_buffer($type, view, offset, /)\n--\n\n"
"Private: a duration whose word lives at `offset` of a writable memoryview\n"
"(the multi-process arena). The word is used as it is (zero = 0 ns).");

PyDoc_STRVAR(Duration_cell_bytes_doc,
"_cell_bytes($type, /)\n--\n\nPrivate: bytes of arena storage one duration needs.");

PyDoc_STRVAR(Duration_add_ns_doc,
"add_ns($self, ns, /)\n--\n\n"
"Add the int ns nanoseconds (may be negative). OverflowError when the result\n"
"leaves the int64 range; nothing is changed then.");

static PyObject *
Duration_add_ns(PyObject *op, PyObject *arg)
{
    int64_t n, prev;
    if (am_as_int64(arg, "ns", &n) < 0) {
        return NULL;
    }
    if (am_add_checked_acq_rel(DurationObject_CAST(op)->cell, n, &prev) < 0) {
        return am_overflow("add_ns()", prev, n);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Duration_add_doc,
"add($self, d, /)\n--\n\n"
"Add a timedelta (exactly), or an int or float number of seconds rounded\n"
"to the nearest nanosecond (ties to even). NaN raises ValueError; +-Inf or\n"
"an int64 overflow raises OverflowError; nothing is changed then.");

static PyObject *
Duration_add(PyObject *op, PyObject *arg)
{
    int64_t n, prev;
    if (duration_ns_of(op, arg, &n) < 0) {
        return NULL;
    }
    if (am_add_checked_acq_rel(DurationObject_CAST(op)->cell, n, &prev) < 0) {
        return am_overflow("add()", prev, n);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Duration_load_ns_doc, "load_ns($self, /)\n--\n\nThe current value in nanoseconds.");

PyDoc_STRVAR(Duration_load_doc,
"load($self, /)\n--\n\n"
"The current value as a timedelta, rounded to the nearest microsecond\n"
"(ties to even): timedelta has microsecond resolution.");

static PyObject *
Duration_load(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    int64_t ns = am_load_acquire(DurationObject_CAST(op)->cell);
    int64_t us = ns / AM_NS_PER_US;  /* floor division, then half-even rounding */
    int64_t rem = ns % AM_NS_PER_US;
    if (rem < 0) {
        rem += AM_NS_PER_US;
        us -= 1;
    }
    if (rem > AM_NS_PER_US / 2 || (rem == AM_NS_PER_US / 2 && (us & 1))) {
        us += 1;
    }
    am_state *st = (am_state *)PyType_GetModuleState(Py_TYPE(op));
    if (st == NULL) {
        return NULL;
    }
    /* |us| < 2**54: well inside timedelta's range; the constructor normalizes
     * (0, 0, us) into days/seconds/microseconds with integer arithmetic. */
    return PyObject_CallFunction((PyObject *)st->timedelta_type, "iiL", 0, 0, (long long)us);
}

PyDoc_STRVAR(Duration_seconds_doc,
"seconds($self, /)\n--\n\nThe current value in seconds, a float (correctly rounded).");

static PyObject *
Duration_seconds(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    int64_t ns = am_load_acquire(DurationObject_CAST(op)->cell);
    if (ns <= (INT64_C(1) << 53) && ns >= -(INT64_C(1) << 53)) {
        /* both operands exact doubles: one IEEE division is correctly rounded */
        return PyFloat_FromDouble((double)ns / (double)AM_NS_PER_S);
    }
    PyObject *num = PyLong_FromLongLong(ns);  /* new reference */
    if (num == NULL) {
        return NULL;
    }
    PyObject *den = PyLong_FromLongLong(AM_NS_PER_S);  /* new reference */
    if (den == NULL) {
        Py_DECREF(num);
        return NULL;
    }
    PyObject *result = PyNumber_TrueDivide(num, den);
    Py_DECREF(num);
    Py_DECREF(den);
    return result;
}

PyDoc_STRVAR(Duration_store_ns_doc,
"store_ns($self, ns, /)\n--\n\nSet the value to the int ns nanoseconds.");

static PyObject *
Duration_store_ns(PyObject *op, PyObject *arg)
{
    int64_t v;
    if (am_as_int64(arg, "ns", &v) < 0) {
        return NULL;
    }
    am_store_release(DurationObject_CAST(op)->cell, v);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Duration_compare_and_swap_ns_doc,
"compare_and_swap_ns($self, expected, new, /)\n--\n\n"
"Set the value to new ns if it equals expected ns; return whether it did.");

static PyObject *
Duration_compare_and_swap_ns(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    return am_int64_cell_cas(op, "compare_and_swap_ns", args, nargs);
}

PyDoc_STRVAR(Duration_reset_doc,
"reset($self, /)\n--\n\nSet the value to 0 and return the previous value in ns.");

static PyObject *
Duration_repr(PyObject *op)
{
    return PyUnicode_FromFormat("AtomicDuration(ns=%lld)",
                                (long long)am_load_acquire(DurationObject_CAST(op)->cell));
}

static PyMethodDef Duration_methods[] = {
    {"add_ns", Duration_add_ns, METH_O, Duration_add_ns_doc},
    {"add", Duration_add, METH_O, Duration_add_doc},
    {"load_ns", am_int64_cell_load, METH_NOARGS, Duration_load_ns_doc},
    {"load", Duration_load, METH_NOARGS, Duration_load_doc},
    {"seconds", Duration_seconds, METH_NOARGS, Duration_seconds_doc},
    {"store_ns", Duration_store_ns, METH_O, Duration_store_ns_doc},
    {"compare_and_swap_ns", AM_METHOD(Duration_compare_and_swap_ns), METH_FASTCALL,
     Duration_compare_and_swap_ns_doc},
    {"reset", am_int64_cell_reset, METH_NOARGS, Duration_reset_doc},
    {"_from_buffer", AM_METHOD(am_word_cell_from_buffer), METH_FASTCALL | METH_CLASS,
     Duration_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(am_word_cell_bytes), METH_NOARGS | METH_CLASS,
     Duration_cell_bytes_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Duration_doc,
"AtomicDuration(ns=0)\n--\n\n"
"A signed 64-bit count of nanoseconds updated with lock-free atomic operations.\n\n"
"Thread-safe (GIL and free-threaded builds) and linearizable: each method\n"
"takes effect at one atomic instruction. Values and results must fit in\n"
"int64 nanoseconds (about +-292 years): OverflowError otherwise, and a call\n"
"that raises changes nothing. ns arguments must be int (bool accepted);\n"
"add() also takes a timedelta (exact) or float seconds (nearest ns, ties to\n"
"even; NaN -> ValueError, +-Inf -> OverflowError). load() rounds to whole\n"
"microseconds (timedelta's resolution). Negative durations are allowed.\n"
"Cost: add_ns() is one C method call and one CAS on an uncontended word.");

static PyType_Slot Duration_slots[] = {
    {Py_tp_new, Duration_new},
    {Py_tp_dealloc, am_cell_dealloc},
    {Py_tp_methods, Duration_methods},
    {Py_tp_repr, Duration_repr},
    {Py_tp_doc, (void *)Duration_doc},
    {0, NULL},
};

static PyType_Spec Duration_spec = {
    .name = "atomicmetrics._core.AtomicDuration",
    .basicsize = sizeof(DurationObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Duration_slots,
};

int
am_duration_register(PyObject *module, am_state *st)
{
    PyObject *td = am_import_attr("datetime", "timedelta");  /* new reference */
    if (td == NULL) {
        return -1;
    }
    if (!PyType_Check(td)) {
        Py_DECREF(td);
        PyErr_SetString(PyExc_TypeError, "datetime.timedelta is not a type");
        return -1;
    }
    st->timedelta_type = (PyTypeObject *)td;
    return am_add_type(module, &Duration_spec, &st->duration_type);
}
