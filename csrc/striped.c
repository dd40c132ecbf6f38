/* striped.c -- StripedCounter and _IntAdder: a signed 64-bit count spread
 * over cache-line cells, summed on read (Java's LongAdder idea; the stripe
 * machinery is stripes.h).
 *
 * Layout. `base` is one word inside the object. `table` (am_ptr) is NULL
 * until the first CAS on `base` fails (a contended update); that thread
 * then publishes a table of stripes (stripes.h), one word each, each alone
 * on its own 64-byte cache line. From then on an update adds to the stripe
 * its thread's probe picks; a thread whose CAS on a stripe fails re-hashes
 * to another one, so threads that collide spread out. On a GIL build no CAS
 * ever fails, so the table is never allocated and the object is one word.
 *
 * Never wraps -- the bound is per cell, so any mix of cells read at
 * different instants sums inside int64 (load() and reset() need no
 * snapshot) while a table exists:
 *   - every stripe stays in [-L, L] with L = AM_GUARD / nstripes, so the
 *     stripes together stay in [-AM_GUARD, AM_GUARD];
 *   - `base` stays in [INT64_MIN + AM_GUARD, INT64_MAX - AM_GUARD] ("the
 *     band");
 *   - hence base + sum(stripes) is always inside int64.
 * An add that would push its stripe past L goes to `base` instead; an add
 * that would push `base` out of the band raises OverflowError and changes
 * nothing.
 *
 * The two types differ only in what an unstriped cell may hold:
 *   StripedCounter  base stays in the band always (its documented contract:
 *                   the constructor accepts the band only, and an add may
 *                   raise early in the last 2**56 before a limit).
 *   _IntAdder       the registry Counter's integral part: exactly
 *                   AtomicCounter's range while it is not striped. An add
 *                   whose result leaves the band first turns the cell
 *                   "wide" -- table := AM_STRIPES_NEVER by CAS from NULL --
 *                   and then base may use all of int64, checked exactly,
 *                   forever; a cell whose table exists refuses to go wide
 *                   (that add raises early, as StripedCounter's would). The
 *                   CAS on the table word decides between the two for good,
 *                   so base leaves the band only in a cell that can never
 *                   get a table. A cell constructed outside the band is wide
 *                   from the start.
 *
 * Orders: every update is an acq_rel CAS on one cell; load() reads each cell
 * with acquire; reset() exchanges each cell with 0 (acq_rel), so every update
 * is counted exactly once: by this reset's result or by the counter after it.
 * load() and reset() are not linearizable while updates run (they visit the
 * cells one by one); when every concurrent update adds with the same sign,
 * load() returns a value between the counter's value at the start of the
 * call and at its end.
 */
#include "cells.h"
#include "stripes.h"

/* Half-width of the guard band: 2**55 (about 3.6e16). Per-stripe limit is
 * AM_GUARD / nstripes, at least 2**48 (2.8e14), far beyond what one thread
 * adds between two resets at ~3e7 calls/s (100+ days of inc()). */
#define AM_GUARD ((int64_t)1 << 55)
#define AM_BASE_MIN (INT64_MIN + AM_GUARD)
#define AM_BASE_MAX (INT64_MAX - AM_GUARD)

typedef struct {
    PyObject_HEAD
    am_ptr table; /* NULL, AM_STRIPES_NEVER (a wide _IntAdder), or the table; acquire/release */
    am_word base; /* acq_rel CAS; in the band unless the table is AM_STRIPES_NEVER */
} StripedObject;

#define StripedObject_CAST(op) ((StripedObject *)(op))

static inline int
in_band(int64_t v)
{
    return v >= AM_BASE_MIN && v <= AM_BASE_MAX;
}

/* cur + n without leaving int64? */
static inline int
fits(int64_t cur, int64_t n)
{
    return !((n > 0 && cur > INT64_MAX - n) || (n < 0 && cur < INT64_MIN - n));
}

