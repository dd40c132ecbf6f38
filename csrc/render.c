/* render.c -- exposition of the registry's families in C: `_render` writes
 * the text formats (Prometheus 0.0.4 and OpenMetrics 1.0) of a whole
 * registry into one buffer, `_samples` builds the Sample tuples of one
 * family for collect(). The Python layer (atomicmetrics.rendering) decides
 * what is rendered and renders the family headers; these functions write
 * the sample lines, byte for byte as the Python formats do
 * (atomicmetrics.formatting):
 *
 *   counter, gauge   <name><text> <value>\n
 *   histogram        <name>_bucket<text + le="b"> <cumulative count>\n per bucket,
 *                    <name>_count<text> <count>\n, <name>_sum<text> <sum>\n
 *                    (OpenMetrics leaves out _count and _sum of a child whose
 *                    sum is negative or NaN, and of every child when a bound
 *                    is negative: the format forbids them)
 *
 * <text> is the child's label text, rendered once when it was created
 * (children.h); values are spelled by format.h.
 *
 * A render runs in three phases. 1 (thread state attached): every family's
 * children dict is copied, under a critical section on the dict, into an
 * array of strong references, and the size of the output is bounded from
 * their text lengths. 2: the lines are written into one buffer; no Python
 * object is touched but through the array
 * (children stay alive: the array owns them) and the cells are read
 * through cells.h, so when the render is large (AM_RENDER_DETACH_LINES or
 * more lines) this phase runs with the thread state detached -- the GIL
 * released -- and recording threads keep their speed meanwhile
 * (benchmarks/bench_scrape_interference.py). The buffer is the bytes result
 * itself, allocated for the most the lines can take: writing once into
 * fresh pages is most of what a large render costs beyond reading the
 * cells (a second buffer and a copy cost a third more at 800,000 lines).
 * 3 (attached again): the result is shrunk to its length and the
 * references are dropped.
 * A child removed during the render is still rendered (it was copied in
 * phase 1); one created during it is not: what a scrape shows is the
 * children of phase 1, each value read once in phase 2.
 */
#include "cells.h"
#include "children.h"
#include "format.h"

#include <math.h>
#include <stddef.h>

/* Renders of this many lines or more detach the thread state for phase 2.
 * Below it the render takes under ~1 ms, less than what getting the GIL back
 * may cost on a busy GIL build (up to the 5 ms switch interval). */
#define AM_RENDER_DETACH_LINES 20000

enum { AM_KIND_COUNTER = 0, AM_KIND_GAUGE = 1, AM_KIND_HISTOGRAM = 2 };

/* Part flags (the fifth item of a family part). */
#define AM_PART_NO_SUMS 1  /* OpenMetrics: no _count/_sum on any child (a negative bound) */

/* One part of a render, as phase 1 planned it. */
typedef struct {
    int kind;           /* AM_KIND_*, or -1 for text written as it is */
    int flags;          /* AM_PART_* */
    const char *name;   /* sample name (histograms: the family name), or the text */
    Py_ssize_t name_len;
    const char **le;    /* histograms: the le label values, nle of them */
    Py_ssize_t *le_len;
    Py_ssize_t nle;
    PyObject **kids;    /* strong references to the children, nkids of them */
    Py_ssize_t nkids;
} am_part;

/* Copy the values of `dict` (and its keys when `keys` is not NULL) into new
 * arrays of strong references. Returns the number of items, or -1 with an
 * exception set. */
static Py_ssize_t
snapshot_dict(PyObject *dict, PyObject ***values, PyObject ***keys)
{
    Py_ssize_t n = -1;
    *values = NULL;
    if (keys != NULL) {
        *keys = NULL;
    }
    Py_BEGIN_CRITICAL_SECTION(dict);
    Py_ssize_t size = PyDict_GET_SIZE(dict);
    PyObject **v = PyMem_Malloc((size_t)(size > 0 ? size : 1) * sizeof(PyObject *));
    PyObject **k = keys == NULL ? NULL
                                : PyMem_Malloc((size_t)(size > 0 ? size : 1) * sizeof(PyObject *));
    if (v == NULL || (keys != NULL && k == NULL)) {
        PyMem_Free(v);
        PyMem_Free(k);
        PyErr_NoMemory();
    }
    else {
        Py_ssize_t pos = 0, i = 0;
        PyObject *key, *value;
        while (i < size && PyDict_Next(dict, &pos, &key, &value)) {
            v[i] = Py_NewRef(value);
            if (k != NULL) {
                k[i] = Py_NewRef(key);
            }
            i++;
        }
        n = i;
        *values = v;
        if (keys != NULL) {
            *keys = k;
        }
    }
    Py_END_CRITICAL_SECTION();
    return n;
}

