/* ring.c -- Ring: the bounded buffer of the async recorder, a lock-free
 * multi-producer multi-consumer queue of calls `fn(*args)`.
 *
 * The algorithm is Dmitry Vyukov's bounded MPMC queue: every slot carries a
 * sequence number that says whose turn it is, so producers and consumers
 * each claim a position with one CAS and then own the slot until they hand
 * it over with one release store. No lock, no allocation on a push of up to
 * two arguments (the call is stored inline), one tuple above that; a push
 * also reads CLOCK_MONOTONIC once (vDSO, ~20 ns) for oldest_age.
 * A record() that finds the ring full counts a drop, or, when the ring has
 * an `on_full` callable (the recorder's blocking mode), returns what
 * on_full(fn, *args) returns: only that slow path leaves C.
 *
 * ---- slot protocol (the consistency contract) ----------------------------
 *
 * Positions are uint64 counters that never wrap in practice (2**63 pushes).
 * Position p lives in slot p % nslots. A slot's `seq`:
 *   seq == p             empty, ready for the producer of position p;
 *   seq == p + 1         full: the call of position p is published;
 *   seq == p + nslots    consumed: ready for the producer of p + nslots.
 * Producer: read tail (relaxed), load seq (acquire). seq == tail: CAS tail
 *   -> tail + 1 claims position p; write fn/args/stamp (plain stores, the
 *   slot is ours); store seq = p + 1 with RELEASE -- this publishes them.
 *   seq < tail: the slot still holds the previous lap's call: full.
 * Consumer: read head, scan the slots from head while seq == pos + 1
 *   (acquire: pairs with the producer's release, so fn/args are visible),
 *   claim the run [head, head + n) with one CAS on head; head is monotonic
 *   and 64-bit, so an unchanged head proves nobody else took those slots.
 *   Move the calls out, clear the fields, store seq = p + nslots with
 *   RELEASE: the producer that sees it may overwrite the slot.
 * A claimed-but-unpublished slot (a producer preempted between its CAS and
 * its release; only possible without the GIL) looks empty to consumers:
 *   they stop there and the producer wakes them after it publishes.
 * Vyukov's scheme needs nslots >= 2 (with one slot "published p" and
 * "consumed p" would both read p + 1): a capacity of 1 uses two slots and
 * bounds the occupancy, tail - head, by the capacity instead.
 *
 * ---- other shared words ---------------------------------------------------
 *
 * tail       bit 63 (AM_RING_CLOSED) is the closed flag, set by fetch_or in
 *            close(): a producer's claim CAS expects the bit clear, so no
 *            push can land after close() returns; the low bits are the
 *            number of accepted pushes (= enqueued).
 * head       positions taken by consumers (acq_rel CAS).
 * dropped, processed, failed   statistics (relaxed adds; processed is a
 *            release add after the calls ran, read with acquire).
 * sleepers   consumers parked or about to park; wake_pending 1 while a
 *            wake() call is on its way. Parking consumer: sleepers += 1,
 *            wake_pending = 0, FENCE(seq_cst), check the head slot. Producer
 *            after publishing: FENCE(seq_cst), read sleepers; if > 0 and it
 *            swaps wake_pending 0 -> 1 it calls wake(). The two fences make
 *            "the consumer sees the call" or "the producer sees the sleeper"
 *            certain, so no wake-up is lost; wake_pending makes one wake()
 *            per wake-up instead of one per push: park_end() (the woken
 *            consumer, or one that did not wait) clears it again, so the
 *            next push wakes the next parked consumer.
 * stamp_ns   CLOCK_MONOTONIC of the push, read seqlock-style for the age of
 *            the oldest call (seq re-checked after the stamp).
 *
 * GC: the ring owns a strong reference to every field of every slot that
 * is not NULL; consumers clear the fields before releasing a slot, so
 * tp_traverse / tp_clear walk the fields that are set. Under the GIL a push
 * or a take never yields half-way; free-threaded GC stops the world.
 */
#include "module.h"
#include "clock.h"

