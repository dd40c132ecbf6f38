/* null_sink.c -- NullSink: the record() of a recorder that is switched off.
 * A C base class so that NullRecorder.record costs one bare C method call
 * and no Python frame. Holds nothing; no state. */
#include "module.h"

PyDoc_STRVAR(NullSink_record_doc,
"record($self, /, *args)\n--\n\n"
"Accept any arguments, do nothing, return False.");

static PyObject *
NullSink_record(PyObject *Py_UNUSED(self), PyObject *const *Py_UNUSED(args),
                Py_ssize_t Py_UNUSED(nargs))
{
    Py_RETURN_FALSE;
}

static PyMethodDef NullSink_methods[] = {
    {"record", AM_METHOD(NullSink_record), METH_FASTCALL, NullSink_record_doc},
    AM_INIT_SUBCLASS,
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(NullSink_doc,
"NullSink()\n--\n\n"
"Private: base class of NullRecorder, whose record() is a C method that does\n"
"nothing, so that a recorder switched off costs one bare C method call.");

static PyType_Slot NullSink_slots[] = {
    {Py_tp_methods, NullSink_methods},
    {Py_tp_doc, (void *)NullSink_doc},
    {0, NULL},
};

static PyType_Spec NullSink_spec = {
    .name = "atomicmetrics._core.NullSink",
    .basicsize = sizeof(PyObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = NullSink_slots,
};

int
am_null_sink_register(PyObject *module, am_state *Py_UNUSED(st))
{
    /* Referenced by the module's dict only: no C code tests for this type. */
    return am_add_type(module, &NullSink_spec, NULL);
}
