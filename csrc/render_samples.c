/* render_samples.c -- `_samples`: the Sample tuples of one family of C
 * children for collect() (what registry.snapshot() and the bridges read),
 * built in C from the children and their kept label texts. */
#include "render.h"

/* A new Sample(name, labels, value, text, None) of `type` (a tuple subclass
 * without fields of its own, checked by am_samples): borrowed arguments.
 * New reference, or NULL with an exception set. */
static PyObject *
new_sample(PyTypeObject *type, PyObject *name, PyObject *labels, PyObject *value,
           PyObject *text)
{
    PyObject *s = type->tp_alloc(type, 5);
    if (s == NULL) {
        return NULL;
    }
    PyTuple_SET_ITEM(s, 0, Py_NewRef(name));
    PyTuple_SET_ITEM(s, 1, Py_NewRef(labels));
    PyTuple_SET_ITEM(s, 2, Py_NewRef(value));
    PyTuple_SET_ITEM(s, 3, Py_NewRef(text));
    PyTuple_SET_ITEM(s, 4, Py_NewRef(Py_None));  /* no exemplar */
    return s;
}

/* Append a new Sample to `list`, stealing `value` (NULL: an error is set). */
static int
append_sample(PyTypeObject *st, PyObject *list, PyObject *name, PyObject *labels, PyObject *value,
              PyObject *text)
{
    if (value == NULL) {
        return -1;
    }
    PyObject *s = new_sample(st, name, labels, value, text);
    Py_DECREF(value);
    if (s == NULL) {
        return -1;
    }
    int rc = PyList_Append(list, s);
    Py_DECREF(s);
    return rc;
}

/* The label pairs of a children dict key: ((name, value), ...) for the
 * family's label names (a one-label family's key is the value itself). New
 * reference, or NULL with an exception set. */
static PyObject *
pairs_of_key(PyObject *labelnames, PyObject *key)
{
    Py_ssize_t n = PyTuple_GET_SIZE(labelnames);
    if (n == 1 ? !PyUnicode_Check(key) : !PyTuple_Check(key) || PyTuple_GET_SIZE(key) != n) {
        PyErr_SetString(PyExc_ValueError, "a children key does not match the label names");
        return NULL;
    }
    PyObject *pairs = PyTuple_New(n);
    if (pairs == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = n == 1 ? key : PyTuple_GET_ITEM(key, i);
        PyObject *pair = PyTuple_Pack(2, PyTuple_GET_ITEM(labelnames, i), value);
        if (pair == NULL) {
            Py_DECREF(pairs);
            return NULL;
        }
        PyTuple_SET_ITEM(pairs, i, pair);
    }
    return pairs;
}

/* The text of a histogram bucket sample as a str. New reference. */
static PyObject *
le_text(const char *text, Py_ssize_t text_len, const char *le, Py_ssize_t le_len)
{
    char stack[256];
    size_t need = (size_t)text_len + (size_t)le_len + 8;
    char *buf = need <= sizeof stack ? stack : PyMem_Malloc(need);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    am_out o = {buf, 0};
    am_put_le_text(&o, text, text_len, le, le_len);
    PyObject *s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)o.len, "strict");
    if (buf != stack) {
        PyMem_Free(buf);
    }
    return s;
}

/* The samples of one histogram child, appended to `list`. */
static int
histogram_samples(PyTypeObject *st, PyObject *list, PyObject *names, PyObject *le,
                  PyObject *le_pairs, PyObject *child, PyObject *pairs, PyObject *text,
                  int64_t *buckets)
{
    am_histogram_child *h = (am_histogram_child *)child;
    int64_t count;
    double sum = am_histogram_read(h->cell, buckets, &count);
    int64_t cumulative = 0;
    Py_ssize_t n = PyTuple_GET_SIZE(pairs);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(le); i++) {
        cumulative += buckets[i];
        PyObject *labels = PyTuple_New(n + 1);
        if (labels == NULL) {
            return -1;
        }
        for (Py_ssize_t j = 0; j < n; j++) {
            PyTuple_SET_ITEM(labels, j, Py_NewRef(PyTuple_GET_ITEM(pairs, j)));
        }
        PyTuple_SET_ITEM(labels, n, Py_NewRef(PyTuple_GET_ITEM(le_pairs, i)));
        Py_ssize_t le_len;
        const char *le_utf8 = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(le, i), &le_len);
        PyObject *btext = le_utf8 == NULL ? NULL : le_text(h->text, Py_SIZE(child), le_utf8, le_len);
        int rc = btext == NULL ? -1
                               : append_sample(st, list, PyTuple_GET_ITEM(names, 0), labels,
                                               PyLong_FromLongLong(cumulative), btext);
        Py_DECREF(labels);
        Py_XDECREF(btext);
        if (rc < 0) {
            return -1;
        }
    }
    if (append_sample(st, list, PyTuple_GET_ITEM(names, 1), pairs, PyLong_FromLongLong(count),
                      text) < 0) {
        return -1;
    }
    return append_sample(st, list, PyTuple_GET_ITEM(names, 2), pairs, PyFloat_FromDouble(sum),
                         text);
}