#define AM_RING_CLOSED ((uint64_t)1 << 63)
#define AM_RING_MAX_CAPACITY ((uint64_t)1 << 32)
/* Calls moved out of the ring per CAS on head inside apply_batch: bounds the
 * stack buffer; a batch is several such chunks. */
#define AM_RING_CHUNK 64
/* nargs value of a slot whose a0 is a tuple of all the arguments. */
#define AM_ARGS_TUPLE (-1)

typedef struct {
    am_uword seq;      /* see the slot protocol above */
    am_word stamp_ns;  /* relaxed; published by seq */
    PyObject *fn;      /* strong; published by seq; NULL when the slot is empty */
    PyObject *a0;      /* strong or NULL; the tuple of args when nargs == AM_ARGS_TUPLE */
    PyObject *a1;      /* strong or NULL */
    Py_ssize_t nargs;  /* 0, 1, 2, or AM_ARGS_TUPLE */
} am_slot;

/* A call moved out of a slot: owns its references. */
typedef struct {
    PyObject *fn, *a0, *a1;
    Py_ssize_t nargs;
} am_call;

typedef struct {
    PyObject_HEAD
    am_slot *slots;     /* immutable after construction (PyMem block) */
    uint64_t nslots;    /* immutable, >= 2 */
    uint64_t capacity;  /* immutable, 1 <= capacity <= nslots */
    PyObject *wake;     /* strong or NULL; immutable until tp_clear */
    PyObject *on_full;  /* strong or NULL; immutable until tp_clear */
    char pad0[64];
    am_uword tail;      /* producers' CAS word: pushes | AM_RING_CLOSED */
    char pad1[64 - sizeof(am_uword)];
    am_uword head;      /* consumers' CAS word */
    char pad2[64 - sizeof(am_uword)];
    am_uword dropped;   /* relaxed */
    am_uword processed; /* release add after the calls ran */
    am_uword failed;    /* relaxed */
    am_word sleepers;   /* seq_cst protocol, see above */
    am_word wake_pending;
    am_uword forks;     /* relaxed; bumped by reset_after_fork (see ring_apply_chunk) */
} RingObject;

#define RingObject_CAST(op) ((RingObject *)(op))

static void
ring_init_slots(RingObject *r)
{
    for (uint64_t i = 0; i < r->nslots; i++) {
        am_slot *s = &r->slots[i];
        s->fn = s->a0 = s->a1 = NULL;
        s->nargs = 0;
        am_store_relaxed(&s->stamp_ns, 0);
        am_ustore_relaxed(&s->seq, i);
    }
}

/* Push fn(*args). `tuple` is NULL for nargs <= 2, else a new reference to
 * the tuple of args that the ring takes over on success (the caller builds
 * it before claiming, so nothing allocates while a slot is claimed).
 * Returns 1 pushed, 0 full, 2 closed; references are taken only on 1. */
static int
ring_push(RingObject *r, PyObject *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *tuple)
{
    uint64_t pos = am_uload_relaxed(&r->tail);
    am_slot *slot;
    for (;;) {
        if (pos & AM_RING_CLOSED) {
            return 2;
        }
        if (r->capacity < r->nslots
            && (int64_t)(pos - am_uload_acquire(&r->head)) >= (int64_t)r->capacity) {
            return 0;
        }
        slot = &r->slots[pos % r->nslots];
        uint64_t seq = am_uload_acquire(&slot->seq);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (am_ucas_weak_acq_rel(&r->tail, &pos, pos + 1)) {
                break;  /* position pos is ours */
            }
        }
        else if (dif < 0) {
            return 0;
        }
        else {
            pos = am_uload_relaxed(&r->tail);
        }
    }
    slot->fn = Py_NewRef(fn);
    if (tuple != NULL) {
        slot->a0 = tuple;
        slot->a1 = NULL;
        slot->nargs = AM_ARGS_TUPLE;
    }
    else {
        slot->a0 = nargs > 0 ? Py_NewRef(args[0]) : NULL;
        slot->a1 = nargs > 1 ? Py_NewRef(args[1]) : NULL;
        slot->nargs = nargs;
    }
    am_store_relaxed(&slot->stamp_ns, am_monotonic_ns());
    am_ustore_release(&slot->seq, pos + 1);
    return 1;
}

