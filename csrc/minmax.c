/* minmax.c -- AtomicMinMax: the int64 minimum and maximum of observations.
 *
 * Cell layout (4 unsigned words; all zero = empty, so a zero-filled arena
 * cell needs no init step):
 *   [0] STARTED  resets begun   (CAS s -> s + 1 by reset, only when DONE == s)
 *   [1] DONE     resets ended   (raised to STARTED by the resetter or by a
 *                helper); STARTED != DONE means a reset is in flight: it has
 *                begun and LO/HI may not be clear yet. At most one reset is in
 *                flight at a time.
 *   [2] LO       the minimum, encoded  lo(v) = (uint64)v ^ 0x7fff...ffff
 *   [3] HI       the maximum, encoded  hi(v) = (uint64)v ^ 0x8000...0000
 * Both encodings are monotone so that LO and HI only ever *grow* between
 * resets: observe() raises each word with a CAS loop (am_ufetch_max_acq_rel),
 * and 0 is the identity of each (LO = 0 decodes to INT64_MAX, HI = 0 to
 * INT64_MIN). A word alone cannot tell "empty" from "observed INT64_MAX (LO)
 * / INT64_MIN (HI)"; the pair can: see decoding below.
 *
 * Abstract state: while a reset is in flight the cell is EMPTY (the reset is
 * linearized at its CAS on STARTED, and no observe() can complete until DONE
 * catches up). Every operation uses that:
 *
 * observe(v), a pass:  s = STARTED; if DONE != s, a reset is in flight: wait
 *   (bounded, see Recovery) and start over; raise HI to hi(v); THEN raise LO
 *   to lo(v); if STARTED is still s the pass is clean and observe returns,
 *   else a reset began during the pass and may have wiped one of its two
 *   writes: run the pass again (idempotent). Within one epoch (between
 *   resets) "LO holds v" therefore implies "HI >= v": the acq_rel CAS on LO
 *   publishes the earlier write to HI.
 * reset(): s = STARTED; if DONE != s, a reset is in flight, the cell is empty
 *   right now: reset() is linearized at that load and returns (it never
 *   waits). Else CAS STARTED s -> s + 1 (on failure another reset began:
 *   start over); LO = 0 (release); HI = 0 (release); DONE = max(DONE, s + 1).
 *   Each of the two clears is skipped when DONE already moved past s (a
 *   helper finished this reset, see Recovery). Clearing LO before HI means
 *   that the only half-wiped pass is "LO set in the new epoch, HI wiped";
 *   its observer sees STARTED move (its LO CAS read from the clear's release
 *   sequence, so the increment is visible) and redoes the pass.
 * read (min, max, snapshot): s = STARTED; if DONE != s, a reset is in flight:
 *   answer "empty" (never waits). Else collect (LO, HI) twice; if STARTED
 *   moved or the collects differ, read again. Equal collects of two words
 *   that only grow within an epoch are an atomic snapshot (no ABA is
 *   possible), taken at an instant between the collects. Decoding: LO == 0
 *   is empty unless HI says INT64_MAX (then INT64_MAX was observed);
 *   otherwise min = decode(LO) and max = max(decode(HI), min).
 *
 * What a concurrent reader sees: never a pair from two sides of a reset;
 * always min <= max, both values observed since the last reset; a pair that
 * really was the state at one instant within one epoch; "empty" while a
 * reset is in flight. The clamp max(decode(HI), min) only acts while an
 * observe() that overlapped a reset has its value in LO but not yet back in
 * HI (it is redoing its pass); such an observe() may show its value on both
 * sides of that reset, which is harmless for a minimum and a maximum.
 *
 * Progress: reset() and the reads never wait (reads retry only when a
 * writer made progress). observe() waits only while a reset is in flight,
 * normally for the resetter's next three atomic operations, and that wait
 * is bounded:
 *
 * Recovery (a resetter killed mid-reset in a shared arena, or descheduled /
 * stopped on free-threaded CPython): the waiting observe() backs off as
 * every wait does (clock.h: spins, then yields the CPU with the thread
 * state detached so that it holds up neither other threads nor a
 * free-threaded stop-the-world), and once it has seen the same in-flight
 * (STARTED, DONE) pair for MM_STALE_NS it finishes the reset itself:
 * LO = 0, HI = 0 (each skipped when DONE moved meanwhile), then CAS DONE
 * from the value it saw to STARTED, and runs its pass. The clears are
 * idempotent and several helpers may run them at once. A reset interrupted
 * at any of its instructions is thus completed by the next observe(); reads
 * answer "empty" until then (the cell's abstract state), and reset() returns
 * at once. If the "dead" resetter was only stalled for longer than
 * MM_STALE_NS and resumes, it finds DONE past its epoch and skips its
 * remaining clears, and its max() on DONE changes nothing. Only a resetter
 * (or helper) stalled between that check of DONE and its store, two
 * instructions apart, can clear a word late: that loses the observations
 * made meanwhile, as a reset at that instant would, and may let reads answer
 * "empty" or a pair clamped to (min, min) until the next observe().
 * observe() therefore returns within about MM_STALE_NS of a resetter's death
 * whatever instruction it died at.
 */