/* CAS loop on `base`, keeping it in the band (a striped or strict cell).
 * Returns 0, or -1 (nothing changed; *seen = base) if n does not fit. */
static int
base_add_banded(StripedObject *self, int64_t n, int64_t *seen)
{
    int64_t cur = am_load_relaxed(&self->base);
    for (;;) {
        if ((n > 0 && cur > AM_BASE_MAX - n) || (n < 0 && cur < AM_BASE_MIN - n)) {
            *seen = cur;
            return -1;
        }
        if (am_cas_weak_acq_rel(&self->base, &cur, cur + n)) {
            return 0;
        }
    }
}

/* Add n to a stripe of `t` (re-hashing on collisions), or to `base` when
 * n does not fit in a stripe. Returns 0, or -1 (nothing changed) on overflow. */
static int
stripes_add(StripedObject *self, am_stripes *t, int64_t n, int64_t *seen)
{
    int64_t limit = t->limit;
    if (n >= -limit && n <= limit) {
        uint32_t p = am_probe();
        for (;;) {
            am_word *cell = am_stripe(t, p & t->mask);
            int64_t cur = am_load_relaxed(cell);
            int64_t next = cur + n;  /* |cur|, |n| <= limit <= 2**53: no overflow */
            if (next < -limit || next > limit) {
                break;  /* this stripe is full: the excess goes to base */
            }
            if (am_cas_acq_rel(cell, &cur, next)) {
                return 0;
            }
            p = am_probe_next(p);  /* collided with another thread: move */
        }
    }
    return base_add_banded(self, n, seen);
}

static am_stripes *
striped_grow(StripedObject *self)
{
    return am_stripes_grow(&self->table, 1, AM_GUARD / am_stripes_for_this_machine(), NULL);
}

/* Add n somewhere. `wide` (a compile-time constant): an _IntAdder, which may
 * leave the band while it has no table. Returns 0, or -1 (nothing changed)
 * on overflow. */
static inline int
striped_add(StripedObject *self, int64_t n, int64_t *seen, const int wide)
{
    void *tp = am_ptr_load_acquire(&self->table);
    if (tp == NULL) {
        int64_t cur = am_load_relaxed(&self->base);
        if (!fits(cur, n)) {
            *seen = cur;
            return -1;
        }
        if (!in_band(cur + n)) {
            if (!wide) {
                *seen = cur;
                return -1;
            }
            /* Go wide for good, unless a table was published meanwhile. */
            if (!am_ptr_cas_acq_rel(&self->table, &tp, AM_STRIPES_NEVER)
                && tp != AM_STRIPES_NEVER) {
                return stripes_add(self, tp, n, seen);  /* striped: banded, may raise */
            }
            tp = AM_STRIPES_NEVER;
        }
        else if (am_cas_acq_rel(&self->base, &cur, cur + n)) {
            return 0;  /* uncontended: the common case, and every case with a GIL */
        }
        else {
            am_stripes *t = striped_grow(self);  /* contended: spread out from now on */
            if (t != NULL) {
                return stripes_add(self, t, n, seen);
            }
            tp = am_ptr_load_acquire(&self->table);  /* out of memory, or went wide */
            if (tp == NULL) {
                return base_add_banded(self, n, seen);
            }
        }
    }
    if (tp == AM_STRIPES_NEVER) {
        return am_add_checked_acq_rel(&self->base, n, seen) < 0 ? -1 : 0;  /* wide: all of int64 */
    }
    return stripes_add(self, tp, n, seen);
}

int64_t
am_striped_load(PyObject *op)
{
    StripedObject *self = StripedObject_CAST(op);
    int64_t sum = am_load_acquire(&self->base);
    am_stripes *t = am_stripes_get(&self->table);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            sum += am_load_acquire(am_stripe(t, i));
        }
    }
    return sum;
}

