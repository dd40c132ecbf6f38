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
    PyObject *exemplar_slots;  /* dict: a child's address (int) -> its exemplar slots */
    PyTypeObject *rule_metric_type;
    PyTypeObject *throughput_type;
    PyTypeObject *ring_type;
    PyTypeObject *striped_type;
    PyTypeObject *int_adder_type;     /* striped.c: _IntAdder */
    PyTypeObject *float_adder_type;   /* float_adder.c: _FloatAdder */
    PyTypeObject *timedelta_type;  /* datetime.timedelta, set by am_duration_register */
    PyTypeObject *fast_lookup_type;   /* fastcall.c: _FastLookup */
    PyTypeObject *default_call_type;  /* fastcall.c: _DefaultCall */
    PyTypeObject *counter_child_type;    /* counter_child.c: Counter */
    PyTypeObject *gauge_child_type;      /* gauge_child.c: Gauge */
    PyTypeObject *histogram_child_type;  /* histogram_child.c: Histogram */
} am_state;

am_state *am_get_state(PyObject *module);

/* Each type file defines one registrar: create the heap type from its spec
 * (am_add_type), store it in the state, add it to the module.
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
int am_null_sink_register(PyObject *module, am_state *st);
int am_striped_register(PyObject *module, am_state *st);
int am_float_adder_register(PyObject *module, am_state *st);
int am_lifetime_register(PyObject *module, am_state *st);
int am_fastcall_register(PyObject *module, am_state *st);
int am_remap_register(PyObject *module, am_state *st);
int am_counter_child_register(PyObject *module, am_state *st);
int am_gauge_child_register(PyObject *module, am_state *st);
int am_histogram_child_register(PyObject *module, am_state *st);
int am_render_register(PyObject *module, am_state *st);

/* The body of a registrar: create the heap type of `spec` for `module` and
 * add it to the module; *out (when not NULL) receives a strong reference
 * for the state, even when adding fails (m_clear drops it then).
 * Returns 0, or -1 with an exception set. */
int am_add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **out);

/* tp_dealloc of a GC heap type whose tp_clear drops every reference it
 * holds: untracks, clears, frees the object, drops the type. */
void am_gc_dealloc(PyObject *op);

/* Make `op` -- an object this thread just created, not yet reachable by
 * other threads -- cost no reference-count traffic when many threads load
 * it (lifetime.c: immortal on 3.13t within a per-process budget, deferred
 * on 3.14t+, nothing on GIL builds). Returns 1 when it is so now, else 0;
 * never raises. For C code that creates such objects (children tables). */
int am_pin(PyObject *op);

/* ---- Python subclasses of C types (module.c) ----------------------------- *
 *
 * CPython's specialized call of a C method (CALL_METHOD_DESCRIPTOR_* in
 * 3.11-3.13) requires the exact type the method descriptor was made for:
 * `obj.method(x)` on an instance of a Python subclass falls back to the
 * generic call, ~6 ns more per call (measured on 3.11 with
 * AtomicHistogram.observe). AM_INIT_SUBCLASS, in the method table of a C
 * type meant to be subclassed, gives every subclass its own descriptors of
 * the type's methods (same PyMethodDef, made for the subclass), so the
 * thin Python subclasses keep the C type's call speed. A method the
 * subclass (or a class between) overrides is left alone. */
PyObject *am_init_subclass(PyObject *cls, PyTypeObject *defining_class, PyObject *const *args,
                           Py_ssize_t nargs, PyObject *kwnames);

#define AM_INIT_SUBCLASS \
    {"__init_subclass__", AM_METHOD(am_init_subclass), \
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS | METH_CLASS, \
     PyDoc_STR("__init_subclass__($type, /)\n--\n\n" \
               "Give the new subclass its own descriptors of this type's C methods.")}

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

/* ---- arguments of hand-written METH_FASTCALL | METH_KEYWORDS methods ----
 *
 * For methods whose parameters are all positional-or-keyword, named by the
 * ASCII strings `names` (`n` of them), the first `required` of which must
 * be given: out[i] receives the argument given for names[i] (borrowed), or
 * NULL when it was not given. TypeError, worded like CPython's own, for
 * more than n positional arguments, a missing required argument, an
 * unknown keyword or a parameter given twice; `fname` names the method in
 * the messages. Returns 0, or -1 with an exception set.
 *
 * Inline: a call with positional arguments only (the hot one) costs a few
 * compares; keywords are matched out of line (convert.c), by name with
 * PyUnicode_CompareWithASCIIString. */