const char am_samples_doc[] =
"_samples(kind, children, names, labelnames, le, sample, /)\n--\n\n"
"Private: the Sample tuple of one family for collect(). children is the\n"
"family's dict of children; names the\n"
"sample names ((name,), or (bucket, count, sum) for a histogram, kind 2);\n"
"le a histogram's le label values (str), else (); sample the class of the\n"
"samples (atomicmetrics.samples.Sample: a tuple subclass without fields of\n"
"its own, made as sample(name, labels, value, rendered_labels, None)).";

PyObject *
am_samples(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int kind;
    if (nargs != 6 || !PyTuple_Check(args[2]) || !PyTuple_Check(args[3])
        || !PyTuple_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "_samples() takes kind, children, names, labelnames, le and sample");
        return NULL;
    }
    PyTypeObject *sample = (PyTypeObject *)args[5];
    if (!PyType_Check(args[5]) || !PyType_IsSubtype(sample, &PyTuple_Type)
        || sample->tp_basicsize != PyTuple_Type.tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "sample must be a tuple subclass without fields");
        return NULL;
    }
    long kind_long = PyLong_AsLong(args[0]);
    if (kind_long == -1 && PyErr_Occurred()) {
        return NULL;
    }
    kind = kind_long < AM_KIND_COUNTER || kind_long > AM_KIND_HISTOGRAM ? -1 : (int)kind_long;
    if (kind < 0 || PyTuple_GET_SIZE(args[2]) != (kind == AM_KIND_HISTOGRAM ? 3 : 1)) {
        PyErr_SetString(PyExc_ValueError, "unknown kind, or names that do not fit it");
        return NULL;
    }
    am_state *st = am_get_state(module);
    PyObject *children = args[1], *names = args[2], *labelnames = args[3], *le = args[4];
    PyTypeObject *type = am_kind_type(st, kind);
    PyObject **kids = NULL, **keys = NULL;
    if (!PyDict_Check(children)) {
        PyErr_SetString(PyExc_TypeError, "children must be a dict");
        return NULL;
    }
    Py_ssize_t n = am_snapshot_dict(children, &kids, &keys);
    if (n < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(0), *le_pairs = NULL, *result = NULL;
    int64_t *buckets = NULL;
    if (list == NULL) {
        goto done;
    }
    if (kind == AM_KIND_HISTOGRAM) {
        Py_ssize_t nle = PyTuple_GET_SIZE(le);
        buckets = PyMem_Malloc((size_t)(nle > 0 ? nle : 1) * sizeof(int64_t));
        le_pairs = PyTuple_New(nle);
        if (buckets == NULL || le_pairs == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        PyObject *le_name = PyUnicode_FromString("le");
        if (le_name == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < nle; i++) {
            PyObject *pair = PyUnicode_Check(PyTuple_GET_ITEM(le, i))
                                 ? PyTuple_Pack(2, le_name, PyTuple_GET_ITEM(le, i))
                                 : NULL;
            if (pair == NULL) {
                if (!PyErr_Occurred()) {
                    PyErr_SetString(PyExc_TypeError, "le values must be str");
                }
                Py_DECREF(le_name);
                goto done;
            }
            PyTuple_SET_ITEM(le_pairs, i, pair);
        }
        Py_DECREF(le_name);
    }
    for (Py_ssize_t c = 0; c < n; c++) {
        PyObject *child = kids[c];
        if (!PyObject_TypeCheck(child, type)) {
            PyErr_Format(PyExc_TypeError, "a child must be a %.100s, not %.100s", type->tp_name,
                         Py_TYPE(child)->tp_name);
            goto done;
        }
        if (kind == AM_KIND_HISTOGRAM
            && am_histogram_nbuckets(((am_histogram_child *)child)->cell)
                   != PyTuple_GET_SIZE(le)) {
            PyErr_SetString(PyExc_ValueError, "a child has other buckets than its family");
            goto done;
        }
        PyObject *pairs = pairs_of_key(labelnames, keys[c]);
        if (pairs == NULL) {
            goto done;
        }
        const char *text_utf8 = kind == AM_KIND_COUNTER ? ((am_counter_child *)child)->text
                                 : kind == AM_KIND_GAUGE ? ((am_gauge_child *)child)->text
                                                         : ((am_histogram_child *)child)->text;
        PyObject *text = PyUnicode_DecodeUTF8(text_utf8, Py_SIZE(child), "strict");
        int rc;
        if (text == NULL) {
            rc = -1;
        }
        else if (kind == AM_KIND_COUNTER) {
            am_counter_reading r;
            am_counter_child_read(child, &r);
            rc = append_sample(sample, list, PyTuple_GET_ITEM(names, 0), pairs,
                               r.exact ? PyLong_FromLongLong(r.whole)
                                       : PyFloat_FromDouble(r.total),
                               text);
        }
        else if (kind == AM_KIND_GAUGE) {
            rc = append_sample(sample, list, PyTuple_GET_ITEM(names, 0), pairs,
                               PyFloat_FromDouble(am_gauge_child_value(child)), text);
        }
        else {
            rc = histogram_samples(sample, list, names, le, le_pairs, child, pairs, text, buckets);
        }
        Py_DECREF(pairs);
        Py_XDECREF(text);
        if (rc < 0) {
            goto done;
        }
    }
    result = PyList_AsTuple(list);
done:
    Py_XDECREF(list);
    Py_XDECREF(le_pairs);
    PyMem_Free(buckets);
    am_drop_refs(kids, n);
    am_drop_refs(keys, n);
    return result;
}