static PyObject *
striped_overflow(PyObject *op, const char *op_name, int64_t base, int64_t n)
{
    PyErr_Format(PyExc_OverflowError,
                 "%s: adding %lld would take %s too close to the signed 64-bit limits "
                 "(its cells must sum inside int64; base cell is %lld); nothing was changed",
                 op_name, (long long)n, Py_TYPE(op)->tp_name, (long long)base);
    return NULL;
}

int
am_striped_add(PyObject *op, int64_t n, int wide, const char *what)
{
    int64_t seen;
    int rc = wide ? striped_add(StripedObject_CAST(op), n, &seen, 1)
                  : striped_add(StripedObject_CAST(op), n, &seen, 0);
    if (rc < 0) {
        (void)striped_overflow(op, what, seen, n);
    }
    return rc;
}

/* `value` as the first value of a new cell: 0, or -1 with an exception set.
 * A StripedCounter refuses values outside the band; an _IntAdder starts
 * wide with one. */
static PyObject *
striped_make(PyTypeObject *type, PyObject *args, PyObject *kwds, const char *fmt, int wide)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *value_obj = NULL;
    int64_t value = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &value_obj)) {
        return NULL;
    }
    if (value_obj != NULL && am_as_int64(value_obj, "value", &value) < 0) {
        return NULL;
    }
    if (!wide && !in_band(value)) {
        PyErr_Format(PyExc_OverflowError,
                     "StripedCounter value must be in [-2**63 + 2**55, 2**63 - 1 - 2**55] "
                     "(its cells must sum inside int64); got %lld",
                     (long long)value);
        return NULL;
    }
    StripedObject *self = (StripedObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    /* tp_alloc zeroed the object: table is NULL */
    if (!in_band(value)) {
        atomic_store_explicit(&self->table, AM_STRIPES_NEVER, memory_order_release);
    }
    am_store_release(&self->base, value);
    return (PyObject *)self;
}

static PyObject *
Striped_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    return striped_make(type, args, kwds, "|O:StripedCounter", 0);
}

static PyObject *
IntAdder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    return striped_make(type, args, kwds, "|O:_IntAdder", 1);
}

static void
Striped_dealloc(PyObject *op)
{
    StripedObject *self = StripedObject_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    am_stripes_free(&self->table);
    tp->tp_free(op);
    Py_DECREF(tp);
}

/* inc/dec/add of both types: `wide` is a constant in each, so the compiler
 * specialises striped_add for it. */
#define STRIPED_UPDATES(prefix, wide)                                            \
    static PyObject *prefix##_inc(PyObject *op, PyObject *Py_UNUSED(ignored))   \
    {                                                                           \
        int64_t seen;                                                           \
        if (striped_add(StripedObject_CAST(op), 1, &seen, wide) < 0) {          \
            return striped_overflow(op, "inc()", seen, 1);                      \
        }                                                                       \
        Py_RETURN_NONE;                                                         \
    }                                                                           \
    static PyObject *prefix##_dec(PyObject *op, PyObject *Py_UNUSED(ignored))   \
    {                                                                           \
        int64_t seen;                                                           \
        if (striped_add(StripedObject_CAST(op), -1, &seen, wide) < 0) {         \
            return striped_overflow(op, "dec()", seen, -1);                     \
        }                                                                       \
        Py_RETURN_NONE;                                                         \
    }                                                                           \
    static PyObject *prefix##_add(PyObject *op, PyObject *arg)                  \
    {                                                                           \
        int64_t n, seen;                                                        \
        if (am_as_int64(arg, "n", &n) < 0) {                                    \
            return NULL;                                                        \
        }                                                                       \
        if (striped_add(StripedObject_CAST(op), n, &seen, wide) < 0) {          \
            return striped_overflow(op, "add()", seen, n);                      \
        }                                                                       \
        Py_RETURN_NONE;                                                         \
    }

STRIPED_UPDATES(Striped, 0)
STRIPED_UPDATES(IntAdder, 1)

PyDoc_STRVAR(Striped_inc_doc,
"inc($self, /)\n--\n\nAdd 1. OverflowError near 2**63-1 (the value never wraps).");

