/* histogram.c -- placeholder registrar until the type lands. */
#include "module.h"

int
am_histogram_register(PyObject *Py_UNUSED(module), am_state *Py_UNUSED(st))
{
    return 0;
}