/* After a successful push: wake a parked consumer if there is one. */
static void
ring_after_push(RingObject *r)
{
    am_fence_seq_cst();
    if (am_load_relaxed(&r->sleepers) > 0 && am_exchange_acq_rel(&r->wake_pending, 1) == 0
        && r->wake != NULL) {
        PyObject *res = PyObject_CallNoArgs(r->wake);
        if (res == NULL) {
            PyErr_WriteUnraisable(r->wake);
        }
        Py_XDECREF(res);
    }
}

/* Take up to `want` published calls into out[]; returns how many. */
static Py_ssize_t
ring_take(RingObject *r, am_call *out, Py_ssize_t want)
{
    uint64_t pos = am_uload_relaxed(&r->head);
    Py_ssize_t n;
    for (;;) {
        uint64_t first_seq = 0;
        for (n = 0; n < want; n++) {
            uint64_t p = pos + (uint64_t)n;
            uint64_t seq = am_uload_acquire(&r->slots[p % r->nslots].seq);
            if (n == 0) {
                first_seq = seq;
            }
            if (seq != p + 1) {
                break;
            }
        }
        if (n == 0) {
            if ((int64_t)(first_seq - (pos + 1)) < 0) {
                return 0;  /* empty, or the head call is not published yet */
            }
            pos = am_uload_relaxed(&r->head);  /* another consumer took it */
            continue;
        }
        if (am_ucas_acq_rel(&r->head, &pos, pos + (uint64_t)n)) {
            break;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t p = pos + (uint64_t)i;
        am_slot *slot = &r->slots[p % r->nslots];
        out[i].fn = slot->fn;
        out[i].a0 = slot->a0;
        out[i].a1 = slot->a1;
        out[i].nargs = slot->nargs;
        slot->fn = slot->a0 = slot->a1 = NULL;
        am_ustore_release(&slot->seq, p + r->nslots);
    }
    return n;
}

static void
call_release(am_call *c)
{
    Py_DECREF(c->fn);
    Py_XDECREF(c->a0);
    Py_XDECREF(c->a1);
}

/* The arguments of a taken call as a new tuple (NULL on MemoryError). */
static PyObject *
call_args_tuple(am_call *c)
{
    if (c->nargs == AM_ARGS_TUPLE) {
        return Py_NewRef(c->a0);
    }
    if (c->nargs == 0) {
        return PyTuple_New(0);
    }
    if (c->nargs == 1) {
        return PyTuple_Pack(1, c->a0);
    }
    return PyTuple_Pack(2, c->a0, c->a1);
}

static PyObject *
call_apply(am_call *c)
{
    if (c->nargs == AM_ARGS_TUPLE) {
        return PyObject_Call(c->fn, c->a0, NULL);
    }
    PyObject *argv[2] = {c->a0, c->a1};
    return PyObject_Vectorcall(c->fn, argv, (size_t)c->nargs, NULL);
}

/* Shared front of record() and try_push(): check the arguments, push.
 * Returns 1 pushed, 0 full, 2 closed, -1 with an exception set. */
static int
ring_push_args(RingObject *r, const char *name, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "%s() missing required argument 'fn' (pos 1)", name);
        return -1;
    }
    PyObject *fn = args[0];
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "%s(): fn must be callable, not %.100s",
                     name, Py_TYPE(fn)->tp_name);
        return -1;
    }
    PyObject *tuple = NULL;
    if (nargs - 1 > 2) {
        tuple = PyTuple_New(nargs - 1);
        if (tuple == NULL) {
            return -1;
        }
        for (Py_ssize_t i = 1; i < nargs; i++) {
            PyTuple_SET_ITEM(tuple, i - 1, Py_NewRef(args[i]));
        }
    }
    int rc = ring_push(r, fn, args + 1, nargs - 1, tuple);
    if (rc != 1) {
        Py_XDECREF(tuple);
        return rc;
    }
    ring_after_push(r);
    return 1;
}