static void
drop_refs(PyObject **refs, Py_ssize_t n)
{
    if (refs == NULL) {
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(refs[i]);
    }
    PyMem_Free(refs);
}

/* The child type a family part of `kind` holds (borrowed). */
static PyTypeObject *
kind_type(am_state *st, int kind)
{
    return kind == AM_KIND_COUNTER ? st->counter_child_type
           : kind == AM_KIND_GAUGE ? st->gauge_child_type
                                   : st->histogram_child_type;
}

/* ---- phase 2: writing lines ------------------------------------------------ */

typedef struct {
    char *p;
    size_t len;
} am_out;

static inline void
put(am_out *o, const char *s, size_t n)
{
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static inline void
put_int(am_out *o, int64_t v)
{
    o->len += am_format_int64(v, o->p + o->len);
}

static inline void
put_double(am_out *o, double x)
{
    o->len += am_format_double(x, o->p + o->len);
}

/* Child text with `,le="b"}` (or `{le="b"}` without labels) in place of its
 * closing brace. */
static inline void
put_le_text(am_out *o, const char *text, Py_ssize_t text_len, const char *le, Py_ssize_t le_len)
{
    if (text_len > 0) {
        put(o, text, (size_t)text_len - 1);
        put(o, ",le=\"", 5);
    }
    else {
        put(o, "{le=\"", 5);
    }
    put(o, le, (size_t)le_len);
    put(o, "\"}", 2);
}

/* Bytes of the lines of one child of `part`, at most (text_len: its text's). */
static size_t
child_bound(const am_part *part, Py_ssize_t text_len)
{
    size_t line = (size_t)part->name_len + (size_t)text_len + 2 + AM_FMT_MAX;
    if (part->kind != AM_KIND_HISTOGRAM) {
        return line;
    }
    size_t size = 2 * (line + 6);  /* _count, _sum */
    for (Py_ssize_t i = 0; i < part->nle; i++) {
        size += line + 7 + 7 + (size_t)part->le_len[i];  /* _bucket, {le="..."} */
    }
    return size;
}

/* The start of a sample line of `part`: `<name><suffix><text> `. */
static inline void
put_head(am_out *o, const am_part *part, const char *suffix, size_t suffix_len,
         const char *text, Py_ssize_t text_len)
{
    put(o, part->name, (size_t)part->name_len);
    put(o, suffix, suffix_len);
    put(o, text, (size_t)text_len);
    put(o, " ", 1);
}

static void
write_part(am_out *o, const am_part *part, int openmetrics, int64_t *buckets)
{
    if (part->kind < 0) {
        put(o, part->name, (size_t)part->name_len);
        return;
    }
    for (Py_ssize_t c = 0; c < part->nkids; c++) {
        PyObject *child = part->kids[c];
        Py_ssize_t text_len = Py_SIZE(child);
        if (part->kind == AM_KIND_COUNTER) {
            put_head(o, part, "", 0, ((am_counter_child *)child)->text, text_len);
            am_counter_reading r;
            am_counter_child_read(child, &r);
            if (r.exact) {
                put_int(o, r.whole);
            }
            else {
                put_double(o, r.total);
            }
            put(o, "\n", 1);
        }
        else if (part->kind == AM_KIND_GAUGE) {
            put_head(o, part, "", 0, ((am_gauge_child *)child)->text, text_len);
            put_double(o, am_gauge_child_value(child));
            put(o, "\n", 1);
        }
        else {
            const char *text = ((am_histogram_child *)child)->text;
            int64_t count;
            double sum = am_histogram_read(((am_histogram_child *)child)->cell, buckets, &count);
            int64_t cumulative = 0;
            for (Py_ssize_t i = 0; i < part->nle; i++) {
                cumulative += buckets[i];
                put(o, part->name, (size_t)part->name_len);
                put(o, "_bucket", 7);
                put_le_text(o, text, text_len, part->le[i], part->le_len[i]);
                put(o, " ", 1);
                put_int(o, cumulative);
                put(o, "\n", 1);
            }
            if (openmetrics && ((part->flags & AM_PART_NO_SUMS) || sum < 0 || isnan(sum))) {
                continue;
            }
            put_head(o, part, "_count", 6, text, text_len);
            put_int(o, count);
            put(o, "\n", 1);
            put_head(o, part, "_sum", 4, text, text_len);
            put_double(o, sum);
            put(o, "\n", 1);
        }
    }
}

/* ---- phase 1: planning ------------------------------------------------------- */

/* Fill `part` from one item of the parts tuple; adds its output bound to
 * *bound, its lines to *lines and raises *max_buckets to its bucket count.
 * Returns 0, or -1 with an exception set (part->kids may hold references:
 * the caller drops them). */
static int
plan_part(am_state *st, PyObject *item, am_part *part, size_t *bound, Py_ssize_t *lines,
          Py_ssize_t *max_buckets)
{
    if (PyBytes_Check(item)) {
        part->kind = -1;
        part->name = PyBytes_AS_STRING(item);
        part->name_len = PyBytes_GET_SIZE(item);
        *bound += (size_t)part->name_len;
        return 0;
    }
    PyObject *children, *name, *le;
    if (!PyTuple_Check(item)
        || !PyArg_ParseTuple(item, "iO!O!O!i:_render part", &part->kind, &PyDict_Type, &children,
                             &PyBytes_Type, &name, &PyTuple_Type, &le, &part->flags)) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "a part must be bytes or a tuple, not %.100s",
                         Py_TYPE(item)->tp_name);
        }
        return -1;
    }
    if (part->kind < AM_KIND_COUNTER || part->kind > AM_KIND_HISTOGRAM) {
        PyErr_Format(PyExc_ValueError, "unknown family kind %d", part->kind);
        return -1;
    }
    part->name = PyBytes_AS_STRING(name);
    part->name_len = PyBytes_GET_SIZE(name);
    part->nle = PyTuple_GET_SIZE(le);
    if (part->kind == AM_KIND_HISTOGRAM) {
        part->le = PyMem_Malloc((size_t)(part->nle + 1) * sizeof(char *));
        part->le_len = PyMem_Malloc((size_t)(part->nle + 1) * sizeof(Py_ssize_t));
        if (part->le == NULL || part->le_len == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < part->nle; i++) {
            PyObject *b = PyTuple_GET_ITEM(le, i);
            if (!PyBytes_Check(b)) {
                PyErr_SetString(PyExc_TypeError, "le values must be bytes");
                return -1;
            }
            part->le[i] = PyBytes_AS_STRING(b);
            part->le_len[i] = PyBytes_GET_SIZE(b);
        }
        if (part->nle > *max_buckets) {
            *max_buckets = part->nle;
        }
    }
    part->nkids = snapshot_dict(children, &part->kids, NULL);
    if (part->nkids < 0) {
        part->nkids = 0;
        return -1;
    }
    PyTypeObject *type = kind_type(st, part->kind);
    for (Py_ssize_t c = 0; c < part->nkids; c++) {
        PyObject *child = part->kids[c];
        if (!PyObject_TypeCheck(child, type)) {
            PyErr_Format(PyExc_TypeError, "a child of %s must be a %.100s, not %.100s",
                         part->name, type->tp_name, Py_TYPE(child)->tp_name);
            return -1;
        }
        if (part->kind == AM_KIND_HISTOGRAM
            && am_histogram_nbuckets(((am_histogram_child *)child)->cell) != part->nle) {
            PyErr_Format(PyExc_ValueError, "a child of %s has other buckets than its family",
                         part->name);
            return -1;
        }
        *bound += child_bound(part, Py_SIZE(child));
    }
    *lines += part->nkids * (part->kind == AM_KIND_HISTOGRAM ? part->nle + 2 : 1);
    return 0;
}

