/* stripes.c -- the cold half of stripes.h: the per-thread probe's seed and
 * the allocation, publication and release of stripe tables. */
#include "stripes.h"

#include <stdlib.h>
#include <unistd.h>

_Thread_local uint32_t am_probe_hint;

/* Threads that have seeded a probe so far (relaxed: it orders nothing). */
static am_uword probe_threads;

uint32_t
am_probe_seed(void)
{
    /* Round robin: the k-th thread to record into any striped cell starts on
     * stripe k mod nstripes, so up to nstripes threads start on distinct
     * stripes (a hash of the thread id put 2 threads on one of 4 stripes a
     * quarter of the time, and a histogram's W2/W3 then share its lines
     * while its W1 CAS rarely fails). The multiplier is odd, so the low bits
     * of k survive in p's low bits: p & mask == k & mask. */
    uint64_t k = am_ufetch_add_relaxed(&probe_threads, 1);
    uint32_t p = (uint32_t)k | (((uint32_t)k * 0x9E3779B9u) & ~(uint32_t)(AM_STRIPES_MAX - 1));
    if (p == 0) {
        p = AM_STRIPES_MAX;  /* xorshift needs a non-zero state; 0 & mask stays 0 */
    }
    am_probe_hint = p;
    return p;
}

uint32_t
am_stripes_for_this_machine(void)
{
    long ncpu = 8;
#ifdef _SC_NPROCESSORS_ONLN
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    uint32_t n = AM_STRIPES_MIN;
    /* twice the CPUs: hash collisions are likely with exactly one per CPU */
    while (n < AM_STRIPES_MAX && (long)n < 2 * ncpu) {
        n *= 2;
    }
    return n;
}

static size_t
stripes_size(uint32_t n, size_t stride)
{
    return AM_CACHE_LINE + (size_t)n * stride;
}

am_stripes *
am_stripes_grow(am_ptr *slot, Py_ssize_t words, int64_t limit, int *created)
{
    if (created != NULL) {
        *created = 0;
    }
    void *cur = am_ptr_load_acquire(slot);
    if (cur != NULL) {
        return cur == AM_STRIPES_NEVER ? NULL : (am_stripes *)cur;
    }
    uint32_t n = am_stripes_for_this_machine();
    size_t stride = ((size_t)words * sizeof(am_word) + AM_CACHE_LINE - 1)
                    / AM_CACHE_LINE * AM_CACHE_LINE;
    size_t size = stripes_size(n, stride);
    am_stripes *t = aligned_alloc(AM_CACHE_LINE, size);
    if (t == NULL) {
        return NULL;
    }
    memset(t, 0, size);  /* published by the release CAS below */
    t->mask = n - 1;
    t->words = (uint32_t)words;
    t->stride = stride;
    t->limit = limit;
    if (!am_ptr_cas_acq_rel(slot, &cur, t)) {
        free(t);  /* another thread published first: use its table */
        return cur == AM_STRIPES_NEVER ? NULL : (am_stripes *)cur;
    }
    if (created != NULL) {
        *created = 1;
    }
    return t;
}

Py_ssize_t
am_stripes_bytes(am_ptr *slot)
{
    am_stripes *t = am_stripes_get(slot);
    return t == NULL ? 0 : (Py_ssize_t)stripes_size(t->mask + 1, t->stride);
}

void
am_stripes_free(am_ptr *slot)
{
    free(am_stripes_get(slot));
}
