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
am_word_cell_bytes(PyTypeObject *Py_UNUSED(type), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(sizeof(am_word));
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
