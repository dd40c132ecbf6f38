/* compat.h -- every Python-version difference the C module cares about. */
#ifndef AM_COMPAT_H
#define AM_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030A0000
#error "atomicmetrics needs CPython 3.10 or newer"
#endif

/* Free-threaded builds (3.13t) define Py_GIL_DISABLED; the Py_mod_gil slot
 * exists from 3.13 on. */
#ifdef Py_GIL_DISABLED
#define AM_FREE_THREADED 1
#else
#define AM_FREE_THREADED 0
#endif

/* Take the raised exception as one object (traceback attached); new
 * reference, or NULL when none is set. 3.12 added PyErr_GetRaisedException. */
static inline PyObject *
am_err_take(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* Set `raised` (from am_err_take, NULL for none; reference stolen) as the
 * current exception again. */
static inline void
am_err_restore(PyObject *raised)
{
    if (raised == NULL) {
        return;
    }
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(raised);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(raised)), raised,
                  PyException_GetTraceback(raised));
#endif
}

/* A method implementation whose signature is not PyCFunction's
 * (METH_FASTCALL, METH_FASTCALL | METH_KEYWORDS, a METH_CLASS method taking
 * the type) as the PyCFunction a PyMethodDef holds. The detour through
 * void (*)(void) is the cast -Wcast-function-type accepts; CPython calls
 * the function through its real signature, chosen by the METH_* flags. */
#define AM_METHOD(func) ((PyCFunction)(void (*)(void))(func))

/* Member definitions: the Py_T_* / Py_READONLY spellings are public from
 * 3.12 on; before that they live in structmember.h. */
#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h>
#define Py_T_PYSSIZET T_PYSSIZET
#define Py_READONLY READONLY
#endif

/* dict lookup returning a strong reference: 1 (found, *out set), 0 (absent,
 * *out NULL) or -1 (exception). PyDict_GetItemRef exists from 3.13 on and is
 * the free-threading-safe spelling; before it, the GIL makes borrowed +
 * INCREF safe. */
static inline int
am_dict_get_ref(PyObject *dict, PyObject *key, PyObject **out)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_GetItemRef(dict, key, out);
#else
    PyObject *value = PyDict_GetItemWithError(dict, key);  /* borrowed */
    if (value == NULL) {
        *out = NULL;
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(value);
    *out = value;
    return 1;
#endif
}

/* ---- objects that live as long as the process (lifetime.c) --------------
 *
 * How this interpreter can spare threads the reference-count traffic of an
 * object they all load (a module-level metric):
 *   AM_PIN_NONE      GIL builds: threads take turns, nothing to spare.
 *   AM_PIN_IMMORTAL  free-threaded 3.13: make the object immortal (never
 *                    freed): the only way 3.13t offers an extension. The
 *                    interpreter itself immortalises every object that
 *                    would use deferred reference counting (functions,
 *                    descriptors, types, modules) once a second thread
 *                    starts, for the same reason (gh-117783).
 *   AM_PIN_DEFERRED  free-threaded 3.14 and later: deferred reference
 *                    counting (PyUnstable_Object_EnableDeferredRefcount):
 *                    loads through the interpreter's stack references cost
 *                    no refcount traffic and the object is still freed by
 *                    the cyclic GC; for GC types only -- others are made
 *                    immortal as on 3.13. Not measured here (no 3.14t). */
#define AM_PIN_NONE 0
#define AM_PIN_IMMORTAL 1
#define AM_PIN_DEFERRED 2

#if !AM_FREE_THREADED
#define AM_PIN_MODE AM_PIN_NONE
#elif PY_VERSION_HEX < 0x030E0000
#define AM_PIN_MODE AM_PIN_IMMORTAL
#else
#define AM_PIN_MODE AM_PIN_DEFERRED
#endif

#if AM_FREE_THREADED
/* Whether op is immortal (free-threaded layout: the local count saturated). */
static inline int
am_compat_is_immortal(PyObject *op)
{
    return _Py_IsImmortal(op);
}

/* Make op immortal if, and only if, no other thread can be touching its
 * reference count: this thread owns it (biased reference counting) and no
 * other thread has ever added a reference (its shared count is zero; the
 * "may have weak references" flag aside). Immortalising an object that
 * another thread increfs at that moment would be a data race on its count
 * words (Py_SET_REFCNT writes them plainly). The caller must also know that
 * op is not yet reachable by other threads. Uses the public header's own
 * path: Py_SET_REFCNT from the owning thread with a count above UINT32_MAX
 * makes an object immortal (Include/object.h of 3.13t). Returns 1 when op
 * is immortal afterwards, else 0. */
static inline int
am_compat_make_immortal(PyObject *op)
{
    if (_Py_IsImmortal(op)) {
        return 1;
    }
    Py_ssize_t shared = _Py_atomic_load_ssize_relaxed(&op->ob_ref_shared);
    if (!_Py_IsOwnedByCurrentThread(op) || (shared != 0 && shared != _Py_REF_MAYBE_WEAKREF)) {
        return 0;
    }
    Py_SET_REFCNT(op, (Py_ssize_t)UINT32_MAX + 1);
    return _Py_IsImmortal(op);
}
#endif

/* A critical section on one object: on free-threaded builds (3.13t) it
 * excludes other critical sections on that object (a dict's own methods
 * take one); elsewhere the GIL already does, and it is a plain block. */
#ifndef Py_BEGIN_CRITICAL_SECTION
#define Py_BEGIN_CRITICAL_SECTION(op) {
#define Py_END_CRITICAL_SECTION() }
#endif

#endif /* AM_COMPAT_H */
