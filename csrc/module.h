/* module.h -- module state, the registrar of each C type, and the helpers
 * that every type file shares (argument conversion, arena storage). */
#ifndef AM_MODULE_H
#define AM_MODULE_H

#include "compat.h"
#include "atomics.h"

/* Per-module state: the heap types, so that C code can test types without
 * process-global caches (free-threading and subinterpreter safe). */
typedef struct {
    PyTypeObject *counter_type;
    PyTypeObject *float_type;
    PyTypeObject *duration_type;
    PyTypeObject *minmax_type;
    PyTypeObject *histogram_type;
    PyTypeObject *native_histogram_type;
    PyTypeObject *rule_metric_type;
    PyTypeObject *throughput_type;
    PyTypeObject *ring_type;
    PyTypeObject *striped_type;
    PyTypeObject *timedelta_type;  /* datetime.timedelta, set by am_duration_register */
    /* Python-side helpers the C types hand their results to, imported once
     * at module exec from pure-Python leaf modules (histogram.c,
     * rule_metric.c): read-only afterwards. */
    PyObject *histogram_snapshot;   /* atomicmetrics.snapshots.HistogramSnapshot */
    PyObject *histogram_snapshot_fields; /* ... its __match_args__ (field names) */
    PyObject *rule_snapshot;        /* atomicmetrics.snapshots.RuleExecutionSnapshot */
    PyObject *rule_snapshot_fields; /* ... its __match_args__ (field names) */
    PyObject *rule_timer;           /* atomicmetrics.rule_metric.RuleTimer */
    PyObject *default_duration_bounds; /* ...rule_metric.DEFAULT_DURATION_BUCKETS_NS */
    PyTypeObject *fast_lookup_type;   /* fastcall.c: _FastLookup */
    PyTypeObject *default_call_type;  /* fastcall.c: _DefaultCall */
} am_state;

am_state *am_get_state(PyObject *module);

/* Each type file defines one registrar: create the heap type from its spec
 * with PyType_FromModuleAndSpec, store it in the state, add it to the module.
 * Returns 0, or -1 with an exception set. */
int am_counter_register(PyObject *module, am_state *st);
int am_float_register(PyObject *module, am_state *st);
int am_duration_register(PyObject *module, am_state *st);
int am_minmax_register(PyObject *module, am_state *st);
int am_histogram_register(PyObject *module, am_state *st);
int am_native_histogram_register(PyObject *module, am_state *st);
int am_rule_metric_register(PyObject *module, am_state *st);
int am_throughput_register(PyObject *module, am_state *st);
int am_ring_register(PyObject *module, am_state *st);
int am_striped_register(PyObject *module, am_state *st);
int am_fastcall_register(PyObject *module, am_state *st);

/* ---- argument conversion (convert.c) ----------------------------------- */

/* Convert an int-like argument (int, bool, or anything with __index__) to
 * int64. TypeError for other types (float included), OverflowError outside
 * the int64 range; `what` names the argument in the message.
 * Returns 0, or -1 with an exception set. */
int am_as_int64(PyObject *obj, const char *what, int64_t *out);

/* Convert an int or float argument to a C double. TypeError for other types
 * (strings, None, ...); ints too large for a double raise OverflowError.
 * NaN and infinities are returned as they are: the caller decides.
 * Returns 0, or -1 with an exception set. */
int am_as_double(PyObject *obj, const char *what, double *out);

/* Seconds as a double -> the nearest int64 nanosecond, ties to even, exactly
 * (no lossy float multiply: what round(Fraction(x) * 10**9) gives in Python).
 * NaN raises ValueError; +-Inf or a result outside int64 raises
 * OverflowError; `what` names the value in the message.
 * Returns 0, or -1 with an exception set. */
int am_ns_of_seconds(double x, const char *what, int64_t *out);

/* Raise OverflowError for an operation whose int64 result would not fit.
 * Always returns NULL. */
PyObject *am_overflow(const char *op, int64_t cur, int64_t n);

/* ---- storage that the object may not own (storage.c) -------------------- *
 *
 * A cell's words are reached through `am_word *cell`. Objects made by their
 * constructor point `cell` at memory they own; `_from_buffer(view, offset,
 * ...)` instead points it into a writable, C-contiguous memoryview (an
 * mmap'd arena shared by processes) and keeps a strong reference to the
 * view, which pins the export so the mapping cannot be closed under us. */

/* Validate view/offset for `nbytes` of 8-byte-aligned words and return the
 * word pointer. `view` must be a writable C-contiguous memoryview.
 * Returns NULL with an exception set on error. Borrowed pointer: valid while
 * the caller holds a reference to `view`. */
am_word *am_words_in_view(PyObject *view, PyObject *offset, Py_ssize_t nbytes);

/* The owner to keep for words found by am_words_in_view: a new, private
 * memoryview on the same export (new reference; NULL with ValueError if
 * `view` was released). Keeping `view` itself is not enough: its holder can
 * call view.release() and then close the mmap under the cell (a crash, with
 * or without a GIL). A private view keeps the export alive until the cell
 * object dies, so mmap.close() raises BufferError instead. Call it AFTER
 * am_words_in_view: a release in between makes it fail, so success proves
 * the words stayed mapped. */
PyObject *am_pin_view(PyObject *view);

/* What every fixed-size cell type shares (counter, float, duration,
 * minmax): only cold paths live here; each type's hot paths stay in its own
 * file and read `cell` directly.
 *
 * The first members of every fixed-size cell object; the type's own
 * storage (`own`) follows them:
 *   cell  -- immutable after construction: the object's own words, or arena words
 *   owner -- NULL when cell points at own storage; else a private view
 *            pinning the words (am_pin_view) */
#define AM_CELL_HEAD \
    PyObject_HEAD \
    am_word *cell; \
    PyObject *owner;

typedef struct {
    AM_CELL_HEAD
} am_cell;

/* Body of the classmethod `_from_buffer(view, offset, /)`: an instance of
 * `type` whose `nbytes` of words live at `offset` of the writable memoryview
 * `view` (the multi-process arena), used as they are (not cleared); `owner`
 * pins the view. `type` must start with AM_CELL_HEAD.
 * Returns a new reference, or NULL with an exception set (nothing taken). */
PyObject *am_cell_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                              Py_ssize_t nbytes);

/* The classmethod `_cell_bytes()` of one-word cells: sizeof(am_word). */
PyObject *am_word_cell_bytes(PyTypeObject *type, PyObject *ignored);

/* tp_dealloc of a heap type that starts with AM_CELL_HEAD and holds no other
 * reference: drops the owner, frees the object, drops the type. */
void am_cell_dealloc(PyObject *op);

/* getattr(import_module(module), name): new reference, or NULL with an
 * exception set. For registrars that need a pure-Python leaf module. */
PyObject *am_import_attr(const char *module, const char *name);

#endif /* AM_MODULE_H */
