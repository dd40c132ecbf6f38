/* bounds.c -- validation of bucket upper bounds (see bounds.h). */
#include "bounds.h"

#include <math.h>

PyObject *
am_bounds_from(PyObject *arg)
{
    PyObject *seq = PySequence_Fast(arg, "bounds must be a sequence of numbers");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *result = NULL;
    Py_ssize_t nfinite = n;
    int reuse = PyTuple_CheckExact(arg);
    double prev = 0.0;

    for (Py_ssize_t i = 0; i < n; i++) {
        double v;
        if (am_as_double(items[i], "bound", &v) < 0) {
            if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
                PyErr_Format(PyExc_ValueError, "bound %zd is too large to be a finite float", i);
            }
            goto done;
        }
        if (isnan(v)) {
            PyErr_Format(PyExc_ValueError, "bound %zd is NaN", i);
            goto done;
        }
        if (isinf(v)) {
            if (v > 0 && i == n - 1) {
                nfinite = i;  /* the implicit +Inf bucket, stated */
                reuse = 0;
                break;
            }
            PyErr_Format(PyExc_ValueError,
                         "bound %zd is infinite (only a last +Inf is allowed)", i);
            goto done;
        }
        if (i > 0 && !(v > prev)) {
            PyErr_Format(PyExc_ValueError,
                         "bounds must be strictly increasing: bound %zd (%R) <= bound %zd",
                         i, items[i], i - 1);
            goto done;
        }
        if (!PyFloat_CheckExact(items[i])) {
            reuse = 0;
        }
        prev = v;
    }
    if (nfinite == 0) {
        PyErr_SetString(PyExc_ValueError, "bounds must hold at least one finite bound");
        goto done;
    }
    if (reuse) {
        result = Py_NewRef(arg);
        goto done;
    }
    result = PyTuple_New(nfinite);
    if (result == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < nfinite; i++) {
        double v;
        (void)am_as_double(items[i], "bound", &v);  /* cannot fail: checked above */
        PyObject *f = PyFloat_FromDouble(v);
        if (f == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, i, f);
    }
done:
    Py_DECREF(seq);
    return result;
}
