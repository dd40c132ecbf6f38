/* hotcold.c -- the reader side of the hot/cold protocol (see hotcold.h):
 * the in-cell reader lock, the swap with its bounded cooldown, and the
 * recovery rules for dead writers and readers. Cold path only. */
#include "hotcold.h"
#include "bounds.h"
#include "clock.h"

void
am_hc_lock(am_uword *ctl)
{
    uint64_t seen = am_uload_acquire(ctl);
    int64_t start = 0;      /* when the wait began (0: not yet timed) */
    int64_t stale_from = 0; /* since when no progress was seen (0: not yet timed) */
    for (unsigned step = 0;; step++) {
        if (!(seen & AM_HC_LOCK)) {
            uint64_t old = am_ufetch_or_acq_rel(ctl, AM_HC_LOCK);
            if (!(old & AM_HC_LOCK)) {
                return;
            }
            stale_from = 0;  /* it was free a moment ago: readers progress */
            seen = old;
        }
        int64_t now = am_backoff(step);
        uint64_t cur = am_uload_acquire(ctl);
        if ((cur ^ seen) & AM_HC_HOT) {
            stale_from = 0;  /* another reader swapped: it is alive */
        }
        seen = cur;
        /* both timers run from the first reading: no short-circuit */
        if (am_waited(now, &stale_from, AM_HC_STALE_LOCK_NS)
            | am_waited(now, &start, AM_HC_MAX_WAIT_NS)) {
            /* Take the lock over: its bit stays set and is now ours. */
            am_ufetch_or_acq_rel(ctl, AM_HC_LOCK);
            return;
        }
    }
}

void
am_hc_unlock(am_uword *ctl)
{
    am_ufetch_and_release(ctl, ~AM_HC_LOCK);
}

PyObject *
am_hc_alloc(PyTypeObject *type, Py_ssize_t nitems)
{
    size_t size = (size_t)type->tp_basicsize + (size_t)nitems * (size_t)type->tp_itemsize;
    size_t head = sizeof(PyVarObject);
    PyVarObject *op;
    /* Both ways set the type (a new reference: heap type), refcount and
     * ob_size, and add no sentinel item (unlike tp_alloc). */
    if (PyType_IS_GC(type)) {
        /* A Python subclass (every one is a GC type): GC header in front,
         * tracked like PyType_GenericAlloc's objects. */
        op = PyObject_GC_NewVar(PyVarObject, type, nitems);
        if (op == NULL) {
            return NULL;
        }
        memset((char *)op + head, 0, size - head);
        PyObject_GC_Track(op);
        return (PyObject *)op;
    }
    op = PyObject_Malloc(size);
    if (op == NULL) {
        return PyErr_NoMemory();
    }
    memset(op, 0, size);
    return (PyObject *)PyObject_InitVar(op, type, nitems);
}

static uint64_t
am_hc_bucket_sum(am_word *buckets, Py_ssize_t nbuckets)
{
    uint64_t sum = 0;
    for (Py_ssize_t i = 0; i < nbuckets; i++) {
        sum += (uint64_t)am_load_acquire(&buckets[i]);  /* pairs with W3 */
    }
    return sum;
}

void
am_hc_forget(am_uword *ctl, uint64_t dropped)
{
    uint64_t cur = am_uload_relaxed(ctl);
    for (;;) {
        uint64_t started = cur & AM_HC_COUNT;
        uint64_t next = (cur & ~AM_HC_COUNT) | (started > dropped ? started - dropped : 0);
        if (am_ucas_acq_rel(ctl, &cur, next)) {
            return;
        }
    }
}

unsigned
am_hc_swap(am_uword *ctl, am_word *const buckets[2], Py_ssize_t nbuckets)
{
    uint64_t n = am_ufetch_add_acq_rel(ctl, AM_HC_HOT);  /* R2 */
    unsigned cold = (unsigned)(n >> 63);
    uint64_t expected = n & AM_HC_COUNT;
    uint64_t got = am_hc_bucket_sum(buckets[cold], nbuckets);
    int64_t start = 0;
    for (unsigned step = 0; got < expected; step++) {  /* R3 */
        int64_t now = am_backoff(step);
        got = am_hc_bucket_sum(buckets[cold], nbuckets);
        if (am_waited(now, &start, AM_HC_COOLDOWN_NS)) {
            break;
        }
    }
    if (got < expected) {
        /* Writers died (or stalled) between W1 and W3: stop waiting for them. */
        am_hc_forget(ctl, expected - got);
    }
    else if (got > expected) {
        /* Writers given up on earlier finished after all: count them again. */
        am_ufetch_add_acq_rel(ctl, got - expected);
    }
    return cold;
}