#include "module.h"
#include "clock.h"

enum { MM_STARTED, MM_DONE, MM_LO, MM_HI, MM_WORDS };

#define MM_SIGN (UINT64_C(1) << 63)

/* Bound of observe()'s wait for an in-flight reset (see Recovery). */
#define MM_STALE_NS 250000000LL     /* 0.25 s without progress: take over */

typedef struct {
    AM_CELL_HEAD
    am_uword own[MM_WORDS];   /* the words themselves for objects that own their storage */
} MinMaxObject;

#define MinMaxObject_CAST(op) ((MinMaxObject *)(op))

/* The cell's words as the unsigned words this file works on (a no-op cast). */
static inline am_uword *
mm_words_of(PyObject *op)
{
    return (am_uword *)MinMaxObject_CAST(op)->cell;
}

static inline uint64_t mm_hi_of(int64_t v) { return (uint64_t)v ^ MM_SIGN; }
static inline uint64_t mm_lo_of(int64_t v) { return ~mm_hi_of(v); }
static inline int64_t mm_of_hi(uint64_t w) { return (int64_t)(w ^ MM_SIGN); }
static inline int64_t mm_of_lo(uint64_t w) { return (int64_t)(~w ^ MM_SIGN); }

/* The clears of a reset whose DONE was `done`: each skipped once DONE moved
 * (the reset was finished by someone else). Idempotent. */
static void
mm_clear(am_uword *w, uint64_t done)
{
    if (am_uload_acquire(&w[MM_DONE]) == done) {
        am_ustore_release(&w[MM_LO], 0);
    }
    if (am_uload_acquire(&w[MM_DONE]) == done) {
        am_ustore_release(&w[MM_HI], 0);
    }
}

/* observe()'s wait past its spins while a reset is in flight (cold path):
 * the yielding steps of the back-off (clock.h), returning once the reset
 * finished, or after finishing it on the resetter's behalf when it made no
 * progress for MM_STALE_NS (see Recovery). Plain C (no Python API):
 * MinMax_observe runs it with the thread state detached. */
static void
mm_wait_for_reset(am_uword *w)
{
    uint64_t s = am_uload_acquire(&w[MM_STARTED]);
    uint64_t d = am_uload_acquire(&w[MM_DONE]);
    int64_t stale_from = 0;  /* since when (s, d) did not move (0: not yet timed) */
    for (unsigned step = AM_BACKOFF_SPINS; d != s; step++) {
        int64_t now = am_backoff(step);
        uint64_t s2 = am_uload_acquire(&w[MM_STARTED]);
        uint64_t d2 = am_uload_acquire(&w[MM_DONE]);
        if (s2 != s || d2 != d) {
            stale_from = 0;  /* the resetters progress */
            s = s2;
            d = d2;
        }
        else if (am_waited(now, &stale_from, MM_STALE_NS)) {
            mm_clear(w, d);
            uint64_t expected = d;
            (void)am_ucas_acq_rel(&w[MM_DONE], &expected, s);
            return;
        }
    }
}

/* observe(v) without yielding: returns 1 once v is recorded, or 0 when a
 * reset stayed in flight for the spinning steps of the back-off (nothing
 * to undo: the caller then waits with mm_wait_for_reset and calls again). */
