/* module.c -- atomicmetrics._core: multi-phase init, module state, the
 * list of types, and what every type's registration and lifetime share.
 * The module holds cells and their atomic operations only; names, labels
 * and formatting belong to the Python layers above it. */
#include "module.h"

#include <assert.h>

am_state *
am_get_state(PyObject *module)
{
    void *state = PyModule_GetState(module);
    assert(state != NULL);
    return (am_state *)state;
}

int
am_add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **out)
{
    PyTypeObject *type = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
    if (type == NULL) {
        return -1;
    }
    int rc = PyModule_AddType(module, type);  /* a reference of its own */
    if (out != NULL) {
        *out = type;
    }
    else {
        Py_DECREF(type);
    }
    return rc;
}

void
am_gc_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)tp->tp_clear(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

PyObject *
am_init_subclass(PyObject *cls, PyTypeObject *defining_class, PyObject *const *Py_UNUSED(args),
                 Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs != 0 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_Format(PyExc_TypeError, "%s.__init_subclass__() takes no arguments",
                     ((PyTypeObject *)cls)->tp_name);
        return NULL;
    }
    for (PyMethodDef *m = defining_class->tp_methods; m->ml_name != NULL; m++) {
        if (m->ml_flags & (METH_CLASS | METH_STATIC)) {
            continue;
        }
        PyObject *current = PyObject_GetAttrString(cls, m->ml_name);  /* new reference */
        if (current == NULL) {
            return NULL;
        }
        int inherited = Py_IS_TYPE(current, &PyMethodDescr_Type)
                        && ((PyMethodDescrObject *)current)->d_method == m;
        Py_DECREF(current);
        if (!inherited) {
            continue;  /* overridden on the way down: not ours to replace */
        }
        PyObject *descr = PyDescr_NewMethod((PyTypeObject *)cls, m);  /* new reference */
        if (descr == NULL) {
            return NULL;
        }
        int rc = PyObject_SetAttrString(cls, m->ml_name, descr);
        Py_DECREF(descr);
        if (rc < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

typedef int (*am_registrar)(PyObject *, am_state *);

/* One entry per C type; each lives in the file named after it. */
static const am_registrar am_registrars[] = {
    am_counter_register,
    am_float_register,
    am_duration_register,
    am_minmax_register,
    am_histogram_register,
    am_native_histogram_register,
    am_rule_metric_register,
    am_throughput_register,
    am_ring_register,
    am_null_sink_register,
    am_striped_register,
    am_float_adder_register,
    am_fastcall_register,
    am_lifetime_register,
    am_remap_register,
    am_counter_child_register,
    am_gauge_child_register,
    am_histogram_child_register,
    am_render_register,
};

static int
am_exec(PyObject *module)
{
    am_state *st = am_get_state(module);
    for (size_t i = 0; i < sizeof am_registrars / sizeof am_registrars[0]; i++) {
        if (am_registrars[i](module, st) < 0) {
            return -1;
        }
    }
    st->exemplar_slots = PyDict_New();
    if (st->exemplar_slots == NULL) {
        return -1;
    }
    if (PyModule_AddIntConstant(module, "FREE_THREADED_BUILD", AM_FREE_THREADED) < 0) {
        return -1;
    }
    return 0;
}

#define AM_STATE_TYPES(X) \
    X(counter_type) X(float_type) X(duration_type) X(minmax_type) \
    X(histogram_type) X(native_histogram_type) X(exemplar_slots) X(rule_metric_type) \
    X(throughput_type) \
    X(ring_type) X(striped_type) X(int_adder_type) X(float_adder_type) \
    X(timedelta_type) X(fast_lookup_type) X(default_call_type) \
    X(counter_child_type) X(gauge_child_type) X(histogram_child_type)

static int
am_traverse(PyObject *module, visitproc visit, void *arg)
{
    am_state *st = PyModule_GetState(module);
    if (st == NULL) {
        return 0;
    }
#define AM_VISIT(f) Py_VISIT(st->f);
    AM_STATE_TYPES(AM_VISIT)
#undef AM_VISIT
    return 0;
}

static int
am_clear(PyObject *module)
{
    am_state *st = PyModule_GetState(module);
    if (st == NULL) {
        return 0;
    }
#define AM_CLEAR(f) Py_CLEAR(st->f);
    AM_STATE_TYPES(AM_CLEAR)
#undef AM_CLEAR
    return 0;
}

static void
am_free(void *module)
{
    (void)am_clear((PyObject *)module);
}

static PyModuleDef_Slot am_slots[] = {
    {Py_mod_exec, am_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(am_doc,
"atomicmetrics._core -- lock-free metric cells on C11 atomics.\n\n"
"Private: import the public names from ``atomicmetrics``.");

static struct PyModuleDef am_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "atomicmetrics._core",
    .m_doc = am_doc,
    .m_size = sizeof(am_state),
    .m_slots = am_slots,
    .m_traverse = am_traverse,
    .m_clear = am_clear,
    .m_free = am_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&am_module);
}
