/* cells.h -- the internal C API of the cell types, for C code outside a
 * cell's own file: the registry's children (children.c) record through it
 * and the exposition renderer (render.c) reads through it.
 *
 * Such code reaches a cell ONLY through these functions, never through its
 * words: how a cell keeps its value (one word, stripes grown under
 * contention, words in a shared arena) is its own file's business, and a
 * change of layout changes the functions here, not their callers.
 *
 * `cell` is always an instance of the named type (callers check; these
 * functions do not). Functions marked "plain C" call no Python API: they
 * may run with the thread state detached (the GIL released), which the
 * renderer does on large registries. Reads are what the type's own getters
 * return (acquire loads; a histogram read is one consistent snapshot).
 */
#ifndef AM_CELLS_H
#define AM_CELLS_H

#include "module.h"

/* ---- AtomicCounter (counter.c) ------------------------------------------ */

/* The value. Plain C. */
int64_t am_counter_value(PyObject *cell);

/* Add n unless the int64 result would overflow. Returns 0, or -1 with
 * nothing changed and *prev the value the check saw (for am_overflow).
 * Plain C; linearizable like AtomicCounter.add. */
int am_counter_add(PyObject *cell, int64_t n, int64_t *prev);

/* Set the value. Plain C. */
void am_counter_set(PyObject *cell, int64_t v);

/* ---- AtomicFloat (float.c) ---------------------------------------------- */

/* The value. Plain C. */
double am_float_value(PyObject *cell);

/* Add x (IEEE-754 addition). Plain C. */
void am_float_add(PyObject *cell, double x);

/* Set the value. Plain C. */
void am_float_set(PyObject *cell, double x);

/* ---- AtomicHistogram (histogram.c) --------------------------------------- */

/* The number of buckets, the +Inf one included (len(bounds()) + 1). */
Py_ssize_t am_histogram_nbuckets(PyObject *cell);

/* One consistent snapshot, as AtomicHistogram.snapshot() takes it, into C
 * memory: buckets[i] receives bucket i's count (not cumulative; room for
 * am_histogram_nbuckets words), *count their sum; returns the sum of the
 * same observations. Plain C (it may wait, bounded, for a concurrent
 * reader of the same cell). */
double am_histogram_read(PyObject *cell, int64_t *buckets, int64_t *count);

/* AtomicHistogram.observe(x) and ._snapshot(): the methods themselves. */
PyObject *am_histogram_observe(PyObject *cell, PyObject *x);
PyObject *am_histogram_snapshot(PyObject *cell);

#endif /* AM_CELLS_H */