static int
mm_observe_spinning(am_uword *w, int64_t v)
{
    uint64_t hi = mm_hi_of(v), lo = mm_lo_of(v);
    for (unsigned step = 0;;) {
        uint64_t s = am_uload_acquire(&w[MM_STARTED]);
        if (am_uload_acquire(&w[MM_DONE]) != s) {
            if (!am_backoff_spinning(step)) {
                return 0;
            }
            (void)am_backoff(step++);
            continue;
        }
        am_ufetch_max_acq_rel(&w[MM_HI], hi);
        am_ufetch_max_acq_rel(&w[MM_LO], lo);
        if (am_uload_acquire(&w[MM_STARTED]) == s) {
            return 1;
        }
    }
}

static void
mm_observe(am_uword *w, int64_t v)
{
    while (!mm_observe_spinning(w, v)) {
        mm_wait_for_reset(w);
    }
}

/* Returns 1 with *min and *max set, or 0 when empty. */
static int
mm_read(am_uword *w, int64_t *min, int64_t *max)
{
    for (;;) {
        uint64_t s = am_uload_acquire(&w[MM_STARTED]);
        if (am_uload_acquire(&w[MM_DONE]) != s) {
            return 0;
        }
        uint64_t lo = am_uload_acquire(&w[MM_LO]);
        uint64_t hi = am_uload_acquire(&w[MM_HI]);
        uint64_t lo2 = am_uload_acquire(&w[MM_LO]);
        uint64_t hi2 = am_uload_acquire(&w[MM_HI]);
        if (am_uload_acquire(&w[MM_STARTED]) != s || lo != lo2 || hi != hi2) {
            continue;
        }
        if (lo == 0) {
            if (hi != UINT64_MAX) {
                return 0;
            }
            *min = *max = INT64_MAX;
            return 1;
        }
        *min = mm_of_lo(lo);
        *max = mm_of_hi(hi);
        if (*max < *min) {
            *max = *min;
        }
        return 1;
    }
}

static void
mm_reset(am_uword *w)
{
    for (;;) {
        uint64_t s = am_uload_acquire(&w[MM_STARTED]);
        if (am_uload_acquire(&w[MM_DONE]) != s) {
            return;  /* a reset is in flight: the cell is empty right now */
        }
        if (am_ucas_acq_rel(&w[MM_STARTED], &s, s + 1)) {
            mm_clear(w, s);
            am_ufetch_max_acq_rel(&w[MM_DONE], s + 1);
            return;
        }
    }
}

static PyObject *
MinMax_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "AtomicMinMax() takes no arguments");
        return NULL;
    }
    MinMaxObject *self = (MinMaxObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    /* tp_alloc zero-filled own[]: the empty state. */
    self->cell = (am_word *)self->own;
    self->owner = NULL;
    return (PyObject *)self;
}

PyDoc_STRVAR(MinMax_from_buffer_doc,
"_from_buffer($type, view, offset, /)\n--\n\n"
"Private: a min/max cell whose words live at `offset` of a writable\n"
"memoryview (the multi-process arena). Used as they are (zero = empty).");

static PyObject *
MinMax_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    return am_cell_from_buffer(type, args, nargs, MM_WORDS * sizeof(am_word));
}

PyDoc_STRVAR(MinMax_cell_bytes_doc,
"_cell_bytes($type, /)\n--\n\nPrivate: bytes of arena storage one min/max cell needs.");

static PyObject *
MinMax_cell_bytes(PyTypeObject *Py_UNUSED(type), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(MM_WORDS * sizeof(am_word));
}

PyDoc_STRVAR(MinMax_observe_doc,
"observe($self, v, /)\n--\n\n"
"Fold the int v into the minimum and the maximum. Cost: a few atomic loads;\n"
"a CAS only when v is a new minimum or maximum. Waits only while a reset()\n"
"is in flight; a reset that makes no progress for ~0.25 s (its resetter\n"
"died or stalled) it finishes itself (protocol in csrc/minmax.c).");

