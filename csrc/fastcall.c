/* fastcall.c -- two call shortcuts for the recording path of the Python layer.
 *
 * The registry's hot call is `family.labels("rule-7").inc()`. In Python that
 * is two interpreted frames around one C call; measured against a bare C
 * method call it cost ~9-14x (benchmarks/bench_labels.py, docs/registry.md),
 * far from the ~4.5x budget. These callables remove both frames and hold no
 * names, labels or formatting (those stay in Python):
 *
 * _FastLookup(table, fallback)
 *     Called with positional arguments that are all exact `str`, and no
 *     keywords: looks them up in the dict `table` -- the one argument itself
 *     when there is one (its hash is cached: no allocation at all), else the
 *     tuple of them -- and returns the value found. Anything else (a miss, keywords, a non-str or str
 *     subclass argument) returns fallback(*args, **kwargs). A family installs
 *     one as its `labels` with its children dict; the fallback converts with
 *     str(), validates and creates.
 *
 * _DefaultCall(noarg, fallback, one=None)
 *     Called with no arguments: returns noarg(). Called with exactly one
 *     positional argument and no keywords when `one` is given: returns
 *     one(arg) -- and if that raises an Exception (not a BaseException such
 *     as KeyboardInterrupt), clears it and returns fallback(arg) instead, so
 *     `one` can be a cell method that refuses what the fallback converts
 *     (prometheus_client's Histogram.observe(numpy.int64(3)) or
 *     observe(nan)). That retry is only correct because `one` is a cell
 *     method that changes nothing when it raises. Otherwise returns
 *     fallback(*args, **kwargs). Counter.inc() is AtomicCounter.inc then;
 *     the prometheus_client facade's Histogram.observe(x) is
 *     AtomicHistogram.observe(x).
 *
 * Both are immutable after construction, hold strong references (GC-tracked:
 * the fallback is usually a bound method of an object that holds this one),
 * never take a lock, and are safe on free-threaded builds: the dict read is
 * am_dict_get_ref (compat.h), a strong reference under the dict's own
 * synchronisation.
 */
#include "module.h"

#include <stddef.h>

/* ---- _FastLookup --------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *table;       /* dict, immutable reference (the dict itself mutates) */
    PyObject *fallback;    /* callable, immutable */
    vectorcallfunc vectorcall;
} FastLookupObject;

#define FastLookupObject_CAST(op) ((FastLookupObject *)(op))

static PyObject *
FastLookup_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FastLookupObject *self = FastLookupObject_CAST(op);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0) {
        Py_ssize_t i;
        for (i = 0; i < nargs; i++) {
            if (!PyUnicode_CheckExact(args[i])) {
                break;
            }
        }
        if (i == nargs) {
            PyObject *key;  /* new reference */
            if (nargs == 1) {
                key = Py_NewRef(args[0]);  /* str hashes are cached: no tuple to build */
            }
            else {
                key = PyTuple_New(nargs);
                if (key == NULL) {
                    return NULL;
                }
                for (i = 0; i < nargs; i++) {
                    PyTuple_SET_ITEM(key, i, Py_NewRef(args[i]));
                }
            }
            PyObject *found;
            int rc = am_dict_get_ref(self->table, key, &found);
            Py_DECREF(key);
            if (rc < 0) {
                return NULL;
            }
            if (rc > 0) {
                return found;
            }
        }
    }
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static PyObject *
FastLookup_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *table, *fallback;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "_FastLookup() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!O:_FastLookup", &PyDict_Type, &table, &fallback)) {
        return NULL;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return NULL;
    }
    FastLookupObject *self = (FastLookupObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->table = Py_NewRef(table);
    self->fallback = Py_NewRef(fallback);
    self->vectorcall = FastLookup_vectorcall;
    return (PyObject *)self;
}

static int
FastLookup_traverse(PyObject *op, visitproc visit, void *arg)
{
    FastLookupObject *self = FastLookupObject_CAST(op);
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->table);
    Py_VISIT(self->fallback);
    return 0;
}

static int
FastLookup_clear(PyObject *op)
{
    FastLookupObject *self = FastLookupObject_CAST(op);
    Py_CLEAR(self->table);
    Py_CLEAR(self->fallback);
    return 0;
}

