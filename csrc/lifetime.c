/* lifetime.c -- "process-lifetime" objects: metrics that every thread
 * loads (a module-level family, its children, the attribute objects on
 * their recording paths) made free of reference-count traffic on
 * free-threaded builds, within a per-process budget.
 *
 * Why: on free-threaded CPython every load of a shared object from a global
 * or an attribute adds to and later subtracts from its reference count; an
 * object no thread owns (biased reference counting) takes those as atomic
 * adds on one shared word, so N threads calling REQUESTS.inc() all fight
 * over REQUESTS' count line -- measured: 2 threads x0.25-0.33 of one thread
 * on 3.13t, x0.86-1.92 with the objects made immortal.
 *
 * How (compat.h, AM_PIN_MODE): immortal on 3.13t; deferred reference
 * counting on 3.14t+ for GC types (immortal for others); nothing on GIL
 * builds. Only for objects that this thread created and that no other
 * thread can reach yet (am_compat_make_immortal checks what it can: this
 * thread owns the object and no other thread ever took a reference);
 * anything else is left as it is.
 *
 * Budget: an immortal object is never freed, nor anything it references. A
 * process-wide count of objects made immortal (`pin_used`) stops at
 * `pin_limit` (configurable; 0 turns pinning off), past which objects stay
 * mortal: a program that creates registries, families or label children in
 * a loop keeps at most `pin_limit` objects (and what they hold) alive, and
 * then runs as it would without pinning. The budget is per process on
 * purpose: what it bounds is the process's memory. Deferred objects (3.14t)
 * are still freed by the GC and do not count against it.
 *
 * Shared state: pin_used and pin_limit are atomics (fetch_add / load,
 * relaxed: they order nothing else); the only process-global mutable
 * statics of the module besides the stripes' per-thread probe.
 */
#include "module.h"

#ifndef AM_PIN_DEFAULT_LIMIT
/* 10,000 objects: a family is 4-6 pinned objects, a label child 2-4 (see
 * docs/freethreading.md), so a few thousand hot series; at ~100-300 bytes
 * an object, a program that pins in a loop keeps at most a few MB. */
#define AM_PIN_DEFAULT_LIMIT 10000
#endif

static am_word pin_used;                         /* objects made immortal so far */
static am_word pin_limit = AM_PIN_DEFAULT_LIMIT; /* most objects made immortal */

#if AM_PIN_MODE != AM_PIN_NONE
/* Take one unit of the budget: 1 if granted, 0 if spent (nothing taken). */
static int
pin_take(void)
{
    int64_t used = am_load_relaxed(&pin_used);
    for (;;) {
        if (used >= am_load_relaxed(&pin_limit)) {
            return 0;
        }
        if (am_cas_weak_relaxed(&pin_used, &used, used + 1)) {
            return 1;
        }
    }
}
#endif

int
am_pin(PyObject *op)
{
#if AM_PIN_MODE == AM_PIN_NONE
    (void)op;
    return 0;
#else
#if AM_PIN_MODE == AM_PIN_DEFERRED
    if (PyObject_IS_GC(op)) {
        return PyUnstable_Object_EnableDeferredRefcount(op) || am_compat_is_immortal(op);
    }
#endif
    if (am_compat_is_immortal(op)) {
        return 1;
    }
    if (!pin_take()) {
        return 0;
    }
    if (!am_compat_make_immortal(op)) {
        am_fetch_add_relaxed(&pin_used, -1);  /* not ours to pin: give the unit back */
        return 0;
    }
    return 1;
#endif
}

PyDoc_STRVAR(am_pin_doc,
"_pin($module, /, *objects)\n--\n\n"
"Private: make each of `objects` cost no reference-count traffic when many\n"
"threads load it (free-threaded builds: immortal on 3.13t within the\n"
"per-process budget, deferred reference counting on 3.14t+); returns how\n"
"many are so now. Only for objects this thread just created and no other\n"
"thread can reach yet; others are left as they are. Nothing on GIL builds.");

static PyObject *
am_pin_objects(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t pinned = 0;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        pinned += am_pin(args[i]);
    }
    return PyLong_FromSsize_t(pinned);
}

PyDoc_STRVAR(am_pin_budget_doc,
"_pin_budget($module, limit=None, /)\n--\n\n"
"Private: (used, limit) of the per-process budget of immortal objects,\n"
"after setting the limit when one is given (an int >= 0; 0 stops pinning).");

static PyObject *
am_pin_budget(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        return PyErr_Format(PyExc_TypeError, "_pin_budget() takes at most 1 argument (%zd given)",
                            nargs);
    }
    if (nargs == 1 && args[0] != Py_None) {
        int64_t limit;
        if (am_as_int64(args[0], "limit", &limit) < 0) {
            return NULL;
        }
        if (limit < 0) {
            PyErr_Format(PyExc_ValueError, "limit must be >= 0, not %lld", (long long)limit);
            return NULL;
        }
        am_store_relaxed(&pin_limit, limit);
    }
    return Py_BuildValue("(LL)", (long long)am_load_relaxed(&pin_used),
                         (long long)am_load_relaxed(&pin_limit));
}

static PyMethodDef am_lifetime_functions[] = {
    {"_pin", AM_METHOD(am_pin_objects), METH_FASTCALL, am_pin_doc},
    {"_pin_budget", AM_METHOD(am_pin_budget), METH_FASTCALL, am_pin_budget_doc},
    {NULL, NULL, 0, NULL},
};

int
am_lifetime_register(PyObject *module, am_state *Py_UNUSED(st))
{
    static const char *const modes[] = {"none", "immortal", "deferred"};
    if (PyModule_AddFunctions(module, am_lifetime_functions) < 0) {
        return -1;
    }
    return PyModule_AddStringConstant(module, "PIN_MODE", modes[AM_PIN_MODE]);
}