int am_match_keywords(const char *fname, const char *const *names, Py_ssize_t n,
                      PyObject *const *kwvalues, PyObject *kwnames, PyObject **out);
int am_too_many_arguments(const char *fname, Py_ssize_t n, Py_ssize_t nargs);
int am_missing_argument(const char *fname, const char *name);

static inline int
am_parse_fastcall(const char *fname, const char *const *names, Py_ssize_t n,
                  Py_ssize_t required, PyObject *const *args, Py_ssize_t nargs,
                  PyObject *kwnames, PyObject **out)
{
    if (nargs > n) {
        return am_too_many_arguments(fname, n, nargs);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = i < nargs ? args[i] : NULL;
    }
    if (kwnames != NULL && am_match_keywords(fname, names, n, args + nargs, kwnames, out) < 0) {
        return -1;
    }
    for (Py_ssize_t i = nargs; i < required; i++) {
        if (out[i] == NULL) {
            return am_missing_argument(fname, names[i]);
        }
    }
    return 0;
}

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

/* The words of a cell placed at `offset` of `view`, and their owner.
 * Validates view/offset for `nbytes` of 8-byte-aligned words (`view` must
 * be a writable C-contiguous memoryview), then pins the words: *owner
 * receives a new, private memoryview on the same export (new reference).
 * Keeping `view` itself is not enough: its holder can call view.release()
 * and then close the mmap under the cell (a crash, with or without a GIL).
 * A private view keeps the export alive until the cell object dies, so
 * mmap.close() raises BufferError instead. The pin is taken after the
 * checks, so a release in between makes it fail: success proves the words
 * stayed mapped. Returns the words (valid while *owner lives), or NULL
 * with an exception set and *owner NULL. */
am_word *am_view_words(PyObject *view, PyObject *offset, Py_ssize_t nbytes, PyObject **owner);

/* What every fixed-size cell type shares (counter, float, duration,
 * minmax): only cold paths live here; each type's hot paths stay in its own
 * file and read `cell` directly.
 *
 * The first members of every fixed-size cell object; the type's own
 * storage (`own`) follows them:
 *   cell  -- immutable after construction: the object's own words, or arena words
 *   owner -- NULL when cell points at own storage; else a private view
 *            pinning the words (am_view_words) */
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

/* The object of a one-word cell (AtomicCounter, AtomicFloat,
 * AtomicDuration): the head, then the word itself for objects that own
 * their storage. */
typedef struct {
    AM_CELL_HEAD
    am_word own;
} am_word_cell;

/* A new one-word cell of `type` (laid out as am_word_cell) that owns its
 * word, set to `word` (release). New reference, or NULL with an exception
 * set. */
PyObject *am_word_cell_new(PyTypeObject *type, int64_t word);

/* The classmethods `_from_buffer(view, offset, /)` (its word used as it
 * is, not cleared) and `_cell_bytes()` (sizeof(am_word)) of one-word cells. */
PyObject *am_word_cell_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs);
PyObject *am_word_cell_bytes(PyTypeObject *type, PyObject *ignored);

/* Methods the int64 one-word cells (AtomicCounter, AtomicDuration) share:
 * load() / load_ns() (acquire), reset() (exchange with 0, returns the old
 * value), and the body of compare_and_swap(expected, new, /) (acq_rel CAS
 * of two int64 arguments; `fname` names the method in messages). */
PyObject *am_int64_cell_load(PyObject *op, PyObject *ignored);
PyObject *am_int64_cell_reset(PyObject *op, PyObject *ignored);
PyObject *am_int64_cell_cas(PyObject *op, const char *fname, PyObject *const *args,
                            Py_ssize_t nargs);

/* tp_dealloc of a heap type that starts with AM_CELL_HEAD and holds no other
 * reference: drops the owner, frees the object, drops the type. */
void am_cell_dealloc(PyObject *op);

/* getattr(import_module(module), name): new reference, or NULL with an
 * exception set. For registrars that need a standard-library object. */
static inline PyObject *
am_import_attr(const char *module, const char *name)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (mod == NULL) {
        return NULL;
    }
    PyObject *attr = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return attr;
}

#endif /* AM_MODULE_H */