PyDoc_STRVAR(Striped_dec_doc,
"dec($self, /)\n--\n\nSubtract 1. OverflowError near -2**63 (the value never wraps).");

PyDoc_STRVAR(Striped_add_doc,
"add($self, n, /)\n--\n\nAdd the int n (may be negative). OverflowError when the\n"
"result would leave int64 (or come within 2**56 of its limits, see the class);\n"
"nothing is changed then.");

PyDoc_STRVAR(Striped_load_doc,
"load($self, /)\n--\n\nThe sum of the cells: exact when no update runs meanwhile.");

static PyObject *
Striped_load(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(am_striped_load(op));
}

PyDoc_STRVAR(Striped_reset_doc,
"reset($self, /)\n--\n\nSet every cell to 0 and return what they held. An update\n"
"running meanwhile is counted once: in the result or in the counter after it.");

static PyObject *
Striped_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    StripedObject *self = StripedObject_CAST(op);
    int64_t sum = am_exchange_acq_rel(&self->base, 0);
    am_stripes *t = am_stripes_get(&self->table);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            sum += am_exchange_acq_rel(am_stripe(t, i), 0);
        }
    }
    return PyLong_FromLongLong(sum);
}

PyDoc_STRVAR(Striped_spread_doc,
"_spread($self, /)\n--\n\n"
"Private test seam: allocate the stripe table now (the hot path does it on\n"
"the first contended update) and return the number of stripes (0 when the\n"
"cell can never stripe: a wide _IntAdder).");

static PyObject *
Striped_spread(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    StripedObject *self = StripedObject_CAST(op);
    am_stripes *t = striped_grow(self);
    if (t == NULL) {
        if (am_ptr_load_acquire(&self->table) == AM_STRIPES_NEVER) {
            return PyLong_FromLong(0);
        }
        return PyErr_NoMemory();
    }
    return PyLong_FromUnsignedLong((unsigned long)am_stripes_count(t));
}

PyDoc_STRVAR(Striped_cells_doc,
"_cells($self, /)\n--\n\n"
"Private test seam: [base, stripe 0, stripe 1, ...] as read now (only base\n"
"while the table is not allocated).");

