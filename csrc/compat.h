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

/* Cast a METH_FASTCALL (or other non-PyCFunction) implementation for a
 * PyMethodDef. Public from 3.11 on (Include/methodobject.h); 3.10 lacks it. */
#ifndef _PyCFunction_CAST
#define _PyCFunction_CAST(func) ((PyCFunction)(void (*)(void))(func))
#endif

#endif /* AM_COMPAT_H */
