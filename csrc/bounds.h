/* bounds.h -- bucket upper bounds shared by AtomicHistogram and
 * RuleExecutionMetric: their validation (the rules of the public bounds
 * argument, stated at am_bounds_from) and the bucket search. */
#ifndef AM_BOUNDS_H
#define AM_BOUNDS_H

#include "module.h"

/* Validate a sequence of bucket upper bounds and return them as a tuple of
 * floats (new reference), or NULL with an exception set.
 *
 * Ints and floats are accepted; other items raise TypeError. The bounds must
 * be strictly increasing and finite; one trailing +Inf is accepted and
 * dropped (the +Inf bucket always exists). Empty input, no finite bound,
 * NaN, other infinities, ints too large for a double and non-increasing
 * bounds raise ValueError. When `seq` already is an exact tuple of exact
 * floats that passes, it is returned itself, so that every metric built
 * from one bounds tuple shares it. */
PyObject *am_bounds_from(PyObject *seq);

/* Bounds up to this many are searched linearly, more by bisection.
 * Measured with a C microbenchmark of this tuple-of-PyFloat layout (gcc -O2,
 * x86-64, a loaded 2-core machine, so ranges not points): for uniformly
 * random x a scan beats bisection up to n = 32 (95 vs 108 ns) and loses at
 * 64 (138 vs 100 ns); when x repeats, bisection predicts perfectly and wins
 * from n = 16. client_golang switches at 35 for Go slices. */
#define AM_BOUNDS_LINEAR_MAX 32

/* Index of the bucket of x (not NaN) under Prometheus `le` semantics: the
 * first i with x <= bounds[i], or n (the +Inf bucket). `bounds` is a tuple
 * of n floats as returned by am_bounds_from (borrowed). */
static inline Py_ssize_t
am_bounds_find(PyObject *bounds, double x)
{
    Py_ssize_t n = PyTuple_GET_SIZE(bounds);
    PyObject *const *b = &PyTuple_GET_ITEM(bounds, 0);
    if (n <= AM_BOUNDS_LINEAR_MAX) {
        for (Py_ssize_t i = 0; i < n; i++) {
            if (x <= PyFloat_AS_DOUBLE(b[i])) {
                return i;
            }
        }
        return n;
    }
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (x <= PyFloat_AS_DOUBLE(b[mid])) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    return lo;
}

#endif /* AM_BOUNDS_H */
