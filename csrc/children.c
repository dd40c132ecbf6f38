/* children.c -- what the registry's children share: Counter, Gauge and
 * Histogram (atomicmetrics.Counter, .Gauge, .Histogram, in counter_child.c,
 * gauge_child.c and histogram_child.c), what labels() returns.
 *
 * A family keeps one child per label set, so a child is built to be small
 * and to be read without Python: ONE object that holds strong references to
 * its cells and, inline after its fields, its label text rendered once at
 * creation (`{path="/x",method="GET"}`, UTF-8, ob_size bytes; empty for a
 * child without labels). The exposition renderer (render.c) copies that
 * text as it is and reads the cells through cells.h, so a scrape builds no
 * Python object per child. Children are not tracked by the garbage
 * collector: they refer only to cells (and a gauge to a list of cells),
 * which refer to no child, so no reference cycle can pass through one.
 *
 * Cells are what the registry's storage made (atomicmetrics.storage):
 * objects that own their words, or words in the multi-process arena. A
 * counter given no float cell makes its own on its first fractional
 * increment (most counters never see one: 40 bytes less per child).
 *
 * Thread-safety: every recording method is one or two cell operations, as
 * lock-free as the cells. A counter's own float cell is published once, by
 * CAS (acquire loads pair with it). A gauge's cells are replaced by _bind
 * (atomic pointer stores); the cells it replaced stay alive in `retired`
 * for the child's life, since another thread may still be writing into one.
 */
#include "children.h"

PyObject *
am_child_alloc(PyTypeObject *type, PyObject *text, size_t text_offset)
{
    Py_ssize_t len = 0;
    const char *utf8 = "";
    if (text != NULL) {
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "label text must be a str, not %.100s",
                         Py_TYPE(text)->tp_name);
            return NULL;
        }
        utf8 = PyUnicode_AsUTF8AndSize(text, &len);
        if (utf8 == NULL) {
            return NULL;
        }
    }
    PyObject *op = type->tp_alloc(type, len);  /* zero-filled, ob_size = len */
    if (op == NULL) {
        return NULL;
    }
    memcpy((char *)op + text_offset, utf8, (size_t)len);
    return op;
}

int
am_check_cell(PyObject *cell, PyTypeObject *type, const char *what)
{
    if (!PyObject_TypeCheck(cell, type)) {
        PyErr_Format(PyExc_TypeError, "%s must be %.100s, not %.100s", what, type->tp_name,
                     Py_TYPE(cell)->tp_name);
        return -1;
    }
    return 0;
}

am_state *
am_child_state(PyTypeObject *type)
{
    while (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || PyType_GetModule(type) == NULL) {
        PyErr_Clear();  /* PyType_GetModule raised TypeError for a plain class */
        type = type->tp_base;
    }
    return PyType_GetModuleState(type);
}

PyObject *
am_child_text(PyObject *op, const char *text)
{
    return PyUnicode_DecodeUTF8(text, Py_SIZE(op), "strict");
}