static void
free_parts(am_part *parts, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        drop_refs(parts[i].kids, parts[i].nkids);
        PyMem_Free((void *)parts[i].le);
        PyMem_Free(parts[i].le_len);
    }
    PyMem_Free(parts);
}

PyDoc_STRVAR(render_doc,
"_render(parts, openmetrics, /)\n--\n\n"
"Private: the exposition text of `parts` (a tuple) as bytes. Each part is\n"
"bytes (written as it is) or a family: (kind, children, name, le, flags),\n"
"kind 0 counter / 1 gauge / 2 histogram, children the family's dict of\n"
"children, name the sample name as bytes (a histogram's family name), le\n"
"a histogram's le label values as bytes (else ()), flags 1 when\n"
"OpenMetrics must show no _count/_sum at all.");

static PyObject *
am_render(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_render() takes a tuple of parts and a bool");
        return NULL;
    }
    int openmetrics = PyObject_IsTrue(args[1]);
    if (openmetrics < 0) {
        return NULL;
    }
    am_state *st = am_get_state(module);
    PyObject *items = args[0];
    Py_ssize_t nparts = PyTuple_GET_SIZE(items);
    am_part *parts = PyMem_Calloc((size_t)(nparts > 0 ? nparts : 1), sizeof(am_part));
    if (parts == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    am_out out = {NULL, 0};
    int64_t *buckets = NULL;
    size_t bound = 0;
    Py_ssize_t lines = 0, max_buckets = 0;
    for (Py_ssize_t i = 0; i < nparts; i++) {  /* phase 1 */
        if (plan_part(st, PyTuple_GET_ITEM(items, i), &parts[i], &bound, &lines,
                      &max_buckets) < 0) {
            goto done;
        }
    }
    /* Written in place into the result, sized for the most the lines can
     * take, then shrunk: one buffer, each page touched once. Only this
     * thread knows the object until it returns. _PyBytes_Resize is the
     * documented way to build a new bytes object ("Bytes Objects" in the
     * C API manual). */
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)bound);
    buckets = PyMem_RawMalloc((size_t)(max_buckets > 0 ? max_buckets : 1) * sizeof(int64_t));
    if (result == NULL || buckets == NULL) {
        Py_CLEAR(result);
        PyErr_NoMemory();
        goto done;
    }
    out.p = PyBytes_AS_STRING(result);
    if (lines >= AM_RENDER_DETACH_LINES) {  /* phase 2 */
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < nparts; i++) {
            write_part(&out, &parts[i], openmetrics, buckets);
        }
        Py_END_ALLOW_THREADS
    }
    else {
        for (Py_ssize_t i = 0; i < nparts; i++) {
            write_part(&out, &parts[i], openmetrics, buckets);
        }
    }
    (void)_PyBytes_Resize(&result, (Py_ssize_t)out.len);  /* phase 3; NULL on failure */