static PyObject *
Ring_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"capacity", "wake", "on_full", NULL};
    PyObject *cap_obj, *wake = Py_None, *on_full = Py_None;
    int64_t capacity;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:Ring", kwlist, &cap_obj, &wake,
                                     &on_full)) {
        return NULL;
    }
    if (am_as_int64(cap_obj, "capacity", &capacity) < 0) {
        return NULL;
    }
    if (capacity < 1 || (uint64_t)capacity > AM_RING_MAX_CAPACITY) {
        PyErr_Format(PyExc_ValueError, "capacity must be in [1, 2**32], not %lld",
                     (long long)capacity);
        return NULL;
    }
    if ((wake != Py_None && !PyCallable_Check(wake))
        || (on_full != Py_None && !PyCallable_Check(on_full))) {
        PyErr_SetString(PyExc_TypeError, "wake and on_full must be callable or None");
        return NULL;
    }
    uint64_t nslots = capacity < 2 ? 2 : (uint64_t)capacity;
    am_slot *slots = PyMem_Calloc((size_t)nslots, sizeof(am_slot));
    if (slots == NULL) {
        return PyErr_NoMemory();
    }
    RingObject *self = (RingObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyMem_Free(slots);
        return NULL;
    }
    self->slots = slots;
    self->nslots = nslots;
    self->capacity = (uint64_t)capacity;
    self->wake = wake == Py_None ? NULL : Py_NewRef(wake);
    self->on_full = on_full == Py_None ? NULL : Py_NewRef(on_full);
    ring_init_slots(self);
    am_ustore_release(&self->tail, 0);
    am_ustore_release(&self->head, 0);
    am_ustore_release(&self->dropped, 0);
    am_ustore_release(&self->processed, 0);
    am_ustore_release(&self->failed, 0);
    am_store_release(&self->sleepers, 0);
    am_store_release(&self->wake_pending, 0);
    am_ustore_release(&self->forks, 0);
    return (PyObject *)self;
}

static void
ring_clear_slots(RingObject *r)
{
    for (uint64_t i = 0; i < r->nslots; i++) {
        am_slot *s = &r->slots[i];
        Py_CLEAR(s->fn);
        Py_CLEAR(s->a0);
        Py_CLEAR(s->a1);
    }
}

static int
Ring_traverse(PyObject *op, visitproc visit, void *arg)
{
    RingObject *r = RingObject_CAST(op);
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(r->wake);
    Py_VISIT(r->on_full);
    if (r->slots != NULL) {
        for (uint64_t i = 0; i < r->nslots; i++) {
            am_slot *s = &r->slots[i];
            Py_VISIT(s->fn);
            Py_VISIT(s->a0);
            Py_VISIT(s->a1);
        }
    }
    return 0;
}

static int
Ring_clear(PyObject *op)
{
    RingObject *r = RingObject_CAST(op);
    Py_CLEAR(r->wake);
    Py_CLEAR(r->on_full);
    if (r->slots != NULL) {
        ring_clear_slots(r);
    }
    return 0;
}

static void
Ring_dealloc(PyObject *op)
{
    RingObject *r = RingObject_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)Ring_clear(op);
    PyMem_Free(r->slots);
    r->slots = NULL;
    tp->tp_free(op);
    Py_DECREF(tp);
}

PyDoc_STRVAR(Ring_record_doc,
"record($self, fn, /, *args)\n--\n\n"
"Enqueue the call fn(*args) and return True. When the ring is full, return\n"
"on_full(fn, *args) if the ring has an on_full, else count the call as\n"
"dropped and return False; when it is closed, count and return False.\n"
"Never blocks by itself. TypeError (nothing counted) when fn is missing or\n"
"not callable.");

