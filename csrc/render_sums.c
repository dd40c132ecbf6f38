/* render_sums.c -- the series of a multi-process registry, rendered by
 * `_render` (kinds 3-5 of render.h): each series is the sum (or, for
 * gauges, the combination by mode) of cells in several processes' shards,
 * read at the scrape through cells.h, with the same arithmetic as the
 * Python readers (atomicmetrics.multiprocess.readers and the registry's
 * gauge family), so both paths give the same bytes:
 *
 *   counter sum     (text, ints, floats): floats added left to right from
 *                   0.0 first, then the ints exactly (int128); the total as
 *                   Counter.value() makes it from those two parts
 *   histogram sum   (text, cells): each shard's consistent snapshot added
 *                   bucket by bucket (int128), sums left to right from 0.0
 *   gauge set       (texts, values, stamps): by the part's mode, over the
 *                   cells the caller kept (live ones only in "live" modes):
 *                   all -- one line per cell, texts[i] its labels with pid;
 *                   sum -- added left to right from 0.0; max/min -- the
 *                   first largest/smallest by > / < (as Python's max/min);
 *                   mostrecent -- the value of the first cell with the
 *                   latest stamp
 *
 * The entries tuple is immutable and held by the caller for the whole
 * render, and each entry's tuples hold their cells, so phase 2 needs no
 * reference of its own (nor the GIL).
 */
#include "render.h"

/* Bytes a value may take: an int128 has up to 40 digits and a sign. */
#define AM_SUM_VALUE_MAX 48

static int
check_cells(PyObject *cells, PyTypeObject *type, int exact, const char *what)
{
    if (!PyTuple_Check(cells)) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple", what);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(cells); i++) {
        PyObject *cell = PyTuple_GET_ITEM(cells, i);
        if (exact ? !Py_IS_TYPE(cell, type) : !PyObject_TypeCheck(cell, type)) {
            PyErr_Format(PyExc_TypeError, "%s must hold %.100s cells, not %.100s", what,
                         type->tp_name, Py_TYPE(cell)->tp_name);
            return -1;
        }
    }
    return 0;
}

/* An entry of `part`: a tuple of `n` items whose first is bytes (or, for a
 * gauge set, a tuple of bytes). Returns the entry (borrowed) or NULL with
 * an exception set. */
static PyObject *
entry_at(PyObject *entries, Py_ssize_t i, Py_ssize_t n)
{
    PyObject *e = PyTuple_GET_ITEM(entries, i);
    if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != n) {
        PyErr_Format(PyExc_TypeError, "a series must be a tuple of %zd items", n);
        return NULL;
    }
    return e;
}

