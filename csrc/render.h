/* render.h -- what the exposition renderer's files share (render.c: the
 * `_render` entry and the registry's own families; render_sums.c: series
 * summed over processes; render_samples.c: `_samples`): the part a render
 * is planned into, and the writing of sample lines into its buffer. */
#ifndef AM_RENDER_H
#define AM_RENDER_H

#include "cells.h"
#include "children.h"
#include "format.h"

#include <math.h>
#include <stddef.h>

/* What a family part holds (its first item). 0-2: a family's dict of
 * children (children.h); 3-5: a tuple of series summed over processes
 * (render_sums.c). */
enum {
    AM_KIND_COUNTER = 0,
    AM_KIND_GAUGE = 1,
    AM_KIND_HISTOGRAM = 2,
    AM_KIND_COUNTER_SUM = 3,
    AM_KIND_HISTOGRAM_SUM = 4,
    AM_KIND_GAUGE_SET = 5,
};

/* Part flags (the fifth item of a family part). Histograms: */
#define AM_PART_NO_SUMS 1  /* OpenMetrics: no _count/_sum on any child (a negative bound) */
/* Gauge sets: how the cells of a series combine (prometheus_client's modes,
 * "live" ones already narrowed to live processes by the caller). */
enum { AM_GAUGE_ALL = 0, AM_GAUGE_SUM = 1, AM_GAUGE_MAX = 2, AM_GAUGE_MIN = 3,
       AM_GAUGE_MOSTRECENT = 4 };

/* The buffer phase 2 writes into: sized in phase 1, so writes check nothing. */
typedef struct am_out {
    char *p;
    size_t len;
} am_out;

/* One part of a render, as phase 1 planned it. */
typedef struct {
    int kind;           /* AM_KIND_*, or -1 for text written as it is */
    int flags;          /* AM_PART_*, or a gauge set's AM_GAUGE_* */
    const char *name;   /* sample name (histograms: the family name), or the text */
    Py_ssize_t name_len;
    const char **le;    /* histograms: the le label values, nle of them */
    Py_ssize_t *le_len;
    Py_ssize_t nle;
    PyObject **kids;    /* kinds 0-2: strong references to the children, nkids of them */
    Py_ssize_t nkids;
    PyObject *entries;  /* kinds 3-5: the tuple of series, borrowed from the parts tuple
                           (immutable; the caller holds it for the whole render) */
} am_part;

/* Copy the values of `dict` (and its keys when `keys` is not NULL) into new
 * arrays of strong references, under a critical section on the dict.
 * Returns the number of items, or -1 with an exception set. */
Py_ssize_t am_snapshot_dict(PyObject *dict, PyObject ***values, PyObject ***keys);

/* Drop n references and free the array (NULL: nothing). */
void am_drop_refs(PyObject **refs, Py_ssize_t n);

/* The child type a part of kind 0-2 holds (borrowed). */
PyTypeObject *am_kind_type(am_state *st, int kind);

/* render_sums.c: phase 1 and phase 2 of kinds 3-5. am_plan_sums checks
 * `entries` (0, or -1 with an exception set) and adds to *bound, *lines and
 * *max_buckets as render.c's planning does; am_write_sums is plain C, with
 * room for max_buckets words in `shard` and in `acc`. */
int am_plan_sums(am_state *st, am_part *part, PyObject *entries, size_t *bound,
                 Py_ssize_t *lines, Py_ssize_t *max_buckets);
void am_write_sums(am_out *o, const am_part *part, int openmetrics, int64_t *shard,
                   __int128 *acc);

/* render_samples.c: the `_samples` function. */
PyObject *am_samples(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
extern const char am_samples_doc[];

/* ---- writing (phase 2): plain C into a buffer sized in phase 1 ----------- */

static inline void
am_put(am_out *o, const char *s, size_t n)
{
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static inline void
am_put_int(am_out *o, int64_t v)
{
    o->len += am_format_int64(v, o->p + o->len);
}

static inline void
am_put_double(am_out *o, double x)
{
    o->len += am_format_double(x, o->p + o->len);
}

/* Child text with `,le="b"}` (or `{le="b"}` without labels) in place of its
 * closing brace. */
static inline void
am_put_le_text(am_out *o, const char *text, Py_ssize_t text_len, const char *le, Py_ssize_t le_len)
{
    if (text_len > 0) {
        am_put(o, text, (size_t)text_len - 1);
        am_put(o, ",le=\"", 5);
    }
    else {
        am_put(o, "{le=\"", 5);
    }
    am_put(o, le, (size_t)le_len);
    am_put(o, "\"}", 2);
}

/* The start of a sample line of `part`: `<name><suffix><text> `. */
static inline void
am_put_head(am_out *o, const am_part *part, const char *suffix, size_t suffix_len,
         const char *text, Py_ssize_t text_len)
{
    am_put(o, part->name, (size_t)part->name_len);
    am_put(o, suffix, suffix_len);
    am_put(o, text, (size_t)text_len);
    am_put(o, " ", 1);
}

/* An int128 in decimal (the exact sum of int64 shards). */
static inline void
am_put_int128(am_out *o, __int128 v)
{
    if (v >= INT64_MIN && v <= INT64_MAX) {
        am_put_int(o, (int64_t)v);
        return;
    }
    char tmp[48];
    size_t n = 0;
    unsigned __int128 u = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    while (u != 0) {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    }
    if (v < 0) {
        am_put(o, "-", 1);
    }
    while (n > 0) {
        o->p[o->len++] = tmp[--n];
    }
}

#endif /* AM_RENDER_H */