static PyObject *
Ring_record(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    RingObject *r = RingObject_CAST(op);
    int rc = ring_push_args(r, "record", args, nargs);
    if (rc == 1) {
        Py_RETURN_TRUE;
    }
    if (rc < 0) {
        return NULL;
    }
    if (rc == 0 && r->on_full != NULL) {
        return PyObject_Vectorcall(r->on_full, args, (size_t)nargs, NULL);
    }
    am_ufetch_add_relaxed(&r->dropped, 1);
    Py_RETURN_FALSE;
}

PyDoc_STRVAR(Ring_try_push_doc,
"try_push($self, fn, /, *args)\n--\n\n"
"Enqueue the call fn(*args) and return True, or return False when the ring\n"
"is full or closed; unlike record(), a failure is not counted.");

static PyObject *
Ring_try_push(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    int rc = ring_push_args(RingObject_CAST(op), "try_push", args, nargs);
    if (rc < 0) {
        return NULL;
    }
    return PyBool_FromLong(rc == 1);
}

PyDoc_STRVAR(Ring_count_dropped_doc,
"count_dropped($self, /)\n--\n\nAdd 1 to the dropped count (a call refused elsewhere).");

static PyObject *
Ring_count_dropped(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    am_ufetch_add_relaxed(&RingObject_CAST(op)->dropped, 1);
    Py_RETURN_NONE;
}

static int
check_max(PyObject *arg, Py_ssize_t *out)
{
    int64_t max;
    if (am_as_int64(arg, "max", &max) < 0) {
        return -1;
    }
    if (max < 1) {
        PyErr_Format(PyExc_ValueError, "max must be >= 1, not %lld", (long long)max);
        return -1;
    }
    *out = max > PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)max;
    return 0;
}

/* A batch's work on one chunk of n calls just taken: they are its own, and
 * it releases every one of them, even when it fails. Returns 0; -1 with an
 * exception set (the batch stops there); or AM_RING_FORKED when a call
 * forked and this is the child (the batch stops there, no exception). */
typedef int (*ring_chunk_fn)(RingObject *r, am_call *calls, Py_ssize_t n, void *ctx);

#define AM_RING_FORKED 1

/* Take up to `max` calls, oldest first, in chunks of at most AM_RING_CHUNK
 * (one CAS on head each), handing each chunk to `fn`. Returns how many were
 * taken, -1 when `fn` failed, or -2 when it answered AM_RING_FORKED. */
static Py_ssize_t
ring_drain(RingObject *r, Py_ssize_t max, ring_chunk_fn fn, void *ctx)
{
    am_call buf[AM_RING_CHUNK];
    Py_ssize_t total = 0;
    while (total < max) {
        Py_ssize_t want = max - total < AM_RING_CHUNK ? max - total : AM_RING_CHUNK;
        Py_ssize_t n = ring_take(r, buf, want);
        if (n == 0) {
            break;
        }
        int rc = fn(r, buf, n, ctx);
        if (rc != 0) {
            return rc < 0 ? -1 : -2;
        }
        total += n;
    }
    return total;
}

/* pop_batch's chunk: append (fn, args) per call to the list `ctx`. */
static int
ring_pop_chunk(RingObject *Py_UNUSED(r), am_call *calls, Py_ssize_t n, void *ctx)
{
    int failed = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!failed) {
            PyObject *targs = call_args_tuple(&calls[i]);
            PyObject *item = targs == NULL ? NULL : PyTuple_Pack(2, calls[i].fn, targs);
            Py_XDECREF(targs);
            if (item == NULL || PyList_Append((PyObject *)ctx, item) < 0) {
                failed = 1;
            }
            Py_XDECREF(item);
        }
        call_release(&calls[i]);
    }
    return failed ? -1 : 0;
}

PyDoc_STRVAR(Ring_pop_batch_doc,
"pop_batch($self, max, /)\n--\n\n"
"Take up to max calls, oldest first, as a list of (fn, args) tuples without\n"
"applying them (processed is not counted). Empty list when the ring is empty.");

