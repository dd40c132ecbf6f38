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
#include "render.h"

/* Renders of this many lines or more detach the thread state for phase 2.
 * Below it the render takes under ~1 ms, less than what getting the GIL back
 * may cost on a busy GIL build (up to the 5 ms switch interval). */
#define AM_RENDER_DETACH_LINES 20000

Py_ssize_t
am_snapshot_dict(PyObject *dict, PyObject ***values, PyObject ***keys)
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

void
am_drop_refs(PyObject **refs, Py_ssize_t n)
{
    if (refs == NULL) {
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(refs[i]);
    }
    PyMem_Free(refs);
}

PyTypeObject *
am_kind_type(am_state *st, int kind)
{
    return kind == AM_KIND_COUNTER ? st->counter_child_type
           : kind == AM_KIND_GAUGE ? st->gauge_child_type
                                   : st->histogram_child_type;
}

/* ---- phase 2: writing lines ------------------------------------------------ */

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

static void
write_part(am_out *o, const am_part *part, int openmetrics, int64_t *buckets, __int128 *acc)
{
    if (part->kind < 0) {
        am_put(o, part->name, (size_t)part->name_len);
        return;
    }
    if (part->kind >= AM_KIND_COUNTER_SUM) {
        am_write_sums(o, part, openmetrics, buckets, acc);
        return;
    }
    for (Py_ssize_t c = 0; c < part->nkids; c++) {
        PyObject *child = part->kids[c];
        Py_ssize_t text_len = Py_SIZE(child);
        if (part->kind == AM_KIND_COUNTER) {
            am_put_head(o, part, "", 0, ((am_counter_child *)child)->text, text_len);
            am_counter_reading r;
            am_counter_child_read(child, &r);
            if (r.exact) {
                am_put_int(o, r.whole);
            }
            else {
                am_put_double(o, r.total);
            }
            am_put(o, "\n", 1);
        }
        else if (part->kind == AM_KIND_GAUGE) {
            am_put_head(o, part, "", 0, ((am_gauge_child *)child)->text, text_len);
            am_put_double(o, am_gauge_child_value(child));
            am_put(o, "\n", 1);
        }
        else {
            const char *text = ((am_histogram_child *)child)->text;
            int64_t count;
            double sum = am_histogram_read(((am_histogram_child *)child)->cell, buckets, &count);
            int64_t cumulative = 0;
            for (Py_ssize_t i = 0; i < part->nle; i++) {
                cumulative += buckets[i];
                am_put(o, part->name, (size_t)part->name_len);
                am_put(o, "_bucket", 7);
                am_put_le_text(o, text, text_len, part->le[i], part->le_len[i]);
                am_put(o, " ", 1);
                am_put_int(o, cumulative);
                am_put(o, "\n", 1);
            }
            if (openmetrics && ((part->flags & AM_PART_NO_SUMS) || sum < 0 || isnan(sum))) {
                continue;
            }
            am_put_head(o, part, "_count", 6, text, text_len);
            am_put_int(o, count);
            am_put(o, "\n", 1);
            am_put_head(o, part, "_sum", 4, text, text_len);
            am_put_double(o, sum);
            am_put(o, "\n", 1);
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
        || !PyArg_ParseTuple(item, "iOO!O!i:_render part", &part->kind, &children, &PyBytes_Type,
                             &name, &PyTuple_Type, &le, &part->flags)) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "a part must be bytes or a tuple, not %.100s",
                         Py_TYPE(item)->tp_name);
        }
        return -1;
    }
    if (part->kind < AM_KIND_COUNTER || part->kind > AM_KIND_GAUGE_SET) {
        PyErr_Format(PyExc_ValueError, "unknown family kind %d", part->kind);
        return -1;
    }
    int sums = part->kind >= AM_KIND_COUNTER_SUM;
    if (!(sums ? PyTuple_Check(children) : PyDict_Check(children))) {
        PyErr_SetString(PyExc_TypeError,
                        "a family part holds a dict of children, or a tuple of series");
        return -1;
    }
    part->name = PyBytes_AS_STRING(name);
    part->name_len = PyBytes_GET_SIZE(name);
    part->nle = PyTuple_GET_SIZE(le);
    if (part->kind == AM_KIND_HISTOGRAM || part->kind == AM_KIND_HISTOGRAM_SUM) {
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
    if (sums) {
        return am_plan_sums(st, part, children, bound, lines, max_buckets);
    }
    part->nkids = am_snapshot_dict(children, &part->kids, NULL);
    if (part->nkids < 0) {
        part->nkids = 0;
        return -1;
    }
    PyTypeObject *type = am_kind_type(st, part->kind);
    for (Py_ssize_t c = 0; c < part->nkids; c++) {
        PyObject *child = part->kids[c];
        if (!PyObject_TypeCheck(child, type)) {
            PyErr_Format(PyExc_TypeError, "a child of %s must be a %.100s, not %.100s",
                         part->name, type->tp_name, Py_TYPE(child)->tp_name);
            return -1;
        }
        if (part->kind == AM_KIND_HISTOGRAM
            && (((am_histogram_child *)child)->cell == NULL
                || am_histogram_nbuckets(((am_histogram_child *)child)->cell) != part->nle)) {
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
        am_drop_refs(parts[i].kids, parts[i].nkids);
        PyMem_Free((void *)parts[i].le);
        PyMem_Free(parts[i].le_len);
    }
    PyMem_Free(parts);
}

PyDoc_STRVAR(render_doc,
"_render(parts, openmetrics, /)\n--\n\n"
"Private: the exposition text of `parts` (a tuple) as bytes. Each part is\n"
"bytes (written as it is) or a family: (kind, children, name, le, flags),\n"
"kind 0 counter / 1 gauge / 2 histogram with children the family's dict of\n"
"children, or kind 3 counter / 4 histogram / 5 gauge summed over processes\n"
"with children a tuple of series (csrc/render_sums.c); name the sample name\n"
"as bytes (a histogram's family name), le a histogram's le label values as\n"
"bytes (else ()), flags 1 when OpenMetrics must show no _count/_sum at all,\n"
"or a gauge set's mode.");

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
    __int128 *acc = NULL;
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
    acc = PyMem_RawMalloc((size_t)(max_buckets > 0 ? max_buckets : 1) * sizeof(__int128));
    if (result == NULL || buckets == NULL || acc == NULL) {
        Py_CLEAR(result);
        PyErr_NoMemory();
        goto done;
    }
    out.p = PyBytes_AS_STRING(result);
    if (lines >= AM_RENDER_DETACH_LINES) {  /* phase 2 */
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < nparts; i++) {
            write_part(&out, &parts[i], openmetrics, buckets, acc);
        }
        Py_END_ALLOW_THREADS
    }
    else {
        for (Py_ssize_t i = 0; i < nparts; i++) {
            write_part(&out, &parts[i], openmetrics, buckets, acc);
        }
    }
    (void)_PyBytes_Resize(&result, (Py_ssize_t)out.len);  /* phase 3; NULL on failure */
done:
    free_parts(parts, nparts);
    PyMem_RawFree(buckets);
    PyMem_RawFree(acc);
    return result;
}

static PyMethodDef render_functions[] = {
    {"_render", AM_METHOD(am_render), METH_FASTCALL, render_doc},
    {"_samples", AM_METHOD(am_samples), METH_FASTCALL, am_samples_doc},
    {NULL, NULL, 0, NULL},
};

int
am_render_register(PyObject *module, am_state *Py_UNUSED(st))
{
    return PyModule_AddFunctions(module, render_functions);
}
