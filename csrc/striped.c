/* striped.c -- StripedCounter: a signed 64-bit count spread over cache-line
 * cells, summed on read (the idea of Java's LongAdder).
 *
 * Layout. `base` is one word inside the object. `table` is NULL until the
 * first CAS on `base` fails (a contended update); that thread then allocates
 * `nstripes` cells, each alone on its own 64-byte cache line, and publishes
 * the table with one CAS on the pointer (release; the loser frees its copy).
 * The table is never replaced or shrunk, only freed by the destructor, so a
 * pointer read once stays valid for the whole call (no reclamation problem).
 * From then on an update adds to the cell its thread hashes to; a thread
 * whose CAS on a cell fails re-hashes to another cell (its `am_probe`), so
 * threads that collide spread out. On a GIL build no CAS ever fails (nothing
 * runs between the load and the CAS), so the table is never allocated there
 * and the object is one word, like AtomicCounter.
 *
 * Never wraps -- the bound is per cell, so any mix of cells read at different
 * instants sums inside int64 (load() and reset() need no snapshot):
 *   - every stripe stays in [-L, L] with L = AM_GUARD / nstripes, so the
 *     stripes together stay in [-AM_GUARD, AM_GUARD];
 *   - `base` stays in [INT64_MIN + AM_GUARD, INT64_MAX - AM_GUARD];
 *   - hence base + sum(stripes) is always inside int64.
 * An add that would push its stripe past L goes to `base` instead; an add
 * that would push `base` past its bound raises OverflowError and changes
 * nothing. Consequence for users: an add whose result lies within
 * [INT64_MIN + 2*AM_GUARD, INT64_MAX - 2*AM_GUARD] always succeeds, an add
 * whose result leaves int64 always raises, and in the last 2**56 before
 * either limit (0.8% of the range) an add may raise early.
 *
 * Orders: every update is an acq_rel CAS on one cell; load() reads each cell
 * with acquire; reset() exchanges each cell with 0 (acq_rel), so every update
 * is counted exactly once: by this reset's result or by the counter after it.
 * load() and reset() are not linearizable while updates run (they visit the
 * cells one by one); when every concurrent update adds with the same sign,
 * load() returns a value between the counter's value at the start of the
 * call and at its end.
 */
#include "module.h"

#include <stdlib.h>
#include <unistd.h>

/* Half-width of the guard band: 2**55 (about 3.6e16). Per-stripe limit is
 * AM_GUARD / nstripes, at least 2**48 (2.8e14), far beyond what one thread
 * adds between two resets at ~3e7 calls/s (100+ days of inc()). */
#define AM_GUARD ((int64_t)1 << 55)
#define AM_BASE_MIN (INT64_MIN + AM_GUARD)
#define AM_BASE_MAX (INT64_MAX - AM_GUARD)
#define AM_STRIPES_MIN 4
#define AM_STRIPES_MAX 128
#define AM_CACHE_LINE 64

/* One cell alone on a cache line: no false sharing between stripes. */
typedef struct {
    _Alignas(AM_CACHE_LINE) am_word value;
    char pad[AM_CACHE_LINE - sizeof(am_word)];
} am_stripe;

_Static_assert(sizeof(am_stripe) == AM_CACHE_LINE, "one stripe per cache line");

/* The table, allocated once with aligned_alloc; immutable after publication
 * except for the cells' words. */
typedef struct {
    int64_t limit;       /* L: every stripe stays in [-limit, limit] */
    uint32_t mask;       /* nstripes - 1; nstripes is a power of two */
    am_stripe stripes[]; /* nstripes cells, each on its own cache line */
} am_table;

typedef struct {
    PyObject_HEAD
    am_ptr table; /* NULL, then one am_table * forever (acquire/release) */
    am_word base; /* acq_rel CAS; in [AM_BASE_MIN, AM_BASE_MAX] */
} StripedObject;

#define StripedObject_CAST(op) ((StripedObject *)(op))

/* Per-thread hash hint: which stripe this thread tries first. Only a hint,
 * never shared (each thread has its own), so no race; 0 = not seeded yet. */
static _Thread_local uint32_t am_probe;

static uint32_t
probe_get(void)
{
    uint32_t p = am_probe;
    if (p == 0) {
        /* splitmix64 finaliser of the thread id: neighbouring ids spread */
        uint64_t z = (uint64_t)PyThread_get_thread_ident() + 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        p = (uint32_t)(z ^ (z >> 31)) | 1u;
        am_probe = p;
    }
    return p;
}

