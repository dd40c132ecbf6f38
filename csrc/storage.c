/* storage.c -- cells placed in memory the object does not own (an arena),
 * and the cold-path boilerplate every fixed-size cell type shares. */
#include "module.h"

/* am_view_words without the pin: the words, borrowed from `view`. */
static am_word *
am_words_in_view(PyObject *view, PyObject *offset_obj, Py_ssize_t nbytes)
{
    if (!PyMemoryView_Check(view)) {
        PyErr_Format(PyExc_TypeError, "view must be a memoryview, not %.100s",
                     Py_TYPE(view)->tp_name);
        return NULL;
    }
    Py_buffer *buf = PyMemoryView_GET_BUFFER(view);
    if (buf->readonly) {
        PyErr_SetString(PyExc_TypeError, "view must be writable");
        return NULL;
    }
    if (!PyBuffer_IsContiguous(buf, 'C')) {
        PyErr_SetString(PyExc_ValueError, "view must be C-contiguous");
        return NULL;
    }
    int64_t offset;
    if (am_as_int64(offset_obj, "offset", &offset) < 0) {
        return NULL;
    }
    if (offset < 0 || offset % 8 != 0 || nbytes > buf->len || offset > buf->len - nbytes) {
        PyErr_Format(PyExc_ValueError,
                     "offset %lld does not place %zd aligned bytes inside a view of %zd bytes",
                     (long long)offset, nbytes, buf->len);
        return NULL;
    }
    char *p = (char *)buf->buf + offset;
    if (((uintptr_t)p) % 8 != 0) {
        PyErr_SetString(PyExc_ValueError, "view memory is not 8-byte aligned");
        return NULL;
    }
    return (am_word *)p;
}

am_word *
am_view_words(PyObject *view, PyObject *offset, Py_ssize_t nbytes, PyObject **owner)
{
    *owner = NULL;
    am_word *words = am_words_in_view(view, offset, nbytes);
    if (words == NULL) {
        return NULL;
    }
    /* Shares the view's managed buffer (one more export on it), so the
     * underlying mapping outlives any release() of `view`. */
    *owner = PyMemoryView_FromObject(view);
    return *owner == NULL ? NULL : words;
}

PyObject *
am_cell_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                    Py_ssize_t nbytes)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_from_buffer() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *owner;  /* new reference */
    am_word *words = am_view_words(args[0], args[1], nbytes, &owner);
    if (words == NULL) {
        return NULL;
    }
    am_cell *self = (am_cell *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(owner);
        return NULL;
    }
    self->cell = words;
    self->owner = owner;
    return (PyObject *)self;
}

PyObject *
am_word_cell_new(PyTypeObject *type, int64_t word)
{
    am_word_cell *self = (am_word_cell *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->cell = &self->own;
    self->owner = NULL;
    am_store_release(self->cell, word);
    return (PyObject *)self;
}

PyObject *
am_word_cell_from_buffer(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs)
{
    return am_cell_from_buffer(type, args, nargs, sizeof(am_word));
}

PyObject *
am_word_cell_bytes(PyTypeObject *Py_UNUSED(type), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(sizeof(am_word));
}

PyObject *
am_int64_cell_load(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(am_load_acquire(((am_cell *)op)->cell));
}

PyObject *
am_int64_cell_reset(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(am_exchange_acq_rel(((am_cell *)op)->cell, 0));
}

PyObject *
am_int64_cell_cas(PyObject *op, const char *fname, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t expected, desired;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly 2 arguments (%zd given)", fname, nargs);
        return NULL;
    }
    if (am_as_int64(args[0], "expected", &expected) < 0
        || am_as_int64(args[1], "new", &desired) < 0) {
        return NULL;
    }
    return PyBool_FromLong(am_cas_acq_rel(((am_cell *)op)->cell, &expected, desired));
}

void
am_cell_dealloc(PyObject *op)
{
    am_cell *self = (am_cell *)op;
    PyTypeObject *tp = Py_TYPE(op);
    Py_CLEAR(self->owner);
    tp->tp_free(op);
    Py_DECREF(tp);
}
