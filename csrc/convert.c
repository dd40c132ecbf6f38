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

int
am_match_keywords(const char *fname, const char *const *names, Py_ssize_t n,
                  PyObject *const *kwvalues, PyObject *kwnames, PyObject **out)
{
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(kwnames); k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);  /* an exact str */
        Py_ssize_t i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(name, names[i]) != 0) {
            i++;
        }
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         fname, name);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%U'",
                         fname, name);
            return -1;
        }
        out[i] = kwvalues[k];
    }
    return 0;
}

int
am_too_many_arguments(const char *fname, Py_ssize_t n, Py_ssize_t nargs)
{
    PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)",
                 fname, n, nargs);
    return -1;
}

int
am_missing_argument(const char *fname, const char *name)
{
    PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, name);
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

int
am_ns_of_seconds(double x, const char *what, int64_t *out)
{
    if (isnan(x)) {
        PyErr_Format(PyExc_ValueError, "%s is NaN seconds", what);
        return -1;
    }
    if (isinf(x)) {
        PyErr_Format(PyExc_OverflowError, "%s is infinite seconds", what);
        return -1;
    }
    /* |x| = m * 2**e with m < 2**53, so |x| * 10**9 = m * 10**9 * 2**e and
     * m * 10**9 < 2**83 fits in 128 bits: the product is exact. */
    int exp;
    double frac = frexp(fabs(x), &exp);       /* |x| = frac * 2**exp, frac in [0.5, 1) */
    uint64_t m = (uint64_t)ldexp(frac, 53);   /* exact: frac has <= 53 significant bits */
    int e = exp - 53;
    unsigned __int128 p = (unsigned __int128)m * 1000000000u;
    unsigned __int128 limit = (unsigned __int128)1 << 63;  /* |INT64_MIN| */
    unsigned __int128 q;
    if (e >= 0) {
        if (e > 63 || p > (limit >> e)) {
            goto overflow;
        }
        q = p << e;
    }
    else if (-e >= 100) {
        q = 0;  /* p < 2**83 is below half of 2**(-e): rounds to 0 */
    }
    else {
        int s = -e;
        q = p >> s;
        unsigned __int128 rem = p - (q << s);
        unsigned __int128 half = (unsigned __int128)1 << (s - 1);
        if (rem > half || (rem == half && (q & 1))) {
            q++;  /* nearest, ties to even */
        }
    }
    if (x < 0) {
        if (q > limit) {
            goto overflow;
        }
        *out = (int64_t)(0 - (uint64_t)q);  /* q == 2**63 gives INT64_MIN, no UB */
        return 0;
    }
    if (q >= limit) {
        goto overflow;
    }
    *out = (int64_t)q;
    return 0;
overflow:
    PyErr_Format(PyExc_OverflowError,
                 "%s is out of the signed 64-bit nanosecond range", what);
    return -1;
}