done:
    free_parts(parts, nparts);
    PyMem_RawFree(buckets);
    return result;
}

/* ---- _samples: collect() of one family -------------------------------------- */

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
    put_le_text(&o, text, text_len, le, le_len);
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

PyDoc_STRVAR(samples_doc,
"_samples(kind, children, names, labelnames, le, sample, /)\n--\n\n"
"Private: the Sample tuple of one family for collect(). children is the\n"
"family's dict of children; names the\n"
"sample names ((name,), or (bucket, count, sum) for a histogram, kind 2);\n"
"le a histogram's le label values (str), else (); sample the class of the\n"
"samples (atomicmetrics.samples.Sample: a tuple subclass without fields of\n"
"its own, made as sample(name, labels, value, rendered_labels, None)).");

static PyObject *
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
    PyTypeObject *type = kind_type(st, kind);
    PyObject **kids = NULL, **keys = NULL;
    if (!PyDict_Check(children)) {
        PyErr_SetString(PyExc_TypeError, "children must be a dict");
        return NULL;
    }
    Py_ssize_t n = snapshot_dict(children, &kids, &keys);
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
    drop_refs(kids, n);
    drop_refs(keys, n);
    return result;
}

static PyMethodDef render_functions[] = {
    {"_render", AM_METHOD(am_render), METH_FASTCALL, render_doc},
    {"_samples", AM_METHOD(am_samples), METH_FASTCALL, samples_doc},
    {NULL, NULL, 0, NULL},
};

int
am_render_register(PyObject *module, am_state *Py_UNUSED(st))
{
    return PyModule_AddFunctions(module, render_functions);
}
