/* exemplar.c -- the `exemplar=` keyword of the registry's Counter.inc() and
 * Histogram.observe() (counter_child.c, histogram_child.c).
 *
 * An exemplar (the labels of the trace an observation came from) is a
 * matter of names and labels, so the C module neither checks nor keeps it:
 * a child hands it to its *exemplar slots*, a Python object
 * (atomicmetrics.exemplars.ExemplarSlots) given to the child once by its
 * family, before the child is shared. The child calls slots.make(value,
 * labels) first (it validates and returns the exemplar: a refused one
 * changes nothing), then records, then slots.keep(bucket, exemplar).
 * A call without the keyword never looks at any of this: it costs what it
 * did before exemplars existed.
 *
 * The slots live in the module state's `exemplar_slots` dict, keyed by the
 * child's address, not in the child: children are laid out to the byte for
 * the registry's series (children.h), and only the exemplar path, scrapes
 * of a family that recorded exemplars, and a child's dealloc look there. */
#include "children.h"

#include <stdarg.h>

/* New reference: the key of `child` in the slots table. */
static PyObject *
exemplar_key(PyObject *child)
{
    return PyLong_FromVoidPtr(child);
}

/* The slots of `child`: 1 (*slots a new reference), 0 (none, *slots NULL)
 * or -1 with an exception set. */
static int
exemplar_lookup(PyObject *child, PyObject **slots)
{
    am_state *st = am_child_state(Py_TYPE(child));
    PyObject *key = exemplar_key(child);
    if (key == NULL) {
        *slots = NULL;
        return -1;
    }
    int found = am_dict_get_ref(st->exemplar_slots, key, slots);
    Py_DECREF(key);
    return found;
}

/* Call slots.<method>(...) of `child`'s slots: a new reference, or NULL
 * with an exception (TypeError when the child has none). */
static PyObject *
exemplar_call(PyObject *child, const char *method, const char *format, ...)
{
    PyObject *slots;
    int found = exemplar_lookup(child, &slots);
    if (found <= 0) {
        if (found == 0) {
            PyErr_SetString(PyExc_TypeError,
                            "this metric keeps no exemplars: record them through a registry "
                            "family's child (registry.counter(...).labels(...).inc("
                            "exemplar=...))");
        }
        return NULL;
    }
    PyObject *fn = PyObject_GetAttrString(slots, method);
    Py_DECREF(slots);
    if (fn == NULL) {
        return NULL;
    }
    va_list va;
    va_start(va, format);
    PyObject *args = Py_VaBuildValue(format, va);
    va_end(va);
    PyObject *result = args != NULL ? PyObject_CallObject(fn, args) : NULL;
    Py_XDECREF(args);
    Py_DECREF(fn);
    return result;
}

PyObject *
am_exemplar_make(PyObject *child, PyObject *value, PyObject *labels)
{
    return exemplar_call(child, "make", "(OO)", value, labels);
}

int
am_exemplar_keep(PyObject *child, Py_ssize_t bucket, PyObject *exemplar)
{
    PyObject *r = exemplar_call(child, "keep", "(nO)", bucket, exemplar);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

PyObject *
am_exemplar_slots_method(PyObject *child, PyObject *Py_UNUSED(ignored))
{
    PyObject *slots;
    int found = exemplar_lookup(child, &slots);
    if (found < 0) {
        return NULL;
    }
    return found ? slots : Py_NewRef(Py_None);
}

PyObject *
am_exemplar_set_slots_method(PyObject *child, PyObject *slots)
{
    /* Set once, by the child's family, before the child is shared: no race. */
    PyObject *old;
    int found = exemplar_lookup(child, &old);
    if (found != 0) {
        if (found > 0) {
            Py_DECREF(old);
            PyErr_SetString(PyExc_ValueError, "this child already has exemplar slots");
        }
        return NULL;
    }
    am_state *st = am_child_state(Py_TYPE(child));
    PyObject *key = exemplar_key(child);
    int rc = key != NULL ? PyDict_SetItem(st->exemplar_slots, key, slots) : -1;
    Py_XDECREF(key);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

void
am_exemplar_forget(PyObject *child)
{
    /* Taken first: am_child_state clears the TypeError PyType_GetModule
     * raises for a Python subclass, which would wipe it. */
    PyObject *raised = am_err_take();  /* a dealloc may run while one propagates */
    am_state *st = am_child_state(Py_TYPE(child));
    if (st->exemplar_slots != NULL && PyDict_GET_SIZE(st->exemplar_slots) != 0) {
        PyObject *key = exemplar_key(child);
        if (key != NULL && PyDict_DelItem(st->exemplar_slots, key) < 0) {
            PyErr_Clear();  /* KeyError: this child had no slots */
        }
        Py_XDECREF(key);
    }
    PyErr_Clear();
    am_err_restore(raised);
}