static PyObject *
Ring_pop_batch(PyObject *op, PyObject *arg)
{
    Py_ssize_t max;
    if (check_max(arg, &max) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    if (ring_drain(RingObject_CAST(op), max, ring_pop_chunk, list) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

/* apply_batch's chunk: apply each call, append (fn, exception) to the list
 * `ctx` for each that raised, then count processed. Never fails.
 *
 * A call that forks: the child's copy of this thread comes back here with
 * the rest of the chunk, which the parent's worker applies; applying it in
 * the child too would count it twice (in a multi-process arena, literally).
 * The recorder's fork hook runs reset_after_fork in the child before the
 * call returns there, which bumps `forks` (one thread in the child: relaxed
 * is enough); seeing it moved, the chunk releases the rest unapplied,
 * counts nothing in the child's zeroed counts, and answers AM_RING_FORKED. */
static int
ring_apply_chunk(RingObject *r, am_call *calls, Py_ssize_t n, void *ctx)
{
    uint64_t nfailed = 0;
    uint64_t forks = am_uload_relaxed(&r->forks);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *res = call_apply(&calls[i]);
        if (res == NULL) {
            nfailed++;
            PyObject *exc = am_err_take();
            PyObject *pair = PyTuple_Pack(2, calls[i].fn, exc != NULL ? exc : Py_None);
            if (pair == NULL || PyList_Append((PyObject *)ctx, pair) < 0) {
                PyErr_Clear();  /* out of memory: the failure stays counted */
            }
            Py_XDECREF(pair);
            Py_XDECREF(exc);
        }
        Py_XDECREF(res);
        call_release(&calls[i]);
        if (am_uload_relaxed(&r->forks) != forks) {
            for (Py_ssize_t j = i + 1; j < n; j++) {
                call_release(&calls[j]);
            }
            return AM_RING_FORKED;
        }
    }
    if (nfailed) {
        am_ufetch_add_relaxed(&r->failed, nfailed);
    }
    am_ufetch_add_release(&r->processed, (uint64_t)n);
    return 0;
}

PyDoc_STRVAR(Ring_apply_batch_doc,
"apply_batch($self, max, failures, /)\n--\n\n"
"Take up to max calls and apply each in this thread; return how many were\n"
"taken (0: the ring was empty). A call that raises is counted as failed and\n"
"(fn, exception) is appended to the list `failures`; it never stops the\n"
"batch. processed is counted after the calls ran. -1 when a call forked and\n"
"this is the child: the rest of the batch was released unapplied (it is the\n"
"parent's), nothing was counted, and `failures` holds the parent's.");

static PyObject *
Ring_apply_batch(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t max;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "apply_batch() takes exactly 2 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (check_max(args[0], &max) < 0) {
        return NULL;
    }
    PyObject *failures = args[1];
    if (!PyList_Check(failures)) {
        PyErr_Format(PyExc_TypeError, "failures must be a list, not %.100s",
                     Py_TYPE(failures)->tp_name);
        return NULL;
    }
    Py_ssize_t taken = ring_drain(RingObject_CAST(op), max, ring_apply_chunk, failures);
    return PyLong_FromSsize_t(taken < 0 ? -1 : taken);
}

PyDoc_STRVAR(Ring_close_doc,
"close($self, /)\n--\n\n"
"Refuse every later push (they count as dropped) and return the number of\n"
"calls accepted before, which is final. Idempotent.");

static PyObject *
Ring_close(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    uint64_t prev = am_ufetch_or_acq_rel(&RingObject_CAST(op)->tail, AM_RING_CLOSED);
    return PyLong_FromUnsignedLongLong(prev & ~AM_RING_CLOSED);
}

PyDoc_STRVAR(Ring_enqueued_doc,
"enqueued($self, /)\n--\n\nCalls accepted so far (the producers' position).");

static PyObject *
Ring_enqueued(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    uint64_t tail = am_uload_acquire(&RingObject_CAST(op)->tail);
    return PyLong_FromUnsignedLongLong(tail & ~AM_RING_CLOSED);
}

PyDoc_STRVAR(Ring_taken_doc,
"taken($self, /)\n--\n\nCalls taken by consumers so far (the consumers' position).");

static PyObject *
Ring_taken(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromUnsignedLongLong(am_uload_acquire(&RingObject_CAST(op)->head));
}

/* Nanoseconds since the oldest call still in the ring was pushed; 0 when
 * the head slot holds no published call. */
static int64_t
ring_oldest_age_ns(RingObject *r)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t h = am_uload_acquire(&r->head);
        am_slot *slot = &r->slots[h % r->nslots];
        if (am_uload_acquire(&slot->seq) != h + 1) {
            if (am_uload_acquire(&r->head) == h) {
                return 0;
            }
            continue;
        }
        int64_t stamp = am_load_relaxed(&slot->stamp_ns);
        am_fence_acquire();
        if (am_uload_relaxed(&slot->seq) == h + 1) {
            int64_t age = am_monotonic_ns() - stamp;
            return age > 0 ? age : 0;
        }
    }
    return 0;
}