int
am_plan_sums(am_state *st, am_part *part, PyObject *entries, size_t *bound, Py_ssize_t *lines,
             Py_ssize_t *max_buckets)
{
    part->entries = entries;
    size_t name = (size_t)part->name_len;
    Py_ssize_t n = PyTuple_GET_SIZE(entries);
    if (part->kind == AM_KIND_GAUGE_SET
        && (part->flags < AM_GAUGE_ALL || part->flags > AM_GAUGE_MOSTRECENT)) {
        PyErr_Format(PyExc_ValueError, "unknown gauge mode %d", part->flags);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = entry_at(entries, i, 3 - (part->kind == AM_KIND_HISTOGRAM_SUM));
        if (e == NULL) {
            return -1;
        }
        PyObject *text = PyTuple_GET_ITEM(e, 0);
        if (part->kind == AM_KIND_GAUGE_SET) {
            PyObject *values = PyTuple_GET_ITEM(e, 1), *stamps = PyTuple_GET_ITEM(e, 2);
            if (check_cells(values, st->float_type, 1, "values") < 0
                || check_cells(stamps, st->counter_type, 1, "stamps") < 0) {
                return -1;
            }
            Py_ssize_t cells = PyTuple_GET_SIZE(values);
            Py_ssize_t texts = part->flags == AM_GAUGE_ALL ? cells : 1;
            if (!PyTuple_Check(text) || PyTuple_GET_SIZE(text) != texts || cells == 0
                || PyTuple_GET_SIZE(stamps) != cells) {
                PyErr_SetString(PyExc_ValueError,
                                "a gauge series needs one cell and one stamp per process, "
                                "and one text per line");
                return -1;
            }
            for (Py_ssize_t t = 0; t < texts; t++) {
                PyObject *line = PyTuple_GET_ITEM(text, t);
                if (!PyBytes_Check(line)) {
                    PyErr_SetString(PyExc_TypeError, "label texts must be bytes");
                    return -1;
                }
                *bound += name + (size_t)PyBytes_GET_SIZE(line) + 2 + AM_FMT_MAX;
            }
            *lines += texts;
            continue;
        }
        if (!PyBytes_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "label texts must be bytes");
            return -1;
        }
        size_t line = name + (size_t)PyBytes_GET_SIZE(text) + 2 + AM_SUM_VALUE_MAX;
        if (part->kind == AM_KIND_COUNTER_SUM) {
            if (check_cells(PyTuple_GET_ITEM(e, 1), st->counter_type, 1, "ints") < 0
                || check_cells(PyTuple_GET_ITEM(e, 2), st->float_type, 1, "floats") < 0) {
                return -1;
            }
            *bound += line;
            *lines += 1;
            continue;
        }
        PyObject *cells = PyTuple_GET_ITEM(e, 1);
        if (check_cells(cells, st->histogram_type, 0, "cells") < 0) {
            return -1;
        }
        for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(cells); c++) {
            if (am_histogram_nbuckets(PyTuple_GET_ITEM(cells, c)) != part->nle) {
                PyErr_Format(PyExc_ValueError, "a series of %s has other buckets than its family",
                             part->name);
                return -1;
            }
        }
        *bound += 2 * (line + 6);  /* _count, _sum */
        for (Py_ssize_t b = 0; b < part->nle; b++) {
            *bound += line + 14 + (size_t)part->le_len[b];  /* _bucket, {le="..."} */
        }
        *lines += part->nle + 2;
    }
    if (part->kind == AM_KIND_HISTOGRAM_SUM && part->nle > *max_buckets) {
        *max_buckets = part->nle;
    }
    return 0;
}

/* Counter.value() of the parts `whole` (exact) and `frac`, written. */
static void
put_counter_total(am_out *o, __int128 whole, double frac)
{
    if (frac == 0.0) {
        am_put_int128(o, whole);
        return;
    }
    double total = (double)whole + frac;  /* Python's int + float: whole rounded first */
    /* total < whole exactly (see am_counter_child_read): one ULP up. Sums of
     * int64 shards stay far inside +-2**126. */
    if (!isnan(total) && total < 0x1p126 && (total < -0x1p126 || (__int128)floor(total) < whole)) {
        total = nextafter(total, INFINITY);
    }
    am_put_double(o, total);
}

static void
write_counter_sum(am_out *o, const am_part *part, PyObject *e)
{
    PyObject *ints = PyTuple_GET_ITEM(e, 1), *floats = PyTuple_GET_ITEM(e, 2);
    double frac = 0.0;  /* float parts first, as the Python reader */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(floats); i++) {
        frac += am_atomic_float_load(PyTuple_GET_ITEM(floats, i));
    }
    __int128 whole = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ints); i++) {
        whole += am_atomic_counter_load(PyTuple_GET_ITEM(ints, i));
    }
    PyObject *text = PyTuple_GET_ITEM(e, 0);
    am_put_head(o, part, "", 0, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text));
    put_counter_total(o, whole, frac);
    am_put(o, "\n", 1);
}

