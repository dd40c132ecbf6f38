/* storage.c -- cells placed in memory the object does not own (an arena). */
#include "module.h"

am_word *
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

PyObject *
am_pin_view(PyObject *view)
{
    /* Shares the view's managed buffer (one more export on it), so the
     * underlying mapping outlives any release() of `view`. */
    return PyMemoryView_FromObject(view);
}
