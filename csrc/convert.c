/* convert.c -- argument conversion shared by every type: the contract's
 * TypeError / OverflowError rules live here once. */
#include "module.h"

#include <math.h>

int
am_as_int64(PyObject *obj, const char *what, int64_t *out)
{
    int overflow = 0;
    long long v;

    if (PyLong_Check(obj)) {
        v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    }
    else {
        if (PyFloat_Check(obj) || !PyIndex_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s",
                         what, Py_TYPE(obj)->tp_name);
            return -1;
        }
        PyObject *index = PyNumber_Index(obj);  /* new reference */
        if (index == NULL) {
            return -1;
        }
        v = PyLong_AsLongLongAndOverflow(index, &overflow);
        Py_DECREF(index);
    }
    if (overflow) {
        PyErr_Format(PyExc_OverflowError,
                     "%s is out of the signed 64-bit range [-2**63, 2**63-1]", what);
        return -1;
    }
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int
am_as_double(PyObject *obj, const char *what, double *out)
{
    if (PyFloat_CheckExact(obj)) {
        *out = PyFloat_AS_DOUBLE(obj);
        return 0;
    }
    if (PyLong_Check(obj)) {
        double d = PyLong_AsDouble(obj);
        if (d == -1.0 && PyErr_Occurred()) {
            return -1;  /* OverflowError: int too large to convert to float */
        }
        *out = d;
        return 0;
    }
    if (PyFloat_Check(obj)) {
        *out = PyFloat_AS_DOUBLE(obj);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be an int or a float, not %.100s",
                 what, Py_TYPE(obj)->tp_name);
    return -1;
}

PyObject *
am_overflow(const char *op, int64_t cur, int64_t n)
{
    PyErr_Format(PyExc_OverflowError,
                 "%s: %lld + %lld is out of the signed 64-bit range; nothing was changed",
                 op, (long long)cur, (long long)n);
    return NULL;
}