static void
write_histogram_sum(am_out *o, const am_part *part, PyObject *e, int openmetrics,
                    int64_t *shard, __int128 *acc)
{
    PyObject *cells = PyTuple_GET_ITEM(e, 1);
    Py_ssize_t nb = part->nle;
    memset(acc, 0, (size_t)nb * sizeof(__int128));
    __int128 count = 0;
    double sum = 0.0;
    for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(cells); c++) {
        int64_t n;
        sum += am_histogram_read(PyTuple_GET_ITEM(cells, c), shard, &n);
        count += n;
        for (Py_ssize_t b = 0; b < nb; b++) {
            acc[b] += shard[b];
        }
    }
    PyObject *textobj = PyTuple_GET_ITEM(e, 0);
    const char *text = PyBytes_AS_STRING(textobj);
    Py_ssize_t text_len = PyBytes_GET_SIZE(textobj);
    __int128 cumulative = 0;
    for (Py_ssize_t b = 0; b < nb; b++) {
        cumulative += acc[b];
        am_put(o, part->name, (size_t)part->name_len);
        am_put(o, "_bucket", 7);
        am_put_le_text(o, text, text_len, part->le[b], part->le_len[b]);
        am_put(o, " ", 1);
        am_put_int128(o, cumulative);
        am_put(o, "\n", 1);
    }
    if (openmetrics && ((part->flags & AM_PART_NO_SUMS) || sum < 0 || isnan(sum))) {
        return;
    }
    am_put_head(o, part, "_count", 6, text, text_len);
    am_put_int128(o, count);
    am_put(o, "\n", 1);
    am_put_head(o, part, "_sum", 4, text, text_len);
    am_put_double(o, sum);
    am_put(o, "\n", 1);
}

static void
write_gauge_line(am_out *o, const am_part *part, PyObject *text, double value)
{
    am_put_head(o, part, "", 0, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text));
    am_put_double(o, value);
    am_put(o, "\n", 1);
}

static void
write_gauge_set(am_out *o, const am_part *part, PyObject *e)
{
    PyObject *texts = PyTuple_GET_ITEM(e, 0);
    PyObject *values = PyTuple_GET_ITEM(e, 1), *stamps = PyTuple_GET_ITEM(e, 2);
    Py_ssize_t n = PyTuple_GET_SIZE(values);
    if (part->flags == AM_GAUGE_ALL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            write_gauge_line(o, part, PyTuple_GET_ITEM(texts, i),
                             am_atomic_float_load(PyTuple_GET_ITEM(values, i)));
        }
        return;
    }
    double value;
    if (part->flags == AM_GAUGE_MOSTRECENT) {
        Py_ssize_t latest = 0;
        int64_t best = am_atomic_counter_load(PyTuple_GET_ITEM(stamps, 0));
        for (Py_ssize_t i = 1; i < n; i++) {
            int64_t stamp = am_atomic_counter_load(PyTuple_GET_ITEM(stamps, i));
            if (stamp > best) {
                best = stamp;
                latest = i;
            }
        }
        value = am_atomic_float_load(PyTuple_GET_ITEM(values, latest));
    }
    else if (part->flags == AM_GAUGE_SUM) {
        value = 0.0;
        for (Py_ssize_t i = 0; i < n; i++) {
            value += am_atomic_float_load(PyTuple_GET_ITEM(values, i));
        }
    }
    else {
        value = am_atomic_float_load(PyTuple_GET_ITEM(values, 0));
        for (Py_ssize_t i = 1; i < n; i++) {
            double x = am_atomic_float_load(PyTuple_GET_ITEM(values, i));
            if (part->flags == AM_GAUGE_MAX ? x > value : x < value) {
                value = x;
            }
        }
    }
    write_gauge_line(o, part, PyTuple_GET_ITEM(texts, 0), value);
}

void
am_write_sums(am_out *o, const am_part *part, int openmetrics, int64_t *shard, __int128 *acc)
{
    PyObject *entries = part->entries;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(entries); i++) {
        PyObject *e = PyTuple_GET_ITEM(entries, i);
        if (part->kind == AM_KIND_COUNTER_SUM) {
            write_counter_sum(o, part, e);
        }
        else if (part->kind == AM_KIND_HISTOGRAM_SUM) {
            write_histogram_sum(o, part, e, openmetrics, shard, acc);
        }
        else {
            write_gauge_set(o, part, e);
        }
    }
}
