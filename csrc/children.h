/* children.h -- the layout of the registry's children (children.c), shared
 * with the exposition renderer (render.c), which reads them without Python.
 *
 * Each child is a variable-size object: its fixed fields, then `text`, its
 * label text rendered once at creation (`{a="x",b="y"}`, UTF-8, exactly
 * Py_SIZE(child) bytes, not NUL-terminated; empty without labels). Python
 * subclasses (atomicmetrics.Counter, Gauge, Histogram) add no fields, so
 * every instance has its base's layout. Cells are read through cells.h.
 */
#ifndef AM_CHILDREN_H
#define AM_CHILDREN_H

#include "module.h"

/* What a counter child's cells are (its `kinds` byte, immutable): the int
 * cell's type in AM_INT_KIND, and AM_FLOAT_ADDER when the float cell is a
 * _FloatAdder (the one a counter makes for itself is) rather than an
 * AtomicFloat. */
#define AM_INT_ATOMIC 0   /* AtomicCounter: arena cells */
#define AM_INT_ADDER 1    /* _IntAdder: in process */
#define AM_INT_STRIPED 2  /* StripedCounter */
#define AM_INT_KIND 3
#define AM_INT_STRIPES 3  /* either striped kind: read with am_striped_load */
#define AM_FLOAT_ADDER 4

typedef struct {
    PyObject_VAR_HEAD     /* ob_size: bytes of text */
    PyObject *int_cell;   /* strong; immutable: integral increments */
    am_ptr float_cell;    /* strong: fractional increments. NULL in a counter given
                             none until its first one: then set once, by CAS
                             [acq_rel]; read with acquire loads */
    uint8_t kinds;        /* immutable: AM_INT_* | AM_FLOAT_ADDER */
    char text[];
} am_counter_child;

typedef struct {
    PyObject_VAR_HEAD     /* ob_size: bytes of text */
    am_ptr cell;          /* AtomicFloat, strong: the value. Replaced by _bind
                             [release store]; read with acquire loads */
    am_ptr stamp;         /* AtomicCounter or NULL, strong: time.time_ns() of the
                             last change (multi-process "mostrecent" gauges); as cell */
    PyObject *retired;    /* NULL, or a list of the cells _bind replaced: kept alive,
                             a thread may still write into one. Written by _bind only,
                             which the family lock serializes */
    char text[];
} am_gauge_child;

typedef struct {
    PyObject_VAR_HEAD     /* ob_size: bytes of text */
    PyObject *cell;       /* AtomicHistogram or NULL (native only), strong; immutable */
    PyObject *native;     /* AtomicNativeHistogram or NULL, strong; immutable */
    char text[];
} am_histogram_child;

/* ---- shared by the three child types (children.c) ------------------------ */

/* A new instance of `type` (a child type or a subclass) with every field
 * zero and the UTF-8 of `text` (a str, or NULL for none) as its label text,
 * placed `text_offset` bytes into the object (offsetof its `text`). New
 * reference, or NULL with an exception set. */
PyObject *am_child_alloc(PyTypeObject *type, PyObject *text, size_t text_offset);

/* TypeError unless `cell` is of `type` or a subclass (the thin Python
 * subclasses add no fields) ("<what> must be ...").
 * Returns 0, or -1 with the exception set. */
int am_check_cell(PyObject *cell, PyTypeObject *type, const char *what);

/* The module state of a child type or of a Python subclass of one (only
 * the C base was made from the module's spec; 3.10 has no
 * PyType_GetModuleByDef). */
am_state *am_child_state(PyTypeObject *type);

/* A child's label text (`text`, Py_SIZE(child) bytes) as a new str. */
PyObject *am_child_text(PyObject *child, const char *text);

/* ---- exemplars (exemplar.c) --------------------------------------------- *
 *
 * A counter's or histogram's exemplar slots: a Python object set once by its
 * family before the child is shared, kept in the module state by the
 * child's address (see exemplar.c). */

/* slots.make(value, labels): the checked exemplar (new reference), or NULL
 * with an exception (TypeError when the child has no slots). */
PyObject *am_exemplar_make(PyObject *child, PyObject *value, PyObject *labels);

/* slots.keep(bucket, exemplar) after the recording succeeded.
 * Returns 0, or -1 with an exception set. */
int am_exemplar_keep(PyObject *child, Py_ssize_t bucket, PyObject *exemplar);

/* The methods `_exemplar_slots()` (the slots, or None) and
 * `_set_exemplar_slots(slots, /)` (once: ValueError after), for the method
 * table of a child type: AM_EXEMPLAR_METHODS. */
PyObject *am_exemplar_slots_method(PyObject *child, PyObject *ignored);
PyObject *am_exemplar_set_slots_method(PyObject *child, PyObject *slots);

#define AM_EXEMPLAR_METHODS \
    {"_exemplar_slots", am_exemplar_slots_method, METH_NOARGS, \
     PyDoc_STR("_exemplar_slots($self, /)\n--\n\n" \
               "Private: the exemplar slots its family gave this child, or None.")}, \
    {"_set_exemplar_slots", am_exemplar_set_slots_method, METH_O, \
     PyDoc_STR("_set_exemplar_slots($self, slots, /)\n--\n\n" \
               "Private: give the child its exemplar slots, once, before it is shared.")}

/* From a child's tp_dealloc: drop its slots, if any (an exception being
 * raised is kept). */
void am_exemplar_forget(PyObject *child);

/* ---- read by the renderer ----------------------------------------------- */

/* A counter's total as Counter.value() computes it: `whole` when `exact`
 * (no fractional amount was added), else the float `total`. Plain C. */
typedef struct {
    int exact;
    int64_t whole;
    double total;
} am_counter_reading;

void am_counter_child_read(PyObject *child, am_counter_reading *out);

/* A gauge's value. Plain C. */
double am_gauge_child_value(PyObject *child);

#endif /* AM_CHILDREN_H */