/* After a failed CAS: move this thread to another stripe (xorshift32). */
static uint32_t
probe_advance(uint32_t p)
{
    p ^= p << 13;
    p ^= p >> 17;
    p ^= p << 5;
    am_probe = p;
    return p;
}

static uint32_t
stripes_for_this_machine(void)
{
    long ncpu = 8;
#ifdef _SC_NPROCESSORS_ONLN
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    uint32_t n = AM_STRIPES_MIN;
    /* twice the CPUs (hash collisions are likely with exactly one per CPU) */
    while (n < AM_STRIPES_MAX && (long)n < 2 * ncpu) {
        n *= 2;
    }
    return n;
}

/* The published table, allocating it if needed. NULL (no exception) when
 * out of memory: the caller keeps using `base`, which is always correct. */
static am_table *
table_ensure(StripedObject *self)
{
    void *cur = am_ptr_load_acquire(&self->table);
    if (cur != NULL) {
        return cur;
    }
    uint32_t n = stripes_for_this_machine();
    size_t size = sizeof(am_table) + (size_t)n * sizeof(am_stripe);
    size = (size + AM_CACHE_LINE - 1) / AM_CACHE_LINE * AM_CACHE_LINE;
    am_table *t = aligned_alloc(AM_CACHE_LINE, size);
    if (t == NULL) {
        return NULL;
    }
    memset(t, 0, size);  /* cells are published by the release CAS below */
    t->limit = AM_GUARD / n;
    t->mask = n - 1;
    if (!am_ptr_cas_acq_rel(&self->table, &cur, t)) {
        free(t);  /* another thread published first: use its table */
        return cur;
    }
    return t;
}

/* CAS loop on `base`, keeping it in [AM_BASE_MIN, AM_BASE_MAX].
 * Returns 0, or -1 (nothing changed; *seen = base) if n does not fit. */
static int
base_add(StripedObject *self, int64_t n, int64_t *seen)
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

/* Add n somewhere. Returns 0, or -1 (nothing changed) on overflow. */
static int
striped_add(StripedObject *self, int64_t n, int64_t *seen)
{
    am_table *t = am_ptr_load_acquire(&self->table);
    if (t == NULL) {
        int64_t cur = am_load_relaxed(&self->base);
        if ((n > 0 && cur > AM_BASE_MAX - n) || (n < 0 && cur < AM_BASE_MIN - n)) {
            *seen = cur;
            return -1;
        }
        if (am_cas_acq_rel(&self->base, &cur, cur + n)) {
            return 0;  /* uncontended: the common case, and every case with a GIL */
        }
        t = table_ensure(self);  /* contended: spread out from now on */
        if (t == NULL) {
            return base_add(self, n, seen);
        }
    }
    if (n >= -t->limit && n <= t->limit) {
        uint32_t p = probe_get();
        for (;;) {
            am_word *cell = &t->stripes[p & t->mask].value;
            int64_t cur = am_load_relaxed(cell);
            int64_t next = cur + n;  /* |cur|, |n| <= limit <= 2**53: no overflow */
            if (next < -t->limit || next > t->limit) {
                break;  /* this stripe is full: the excess goes to base */
            }
            if (am_cas_acq_rel(cell, &cur, next)) {
                return 0;
            }
            p = probe_advance(p);  /* collided with another thread: move */
        }
    }
    return base_add(self, n, seen);
}

static PyObject *
striped_overflow(const char *op, int64_t base, int64_t n)
{
    PyErr_Format(PyExc_OverflowError,
                 "%s: adding %lld would take StripedCounter too close to the signed "
                 "64-bit limits (its cells must sum inside int64; base cell is %lld); "
                 "nothing was changed",
                 op, (long long)n, (long long)base);
    return NULL;
}

/* The sum of every cell; always inside int64 by the per-cell bounds. */
static int64_t
striped_load(StripedObject *self)
{
    int64_t sum = am_load_acquire(&self->base);
    am_table *t = am_ptr_load_acquire(&self->table);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            sum += am_load_acquire(&t->stripes[i].value);
        }
    }
    return sum;
}

static PyObject *
Striped_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *value_obj = NULL;
    int64_t value = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:StripedCounter", kwlist, &value_obj)) {
        return NULL;
    }
    if (value_obj != NULL && am_as_int64(value_obj, "value", &value) < 0) {
        return NULL;
    }
    if (value < AM_BASE_MIN || value > AM_BASE_MAX) {
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
    am_store_release(&self->base, value);
    return (PyObject *)self;
}