static PyMemberDef FastLookup_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(FastLookupObject, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(FastLookup_doc,
"_FastLookup(table, fallback, /)\n--\n\n"
"Private: a callable; with only exact-str positional arguments it returns\n"
"table[args[0]] (one argument) or table[args] (any other number) when\n"
"present, otherwise fallback(*args, **kwargs). Lock-free; one dict read.");

static PyType_Slot FastLookup_slots[] = {
    {Py_tp_new, FastLookup_new},
    {Py_tp_dealloc, am_gc_dealloc},
    {Py_tp_traverse, FastLookup_traverse},
    {Py_tp_clear, FastLookup_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, FastLookup_members},
    {Py_tp_doc, (void *)FastLookup_doc},
    {0, NULL},
};

static PyType_Spec FastLookup_spec = {
    .name = "atomicmetrics._core._FastLookup",
    .basicsize = sizeof(FastLookupObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = FastLookup_slots,
};

/* ---- _DefaultCall -------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *noarg;       /* callable, immutable */
    PyObject *fallback;    /* callable, immutable */
    PyObject *one;         /* callable or NULL, immutable */
    /* When one is a bound built-in METH_O method (AtomicHistogram.observe),
     * its C function and self, as `direct` below. NULL otherwise. */
    PyCFunction direct_one;
    PyObject *direct_one_self;  /* borrowed from one */
    /* When noarg is a bound built-in METH_NOARGS method (AtomicCounter.inc),
     * its C function and self, called directly: the cost of one vectorcall
     * dispatch less. NULL otherwise. Immutable; noarg keeps both alive. */
    PyCFunction direct;
    PyObject *direct_self;  /* borrowed from noarg */
    vectorcallfunc vectorcall;
} DefaultCallObject;

#define DefaultCallObject_CAST(op) ((DefaultCallObject *)(op))

static PyObject *
DefaultCall_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    DefaultCallObject *self = DefaultCallObject_CAST(op);
    if (PyVectorcall_NARGS(nargsf) == 0 && (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0)) {
        if (self->direct != NULL) {
            return self->direct(self->direct_self, NULL);
        }
        return PyObject_CallNoArgs(self->noarg);
    }
    if (self->one != NULL && PyVectorcall_NARGS(nargsf) == 1
        && (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0)) {
        PyObject *result = self->direct_one != NULL
                               ? self->direct_one(self->direct_one_self, args[0])
                               : PyObject_CallOneArg(self->one, args[0]);  /* new reference */
        if (result != NULL || !PyErr_ExceptionMatches(PyExc_Exception)) {
            return result;
        }
        PyErr_Clear();  /* `one` changed nothing: let the fallback convert or explain */
    }
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static PyObject *
DefaultCall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *noarg, *fallback, *one = Py_None;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "_DefaultCall() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OO|O:_DefaultCall", &noarg, &fallback, &one)) {
        return NULL;
    }
    if (!PyCallable_Check(noarg) || !PyCallable_Check(fallback)
        || (one != Py_None && !PyCallable_Check(one))) {
        PyErr_SetString(PyExc_TypeError, "noarg, fallback and one must be callable");
        return NULL;
    }
    DefaultCallObject *self = (DefaultCallObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->noarg = Py_NewRef(noarg);
    self->fallback = Py_NewRef(fallback);
    self->one = one == Py_None ? NULL : Py_NewRef(one);
    self->direct_one = NULL;
    self->direct_one_self = NULL;
    if (self->one != NULL && PyCFunction_Check(one) && PyCFunction_GET_SELF(one) != NULL
        && (PyCFunction_GET_FLAGS(one) & ~METH_COEXIST) == METH_O) {
        self->direct_one = PyCFunction_GET_FUNCTION(one);
        self->direct_one_self = PyCFunction_GET_SELF(one);
    }
    self->direct = NULL;
    self->direct_self = NULL;
    if (PyCFunction_Check(noarg) && PyCFunction_GET_SELF(noarg) != NULL
        && (PyCFunction_GET_FLAGS(noarg) & ~METH_COEXIST) == METH_NOARGS) {
        self->direct = PyCFunction_GET_FUNCTION(noarg);
        self->direct_self = PyCFunction_GET_SELF(noarg);
    }
    self->vectorcall = DefaultCall_vectorcall;
    return (PyObject *)self;
}

static int
DefaultCall_traverse(PyObject *op, visitproc visit, void *arg)
{
    DefaultCallObject *self = DefaultCallObject_CAST(op);
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->noarg);
    Py_VISIT(self->fallback);
    Py_VISIT(self->one);
    return 0;
}

static int
DefaultCall_clear(PyObject *op)
{
    DefaultCallObject *self = DefaultCallObject_CAST(op);
    Py_CLEAR(self->noarg);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->one);
    return 0;
}

static PyMemberDef DefaultCall_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(DefaultCallObject, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(DefaultCall_doc,
"_DefaultCall(noarg, fallback, one=None, /)\n--\n\n"
"Private: a callable; called without arguments it returns noarg(); with\n"
"one positional argument and `one` given, one(arg), or fallback(arg) when\n"
"that raises an Exception; otherwise fallback(*args, **kwargs).");

static PyType_Slot DefaultCall_slots[] = {
    {Py_tp_new, DefaultCall_new},
    {Py_tp_dealloc, am_gc_dealloc},
    {Py_tp_traverse, DefaultCall_traverse},
    {Py_tp_clear, DefaultCall_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, DefaultCall_members},
    {Py_tp_doc, (void *)DefaultCall_doc},
    {0, NULL},
};

static PyType_Spec DefaultCall_spec = {
    .name = "atomicmetrics._core._DefaultCall",
    .basicsize = sizeof(DefaultCallObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = DefaultCall_slots,
};

int
am_fastcall_register(PyObject *module, am_state *st)
{
    if (am_add_type(module, &FastLookup_spec, &st->fast_lookup_type) < 0) {
        return -1;
    }
    return am_add_type(module, &DefaultCall_spec, &st->default_call_type);
}
