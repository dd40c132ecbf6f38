/* cells.h -- a cell from C code outside its own file (the registry's
 * children, the C exposition renderer, native histograms): one function per
 * cell kind and operation, so that no caller assumes one word per value. Every reader here is safe
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

/* ---- RuleExecutionMetric (rule_metric.c; AtomicHistogram: below) ----------
 * One consistent reading of the whole metric (base cell and every stripe,
 * hotcold.h): count == sum(buckets), errors <= count, min <= average <=
 * max. Takes each cell's reader lock in turn (never held across Python
 * code); never blocks a writer. `buckets` must have room for
 * am_rule_nbuckets(op) counts (not cumulative, +Inf last); they are
 * overwritten. Cannot fail. */
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

/* ---- updates, for the registry's children (counter_child.c, gauge_child.c) --
 * Each is the cell's own method minus argument parsing: same atomicity, same
 * errors. The int64 ones return 0, or -1 with the cell's own OverflowError
 * set (nothing changed); `what` names the operation in it ("inc()"). */
int am_atomic_counter_add(PyObject *op, int64_t n, const char *what);
void am_atomic_counter_set(PyObject *op, int64_t v);
/* StripedCounter (wide = 0) and _IntAdder (wide = 1). */
int am_striped_add(PyObject *op, int64_t n, int wide, const char *what);
void am_atomic_float_add(PyObject *op, double x);
void am_atomic_float_set(PyObject *op, double x);
void am_float_adder_add(PyObject *op, double x);

/* ---- AtomicHistogram (histogram.c) --------------------------------------
 * Plain C readings for the renderer; the methods themselves for children. */

/* The number of buckets, the +Inf one included (len(bounds()) + 1). */
Py_ssize_t am_histogram_nbuckets(PyObject *op);

/* One consistent snapshot, as AtomicHistogram._snapshot() takes it (the cell
 * and every stripe), into C memory: buckets[i] receives bucket i's count
 * (not cumulative; am_histogram_nbuckets words), *count their sum; returns
 * the sum of the same observations. No Python API: callable with the thread
 * state detached (it may wait, bounded, for another reader of the cell). */
double am_histogram_read(PyObject *op, int64_t *buckets, int64_t *count);

/* AtomicHistogram.observe(x) and AtomicNativeHistogram.observe(x). */
PyObject *am_histogram_observe(PyObject *op, PyObject *x);
PyObject *am_native_histogram_observe(PyObject *op, PyObject *x);

#endif /* AM_CELLS_H */