static PyObject *
MinMax_observe(PyObject *op, PyObject *arg)
{
    int64_t v;
    if (am_as_int64(arg, "v", &v) < 0) {
        return NULL;
    }
    am_uword *cell = mm_words_of(op);
    if (!mm_observe_spinning(cell, v)) {
        /* A reset is in flight and slow: wait (bounded) without holding up
         * other threads or a free-threaded stop-the-world. */
        Py_BEGIN_ALLOW_THREADS
        mm_observe(cell, v);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(MinMax_min_doc,
"min($self, /)\n--\n\nThe smallest value observed since creation or reset, or None.");

static PyObject *
MinMax_min(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    int64_t min, max;
    if (!mm_read(mm_words_of(op), &min, &max)) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(min);
}

PyDoc_STRVAR(MinMax_max_doc,
"max($self, /)\n--\n\nThe largest value observed since creation or reset, or None.");

static PyObject *
MinMax_max(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    int64_t min, max;
    if (!mm_read(mm_words_of(op), &min, &max)) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(max);
}

PyDoc_STRVAR(MinMax_snapshot_doc,
"snapshot($self, /)\n--\n\n"
"(min, max) as one consistent pair (min <= max, both observed since the\n"
"last reset), or None while empty.");

static PyObject *
MinMax_snapshot(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    int64_t min, max;
    if (!mm_read(mm_words_of(op), &min, &max)) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(LL)", (long long)min, (long long)max);
}

PyDoc_STRVAR(MinMax_reset_doc,
"reset($self, /)\n--\n\nForget every observation (back to empty). Never waits.");

static PyObject *
MinMax_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    mm_reset(mm_words_of(op));
    Py_RETURN_NONE;
}

static PyObject *
MinMax_repr(PyObject *op)
{
    int64_t min, max;
    if (!mm_read(mm_words_of(op), &min, &max)) {
        return PyUnicode_FromString("AtomicMinMax(empty)");
    }
    return PyUnicode_FromFormat("AtomicMinMax(min=%lld, max=%lld)", (long long)min,
                                (long long)max);
}

static PyMethodDef MinMax_methods[] = {
    {"observe", MinMax_observe, METH_O, MinMax_observe_doc},
    {"min", MinMax_min, METH_NOARGS, MinMax_min_doc},
    {"max", MinMax_max, METH_NOARGS, MinMax_max_doc},
    {"snapshot", MinMax_snapshot, METH_NOARGS, MinMax_snapshot_doc},
    {"reset", MinMax_reset, METH_NOARGS, MinMax_reset_doc},
    {"_from_buffer", AM_METHOD(MinMax_from_buffer), METH_FASTCALL | METH_CLASS,
     MinMax_from_buffer_doc},
    {"_cell_bytes", AM_METHOD(MinMax_cell_bytes), METH_NOARGS | METH_CLASS,
     MinMax_cell_bytes_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(MinMax_doc,
"AtomicMinMax()\n--\n\n"
"The minimum and maximum of int64 observations, kept by lock-free CAS loops.\n\n"
"Thread-safe (GIL and free-threaded builds). observe() takes an int (bool\n"
"and __index__ types accepted): TypeError otherwise, OverflowError outside\n"
"int64; a call that raises changes nothing. min()/max()/snapshot() answer\n"
"None until the first observe() and after reset(); snapshot() is one\n"
"consistent pair: min <= max, both observed since the last reset, never a\n"
"pair from both sides of a reset (protocol in csrc/minmax.c). Reads and\n"
"reset() never wait; observe() waits only while a reset() is in flight,\n"
"boundedly (a resetter that died mid-reset is taken over after ~0.25 s).\n"
"Cost: observe() is one C method call and four atomic loads when v is\n"
"neither a new minimum nor a new maximum, plus one CAS per word it moves.");

static PyType_Slot MinMax_slots[] = {
    {Py_tp_new, MinMax_new},
    {Py_tp_dealloc, am_cell_dealloc},
    {Py_tp_methods, MinMax_methods},
    {Py_tp_repr, MinMax_repr},
    {Py_tp_doc, (void *)MinMax_doc},
    {0, NULL},
};

static PyType_Spec MinMax_spec = {
    .name = "atomicmetrics._core.AtomicMinMax",
    .basicsize = sizeof(MinMaxObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = MinMax_slots,
};

int
am_minmax_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &MinMax_spec, &st->minmax_type);
}