PyDoc_STRVAR(Ring_counts_doc,
"counts($self, /)\n--\n\n"
"(enqueued, processed, dropped, failed, queue_length, oldest_age_ns), read\n"
"so that processed <= enqueued and queue_length <= capacity.");

static PyObject *
Ring_counts(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    RingObject *r = RingObject_CAST(op);
    /* processed <= head <= tail at every instant, and all three only grow:
     * reading them in this order keeps the inequalities in the result. */
    uint64_t processed = am_uload_acquire(&r->processed);
    uint64_t head = am_uload_acquire(&r->head);
    uint64_t tail = am_uload_acquire(&r->tail) & ~AM_RING_CLOSED;
    uint64_t length = tail - head;
    if (length > r->capacity) {
        length = r->capacity;
    }
    return Py_BuildValue("(KKKKKL)", (unsigned long long)tail, (unsigned long long)processed,
                         (unsigned long long)am_uload_relaxed(&r->dropped),
                         (unsigned long long)am_uload_relaxed(&r->failed),
                         (unsigned long long)length, (long long)ring_oldest_age_ns(r));
}

PyDoc_STRVAR(Ring_park_begin_doc,
"park_begin($self, /)\n--\n\n"
"A consumer announces it is about to wait for work; returns True when the\n"
"ring is still empty (then wait: the next push calls wake()), False when a\n"
"call is ready. Always pair with park_end().");

static PyObject *
Ring_park_begin(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    RingObject *r = RingObject_CAST(op);
    am_fetch_add_acq_rel(&r->sleepers, 1);
    am_store_relaxed(&r->wake_pending, 0);
    am_fence_seq_cst();
    uint64_t h = am_uload_relaxed(&r->head);
    uint64_t seq = am_uload_acquire(&r->slots[h % r->nslots].seq);
    return PyBool_FromLong(seq != h + 1);
}

PyDoc_STRVAR(Ring_park_end_doc,
"park_end($self, /)\n--\n\n"
"A consumer that called park_begin() stops waiting (woken or not); the next\n"
"push that finds another consumer parked wakes it.");

static PyObject *
Ring_park_end(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    RingObject *r = RingObject_CAST(op);
    am_fetch_add_acq_rel(&r->sleepers, -1);
    /* The wake() that woke us is done: the next push may wake the next
     * sleeper (without this, a second parked consumer would sleep on). */
    am_store_release(&r->wake_pending, 0);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Ring_reset_after_fork_doc,
"reset_after_fork($self, /)\n--\n\n"
"In a child process right after fork(), with no other thread running:\n"
"release every call still held (they belong to the parent), zero every\n"
"count, keep the closed flag, and count one phantom sleeper so that the\n"
"first push calls wake() (the child has no consumer threads yet). A batch\n"
"that this thread was applying when it forked stops after the call that\n"
"forked (apply_batch returns -1).");

static PyObject *
Ring_reset_after_fork(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    RingObject *r = RingObject_CAST(op);
    ring_clear_slots(r);
    ring_init_slots(r);
    am_ustore_release(&r->tail, am_uload_relaxed(&r->tail) & AM_RING_CLOSED);
    am_ustore_release(&r->head, 0);
    am_ustore_release(&r->dropped, 0);
    am_ustore_release(&r->processed, 0);
    am_ustore_release(&r->failed, 0);
    am_store_release(&r->sleepers, 1);
    am_store_release(&r->wake_pending, 0);
    am_ustore_release(&r->forks, am_uload_relaxed(&r->forks) + 1);
    Py_RETURN_NONE;
}

