/* cells.h -- reading a cell from C code outside its own file (the C
 * exposition renderer, native histograms): one function per cell kind, so
 * that no caller assumes one word per value. Every reader here is safe
 * while other threads (and, for arena cells, other processes) record;
 * each says what it returns meanwhile. Types are checked by the caller
 * (am_state holds them); the functions take the object as a PyObject *.
 *
 * Layouts are documented beside each cell's struct (counter.c, float.c,
 * striped.c, float_adder.c, histogram.c, rule_metric.c, hotcold.h) and the
 * stripe machinery in stripes.h.
 */
#ifndef AM_CELLS_H
#define AM_CELLS_H

#include "module.h"

/* ---- integral counters ---------------------------------------------------
 * AtomicCounter: one word, a linearizable load.
 * StripedCounter and _IntAdder: base + every stripe; exact when idle, and
 * between the values at the start and end of the call when concurrent adds
 * have one sign. Never outside int64. */
int64_t am_atomic_counter_load(PyObject *op);
int64_t am_striped_load(PyObject *op);

/* ---- float sums ------------------------------------------------------------
 * AtomicFloat: one word. _FloatAdder: base + every stripe, monotonic for
 * adds of one sign (float_adder.c). */
double am_atomic_float_load(PyObject *op);
double am_float_adder_load(PyObject *op);

/* ---- histograms and rule metrics (hot/cold cells, possibly striped) --------
 * One consistent reading of the whole metric (base cell and every stripe,
 * hotcold.h): count == sum(buckets), and for a rule metric errors <= count
 * and min <= average <= max. Takes each cell's reader lock in turn (never
 * held across Python code); never blocks a writer. `buckets` must have
 * room for am_*_nbuckets(op) counts (not cumulative, +Inf last); they are
 * overwritten. Cannot fail. */
Py_ssize_t am_histogram_nbuckets(PyObject *op);
void am_histogram_read(PyObject *op, int64_t *buckets, int64_t *count, double *sum);

typedef struct {
    int64_t count, errors, total;  /* errors clamped to count */
    double average;                /* clamped into [min, max]; 0.0 when empty */
    int64_t min, max;              /* 0 when count == 0 (the getters say None) */
} am_rule_reading;

Py_ssize_t am_rule_nbuckets(PyObject *op);
void am_rule_read(PyObject *op, int64_t *buckets, am_rule_reading *out);

/* The value of a registry counter's integral part (AtomicCounter for arena
 * cells, _IntAdder in process, StripedCounter) into *out: 0, or -1 with a
 * TypeError set for any other object. */
static inline int
am_int_cell_load(am_state *st, PyObject *cell, int64_t *out)
{
    PyTypeObject *tp = Py_TYPE(cell);
    if (tp == st->int_adder_type || tp == st->striped_type) {
        *out = am_striped_load(cell);
        return 0;
    }
    if (tp == st->counter_type) {
        *out = am_atomic_counter_load(cell);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "not an integral counter cell: %.100s", tp->tp_name);
    return -1;
}

/* The value of a registry counter's fractional part (AtomicFloat for arena
 * cells, _FloatAdder in process) into *out: 0, or -1 with a TypeError. */
static inline int
am_float_cell_load(am_state *st, PyObject *cell, double *out)
{
    PyTypeObject *tp = Py_TYPE(cell);
    if (tp == st->float_adder_type) {
        *out = am_float_adder_load(cell);
        return 0;
    }
    if (tp == st->float_type) {
        *out = am_atomic_float_load(cell);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "not a float counter cell: %.100s", tp->tp_name);
    return -1;
}

#endif /* AM_CELLS_H */
