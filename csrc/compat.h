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

#endif /* AM_COMPAT_H */