static Py_ssize_t
Ring_length(PyObject *op)
{
    RingObject *r = RingObject_CAST(op);
    uint64_t head = am_uload_acquire(&r->head);
    uint64_t tail = am_uload_acquire(&r->tail) & ~AM_RING_CLOSED;
    uint64_t length = tail - head;
    return (Py_ssize_t)(length > r->capacity ? r->capacity : length);
}

static PyObject *
Ring_get_capacity(PyObject *op, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong(RingObject_CAST(op)->capacity);
}

static PyObject *
Ring_get_closed(PyObject *op, void *Py_UNUSED(closure))
{
    return PyBool_FromLong((am_uload_acquire(&RingObject_CAST(op)->tail) & AM_RING_CLOSED) != 0);
}

static PyGetSetDef Ring_getset[] = {
    {"capacity", Ring_get_capacity, NULL, "The most calls the ring holds at once.", NULL},
    {"closed", Ring_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Ring_methods[] = {
    {"record", AM_METHOD(Ring_record), METH_FASTCALL, Ring_record_doc},
    {"try_push", AM_METHOD(Ring_try_push), METH_FASTCALL, Ring_try_push_doc},
    {"count_dropped", Ring_count_dropped, METH_NOARGS, Ring_count_dropped_doc},
    {"pop_batch", Ring_pop_batch, METH_O, Ring_pop_batch_doc},
    {"apply_batch", AM_METHOD(Ring_apply_batch), METH_FASTCALL, Ring_apply_batch_doc},
    {"close", Ring_close, METH_NOARGS, Ring_close_doc},
    {"enqueued", Ring_enqueued, METH_NOARGS, Ring_enqueued_doc},
    {"taken", Ring_taken, METH_NOARGS, Ring_taken_doc},
    {"counts", Ring_counts, METH_NOARGS, Ring_counts_doc},
    {"park_begin", Ring_park_begin, METH_NOARGS, Ring_park_begin_doc},
    {"park_end", Ring_park_end, METH_NOARGS, Ring_park_end_doc},
    {"reset_after_fork", Ring_reset_after_fork, METH_NOARGS, Ring_reset_after_fork_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Ring_doc,
"Ring(capacity, wake=None, on_full=None)\n--\n\n"
"Private: the bounded lock-free MPMC queue of calls behind the async\n"
"recorder (Vyukov's sequence-numbered slots; protocol in csrc/ring.c).\n\n"
"Thread-safe on GIL and free-threaded builds: any number of producers and\n"
"consumers, no lock. Holds strong references to queued calls; calls still\n"
"queued when the ring dies are released, not applied. `wake` (no arguments)\n"
"is called by a push that finds a consumer parked (park_begin/park_end);\n"
"`on_full(fn, *args)` answers a record() that finds the ring full.\n"
"ValueError unless 1 <= capacity <= 2**32. Cost: a push of up to two\n"
"arguments is one CAS, one release store and no allocation.");

static PyType_Slot Ring_slots[] = {
    {Py_tp_new, Ring_new},
    {Py_tp_dealloc, Ring_dealloc},
    {Py_tp_traverse, Ring_traverse},
    {Py_tp_clear, Ring_clear},
    {Py_tp_methods, Ring_methods},
    {Py_tp_getset, Ring_getset},
    {Py_sq_length, Ring_length},
    {Py_tp_doc, (void *)Ring_doc},
    {0, NULL},
};

static PyType_Spec Ring_spec = {
    .name = "atomicmetrics._core.Ring",
    .basicsize = sizeof(RingObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Ring_slots,
};

int
am_ring_register(PyObject *module, am_state *st)
{
    return am_add_type(module, &Ring_spec, &st->ring_type);
}