static PyObject *
Striped_cells(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    StripedObject *self = StripedObject_CAST(op);
    am_stripes *t = am_stripes_get(&self->table);
    Py_ssize_t n = t == NULL ? 0 : (Py_ssize_t)am_stripes_count(t);
    PyObject *list = PyList_New(n + 1);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        am_word *w = i == 0 ? &self->base : am_stripe(t, (uint32_t)(i - 1));
        PyObject *v = PyLong_FromLongLong(am_load_acquire(w));
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

PyDoc_STRVAR(Striped_sizeof_doc,
"__sizeof__($self, /)\n--\n\nSize in bytes: the object and its stripe table, if any.");

static PyObject *
Striped_sizeof(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    StripedObject *self = StripedObject_CAST(op);
    return PyLong_FromSsize_t(Py_TYPE(op)->tp_basicsize + am_stripes_bytes(&self->table));
}

static PyObject *
Striped_int(PyObject *op)
{
    return PyLong_FromLongLong(am_striped_load(op));
}

static PyObject *
Striped_repr(PyObject *op)
{
    const char *name = strrchr(Py_TYPE(op)->tp_name, '.');  /* "atomicmetrics._core.X" */
    return PyUnicode_FromFormat("%s(%lld)", name + 1, (long long)am_striped_load(op));
}

#define STRIPED_METHODS(prefix)                                                          \
    {"inc", prefix##_inc, METH_NOARGS, Striped_inc_doc},                                 \
    {"dec", prefix##_dec, METH_NOARGS, Striped_dec_doc},                                 \
    {"add", prefix##_add, METH_O, Striped_add_doc},                                      \
    {"load", Striped_load, METH_NOARGS, Striped_load_doc},                               \
    {"reset", Striped_reset, METH_NOARGS, Striped_reset_doc},                            \
    {"_spread", Striped_spread, METH_NOARGS, Striped_spread_doc},                        \
    {"_cells", Striped_cells, METH_NOARGS, Striped_cells_doc},                           \
    {"__sizeof__", Striped_sizeof, METH_NOARGS, Striped_sizeof_doc},                     \
    {NULL, NULL, 0, NULL}

static PyMethodDef Striped_methods[] = {STRIPED_METHODS(Striped)};
static PyMethodDef IntAdder_methods[] = {STRIPED_METHODS(IntAdder)};

PyDoc_STRVAR(Striped_doc,
"StripedCounter(value=0)\n--\n\n"
"A signed 64-bit counter spread over per-thread cache-line cells, summed on\n"
"read: for counters that many threads update at once (free-threaded builds).\n\n"
"Methods: inc(), dec(), add(n), load(), reset(), int(c), repr(c) -- the\n"
"matching subset of AtomicCounter, with the same results as MutexCounter.\n"
"Thread-safe on GIL and free-threaded builds; no update is ever lost.\n"
"Updates are lock-free and linearizable; load() and reset() visit the cells\n"
"one by one, so while updates run they are exact only up to those updates\n"
"(load() is between the values at its start and end when all concurrent\n"
"adds have one sign). The value never wraps: an add whose result leaves\n"
"int64 raises OverflowError, and so may one whose result comes within 2**56\n"
"of either limit (the cells must sum inside int64 whatever their mix); the\n"
"constructor accepts [-2**63 + 2**55, 2**63 - 1 - 2**55]. Nothing changes on\n"
"a call that raises. TypeError for non-int arguments (bool accepted).\n"
"Cost: one C call and one uncontended CAS; the cells (64 bytes each, twice\n"
"the CPU count, 4..128) are allocated at the first contended update; load()\n"
"reads every cell. Process-local: no multi-process arena form.");

static PyType_Slot Striped_slots[] = {
    {Py_tp_new, Striped_new},
    {Py_tp_dealloc, Striped_dealloc},
    {Py_tp_methods, Striped_methods},
    {Py_tp_repr, Striped_repr},
    {Py_nb_int, Striped_int},
    {Py_nb_index, Striped_int},
    {Py_tp_doc, (void *)Striped_doc},
    {0, NULL},
};

static PyType_Spec Striped_spec = {
    .name = "atomicmetrics._core.StripedCounter",
    .basicsize = sizeof(StripedObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Striped_slots,
};

PyDoc_STRVAR(IntAdder_doc,
"_IntAdder(value=0)\n--\n\n"
"Private: the integral part of the registry's Counter. StripedCounter's\n"
"methods and cells, with AtomicCounter's range while no update has\n"
"contended: an unstriped cell holds any int64 and raises OverflowError\n"
"exactly when a result leaves int64. Once contention has spread it over\n"
"stripes, an add may raise early within 2**56 of a limit (StripedCounter's\n"
"rule); a cell that went within 2**55 of a limit before any contention\n"
"stays one word for good (exact, not striped).");

static PyType_Slot IntAdder_slots[] = {
    {Py_tp_new, IntAdder_new},
    {Py_tp_dealloc, Striped_dealloc},
    {Py_tp_methods, IntAdder_methods},
    {Py_tp_repr, Striped_repr},
    {Py_nb_int, Striped_int},
    {Py_nb_index, Striped_int},
    {Py_tp_doc, (void *)IntAdder_doc},
    {0, NULL},
};

static PyType_Spec IntAdder_spec = {
    .name = "atomicmetrics._core._IntAdder",
    .basicsize = sizeof(StripedObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = IntAdder_slots,
};

int
am_striped_register(PyObject *module, am_state *st)
{
    if (am_add_type(module, &Striped_spec, &st->striped_type) < 0) {
        return -1;
    }
    return am_add_type(module, &IntAdder_spec, &st->int_adder_type);
}
