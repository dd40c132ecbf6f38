/* remap.c -- _remap_shared(view, fd): put another file under a live mapping.
 *
 * The multi-process arena gives every process its own copy (a "shard") of
 * the cells of counters, histograms and rule metrics. A process's cell
 * objects point into one mapping per shard chunk, its "window". After
 * fork() the child must record into shards of its own, while every cell
 * object, bound method and C child it inherited keeps its address. This
 * replaces the pages under a window with a MAP_SHARED mapping of the
 * child's own file at the same address: everything inherited then writes
 * the child's words, at no cost per cell and none per call.
 *
 * On Linux the new mapping is made elsewhere first and moved over the
 * window with mremap(MREMAP_FIXED), which replaces it in one step and
 * leaves both mappings intact if it fails; elsewhere mmap(MAP_FIXED) is
 * used directly. */
#include "module.h"

#ifndef _WIN32
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

PyDoc_STRVAR(am_remap_shared_doc,
"_remap_shared(view, fd, /)\n--\n\n"
"Private: map the file open as `fd` (read-write, MAP_SHARED) over the\n"
"pages of `view`, a writable memoryview of a whole page-aligned mapping\n"
"(an mmap.mmap), at the same address. The file must be at least as long\n"
"as the view. Cells placed in the view then read and write the file's\n"
"words. ValueError for a view that is not such a mapping, OSError when\n"
"the system refuses (the old mapping then stays).");

static PyObject *
am_remap_shared(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_remap_shared() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *view = args[0];
    if (!PyMemoryView_Check(view)) {
        PyErr_Format(PyExc_TypeError, "view must be a memoryview, not %.100s",
                     Py_TYPE(view)->tp_name);
        return NULL;
    }
    long fd = PyLong_AsLong(args[1]);
    if (fd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (fd < 0 || fd > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "fd must be an open file descriptor");
        return NULL;
    }
#ifdef _WIN32
    PyErr_SetString(PyExc_NotImplementedError, "_remap_shared() needs a POSIX system");
    return NULL;
#else
    Py_buffer *buf = PyMemoryView_GET_BUFFER(view);
    long page = sysconf(_SC_PAGESIZE);
    if (buf->readonly || !PyBuffer_IsContiguous(buf, 'C') || page <= 0 || buf->len <= 0
        || buf->len % page != 0 || (uintptr_t)buf->buf % (uintptr_t)page != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "view must be a writable memoryview of a whole, page-aligned mapping");
        return NULL;
    }
    struct stat st;
    if (fstat((int)fd, &st) < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (st.st_size < (off_t)buf->len) {
        PyErr_Format(PyExc_ValueError, "the file is %lld bytes long, the view %zd",
                     (long long)st.st_size, buf->len);
        return NULL;
    }
    size_t len = (size_t)buf->len;
#ifdef MREMAP_FIXED
    void *fresh = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
    if (fresh == MAP_FAILED) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (mremap(fresh, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, buf->buf) == MAP_FAILED) {
        int saved = errno;
        (void)munmap(fresh, len);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
#else
    if (mmap(buf->buf, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, (int)fd, 0)
        == MAP_FAILED) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
#endif
    Py_RETURN_NONE;
#endif
}

static PyMethodDef am_remap_methods[] = {
    {"_remap_shared", AM_METHOD(am_remap_shared), METH_FASTCALL, am_remap_shared_doc},
    {NULL, NULL, 0, NULL},
};

int
am_remap_register(PyObject *module, am_state *Py_UNUSED(st))
{
    return PyModule_AddFunctions(module, am_remap_methods);
}