int64_t
am_hc_move_buckets(am_uword *ctl, am_word *cold, am_word *hot, Py_ssize_t nbuckets, int reset,
                   int64_t *out)
{
    uint64_t count = 0;
    for (Py_ssize_t i = 0; i < nbuckets; i++) {
        int64_t v = am_exchange_acq_rel(&cold[i], 0);
        out[i] += v;
        count += (uint64_t)v;
        if (!reset && v != 0) {
            am_fetch_add_relaxed(&hot[i], v);
        }
    }
    if (reset) {
        am_hc_forget(ctl, count);
    }
    return (int64_t)count;
}

int
am_hc_buf_init(am_hc_buf *buf, Py_ssize_t n)
{
    buf->words = buf->stack;
    if (n > AM_HC_STACK_WORDS) {
        buf->words = PyMem_Malloc((size_t)n * sizeof(int64_t));
        if (buf->words == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    memset(buf->words, 0, (size_t)n * sizeof(int64_t));
    return 0;
}

void
am_hc_buf_free(am_hc_buf *buf)
{
    if (buf->words != buf->stack) {
        PyMem_Free(buf->words);
    }
}

PyObject *
am_hc_new(PyTypeObject *type, PyObject *bounds_arg, PyObject *view, PyObject *offset,
          am_hc_words_fn cell_words)
{
    PyObject *bounds = am_bounds_from(bounds_arg);
    if (bounds == NULL) {
        return NULL;
    }
    Py_ssize_t words = cell_words(PyTuple_GET_SIZE(bounds) + 1);
    am_word *arena = NULL;
    PyObject *owner = NULL;
    if (view != NULL) {
        arena = am_view_words(view, offset, words * (Py_ssize_t)sizeof(am_word), &owner);
        if (arena == NULL) {
            Py_DECREF(bounds);
            return NULL;
        }
    }
    am_hc_object *self = (am_hc_object *)am_hc_alloc(type, arena ? 0 : words);
    if (self == NULL) {
        Py_DECREF(bounds);
        Py_XDECREF(owner);
        return NULL;
    }
    self->bounds = bounds;
    if (arena != NULL) {
        self->cell = arena;
        self->owner = owner;
    }
    else {
        self->cell = self->own;  /* own[] is zero-filled: empty; stripes NULL */
    }
    return (PyObject *)self;
}

PyObject *
am_hc_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                  am_hc_words_fn cell_words)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_from_buffer() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    return am_hc_new(type, args[2], args[0], args[1], cell_words);
}

PyObject *
am_hc_cell_bytes(PyObject *n_bounds, am_hc_words_fn cell_words)
{
    int64_t n;
    if (am_as_int64(n_bounds, "n_bounds", &n) < 0) {
        return NULL;
    }
    if (n < 1 || n > (int64_t)1 << 40) {
        PyErr_SetString(PyExc_ValueError, "n_bounds must be at least 1");
        return NULL;
    }
    return PyLong_FromLongLong((long long)cell_words((Py_ssize_t)n + 1) * 8);
}

void
am_hc_dealloc(PyObject *op)
{
    am_hc_object *self = (am_hc_object *)op;
    PyTypeObject *tp = Py_TYPE(op);
    if (am_hc_owns(self)) {
        am_stripes_free(&self->stripes);
    }
    else {
        Py_CLEAR(self->owner);
    }
    Py_CLEAR(self->bounds);
    tp->tp_free(op);
    Py_DECREF(tp);
}

PyObject *
am_hc_sizeof(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_hc_object *self = (am_hc_object *)op;
    PyTypeObject *tp = Py_TYPE(op);
    Py_ssize_t size = tp->tp_basicsize + Py_SIZE(op) * tp->tp_itemsize;
    if (am_hc_owns(self)) {
        size += am_stripes_bytes(&self->stripes);
    }
    return PyLong_FromSsize_t(size);
}

PyObject *
am_hc_int_list(const int64_t *values, Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyLong_FromLongLong(values[i]);
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}