static void
Striped_dealloc(PyObject *op)
{
    StripedObject *self = StripedObject_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    free(am_ptr_load_acquire(&self->table));
    tp->tp_free(op);
    Py_DECREF(tp);
}

PyDoc_STRVAR(Striped_inc_doc,
"inc($self, /)\n--\n\nAdd 1. OverflowError near 2**63-1 (the value never wraps).");

static PyObject *
Striped_inc(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    int64_t seen;
    if (striped_add(StripedObject_CAST(op), 1, &seen) < 0) {
        return striped_overflow("inc()", seen, 1);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Striped_dec_doc,
"dec($self, /)\n--\n\nSubtract 1. OverflowError near -2**63 (the value never wraps).");

static PyObject *
Striped_dec(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    int64_t seen;
    if (striped_add(StripedObject_CAST(op), -1, &seen) < 0) {
        return striped_overflow("dec()", seen, -1);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Striped_add_doc,
"add($self, n, /)\n--\n\nAdd the int n (may be negative). OverflowError when the\n"
"result would leave int64 (or come within 2**56 of its limits, see the class);\n"
"nothing is changed then.");

static PyObject *
Striped_add(PyObject *op, PyObject *arg)
{
    int64_t n, seen;
    if (am_as_int64(arg, "n", &n) < 0) {
        return NULL;
    }
    if (striped_add(StripedObject_CAST(op), n, &seen) < 0) {
        return striped_overflow("add()", seen, n);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Striped_load_doc,
"load($self, /)\n--\n\nThe sum of the cells: exact when no update runs meanwhile.");

static PyObject *
Striped_load(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(striped_load(StripedObject_CAST(op)));
}

PyDoc_STRVAR(Striped_reset_doc,
"reset($self, /)\n--\n\nSet every cell to 0 and return what they held. An update\n"
"running meanwhile is counted once: in the result or in the counter after it.");

static PyObject *
Striped_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    StripedObject *self = StripedObject_CAST(op);
    int64_t sum = am_exchange_acq_rel(&self->base, 0);
    am_table *t = am_ptr_load_acquire(&self->table);
    if (t != NULL) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            sum += am_exchange_acq_rel(&t->stripes[i].value, 0);
        }
    }
    return PyLong_FromLongLong(sum);
}

PyDoc_STRVAR(Striped_spread_doc,
"_spread($self, /)\n--\n\n"
"Private test seam: allocate the stripe table now (the hot path does it on\n"
"the first contended update) and return the number of stripes.");

static PyObject *
Striped_spread(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_table *t = table_ensure(StripedObject_CAST(op));
    if (t == NULL) {
        return PyErr_NoMemory();
    }
    return PyLong_FromUnsignedLong((unsigned long)t->mask + 1);
}

PyDoc_STRVAR(Striped_cells_doc,
"_cells($self, /)\n--\n\n"
"Private test seam: [base, stripe 0, stripe 1, ...] as read now (only base\n"
"while the table is not allocated).");

static PyObject *
Striped_cells(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    StripedObject *self = StripedObject_CAST(op);
    am_table *t = am_ptr_load_acquire(&self->table);
    Py_ssize_t n = t == NULL ? 0 : (Py_ssize_t)t->mask + 1;
    PyObject *list = PyList_New(n + 1);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        am_word *w = i == 0 ? &self->base : &t->stripes[i - 1].value;
        PyObject *v = PyLong_FromLongLong(am_load_acquire(w));
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *
Striped_int(PyObject *op)
{
    return PyLong_FromLongLong(striped_load(StripedObject_CAST(op)));
}

static PyObject *
Striped_repr(PyObject *op)
{
    return PyUnicode_FromFormat("StripedCounter(%lld)",
                                (long long)striped_load(StripedObject_CAST(op)));
}

static PyMethodDef Striped_methods[] = {
    {"inc", Striped_inc, METH_NOARGS, Striped_inc_doc},
    {"dec", Striped_dec, METH_NOARGS, Striped_dec_doc},
    {"add", Striped_add, METH_O, Striped_add_doc},
    {"load", Striped_load, METH_NOARGS, Striped_load_doc},
    {"reset", Striped_reset, METH_NOARGS, Striped_reset_doc},
    {"_spread", Striped_spread, METH_NOARGS, Striped_spread_doc},
    {"_cells", Striped_cells, METH_NOARGS, Striped_cells_doc},
    {NULL, NULL, 0, NULL},
};

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

int
am_striped_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &Striped_spec, &st->striped_type);
}
