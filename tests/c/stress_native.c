/* stress_native.c -- the native histogram's hot/cold protocol on real OS
 * threads, without a GIL in the way: writers on pthreads, readers taking
 * snapshots, resetting and lowering the schema, in process memory (pages
 * allocated and freed under the readers' feet) and in an arena-style cell
 * (the fixed table and its catch-all).
 *
 * Built (with every other C file of csrc/ linked beside it) and run by
 * tests/stress/test_c_protocols.py, with -fsanitize=thread where the
 * compiler has it. native_histogram.c is #included so that its static
 * protocol functions (nh_*) are reachable; blocks and pages come from
 * calloc/free instead of PyMem, and the interpreter is never started. Exit
 * status 0 = every invariant held; a message on stderr names the first
 * violation otherwise.
 */
#define AM_NH_CALLOC(n, size) calloc((n), (size))  /* <stdlib.h> comes with Python.h */
#define AM_NH_FREE(p) free(p)
#include "../../csrc/native_histogram.c"

#include "harness.h"

#include <pthread.h>

enum { WRITERS = 6, PER = 60000 };

/* Writer w observes VALUE[w % 4] PER times: one bucket each (the zero
 * bucket and the negative span included), sums exact. */
static const double VALUE[4] = {0.0, 1.5, -3.0, 1000.25};

typedef struct {
    nh_hist *h;
    int w;
    int spread;  /* observe many buckets instead (schema lowering) */
} job;

static atomic_int writers_left;

static double
spread_value(int w, int k)
{
    if (k % 50 == 0) {
        return 0.0;
    }
    double v = pow(1.001, (double)((k * 7 + w * 131) % 4000));
    return (k + w) % 3 == 0 ? -v : v;
}

static void *
writer(void *arg)
{
    job *j = arg;
    for (int k = 0; k < PER; k++) {
        double v = j->spread ? spread_value(j->w, k) : VALUE[j->w % 4];
        CHECK(nh_record(j->h, v) == 0, "native: observe failed");
    }
    atomic_fetch_sub(&writers_left, 1);
    return NULL;
}

/* A snapshot taken as NativeHistogram_read takes it. */
static int
take(nh_hist *h, nh_snap *snap)
{
    return nh_locked_fold(h, NH_SNAPSHOT, snap);
}

/* The sum a snapshot's buckets imply when each bucket only saw one VALUE. */
static double
weighted(const nh_snap *s)
{
    double total = 0.0;
    for (Py_ssize_t i = 0; i < s->buckets.n; i++) {
        nh_entry e = s->buckets.items[i];
        double v = e.span ? -3.0 : (nh_index_of_u(e.u) <= 8 ? 1.5 : 1000.25);
        total += v * (double)e.count;
    }
    return total;
}

typedef struct {
    nh_hist *h;
    int resets;     /* also reset now and then */
    int spread;
} reader_job;

static void *
reader(void *arg)
{
    reader_job *r = arg;
    int64_t last = 0;
    int last_schema = NH_SCHEMA_MAX + 1;
    for (int round = 0; atomic_load(&writers_left) > 0; round++) {
        nh_snap s;
        CHECK(take(r->h, &s) == 0, "native: snapshot buffer");
        int64_t total = s.zero;
        for (Py_ssize_t i = 0; i < s.buckets.n; i++) {
            total += s.buckets.items[i].count;
            CHECK(i == 0 || nh_entry_cmp(&s.buckets.items[i - 1], &s.buckets.items[i]) < 0,
                  "native: buckets not sorted");
        }
        CHECK(s.count == total, "native: count %lld != buckets %lld", (long long)s.count,
              (long long)total);
        if (r->spread) {
            CHECK(s.buckets.n <= r->h->max_buckets || s.schema == NH_SCHEMA_MIN,
                  "native: %zd buckets at schema %d", s.buckets.n, s.schema);
            CHECK(r->resets || s.schema <= last_schema, "native: schema rose %d -> %d",
                  last_schema, s.schema);
            last_schema = s.schema;
        }
        else {
            CHECK(s.sum == weighted(&s), "native: sum %.17g does not match the buckets (%.17g)",
                  s.sum, weighted(&s));
            CHECK(r->resets || s.count >= last, "native: count went back");
        }
        last = s.count;
        AM_NH_FREE(s.buckets.items);
        if (r->resets && round % 7 == 0) {
            (void)nh_locked_fold(r->h, NH_RESET, NULL);
            last_schema = NH_SCHEMA_MAX + 1;
        }
    }
    return NULL;
}

/* One run: WRITERS writers and two readers on a fresh histogram. */
static void
run(int arena, int spread, int resets)
{
    nh_hist h;
    memset(&h, 0, sizeof h);
    am_word own[NH_OWN_WORDS];
    am_word *words = NULL;
    h.schema = spread ? 8 : 3;
    h.max_buckets = spread ? 24 : 160;
    h.zero_threshold = 0x1p-128;
    if (arena) {
        h.capacity = nh_capacity(h.max_buckets);
        h.stride = NH_HEAD + 2 * h.capacity + 2 * NH_CATCH;
        int log2cap = 0;
        while (((Py_ssize_t)1 << log2cap) < h.capacity) {
            log2cap++;
        }
        h.shift = 64 - log2cap;
        words = calloc((size_t)nh_arena_words(h.capacity), sizeof(am_word));
        h.cell = words;
    }
    else {
        memset(own, 0, sizeof own);
        h.cell = own;
        h.stride = NH_HEAD;
    }
    atomic_store(&writers_left, WRITERS);
    pthread_t t[WRITERS + 2];
    job jobs[WRITERS];
    reader_job readers[2] = {{&h, resets, spread}, {&h, 0, spread}};
    for (int w = 0; w < WRITERS; w++) {
        jobs[w] = (job){&h, w, spread};
        pthread_create(&t[w], NULL, writer, &jobs[w]);
    }
    for (int r = 0; r < 2; r++) {
        pthread_create(&t[WRITERS + r], NULL, reader, &readers[r]);
    }
    for (int i = 0; i < WRITERS + 2; i++) {
        pthread_join(t[i], NULL);
    }
    nh_snap s;
    CHECK(take(&h, &s) == 0, "native: final snapshot buffer");
    if (!resets) {
        CHECK(s.count == (int64_t)WRITERS * PER, "native: lost observations: %lld of %lld",
              (long long)s.count, (long long)WRITERS * PER);
        if (!spread) {
            CHECK(s.sum == weighted(&s), "native: final sum");
        }
        else {
            CHECK(s.buckets.n <= h.max_buckets, "native: %zd buckets at the end", s.buckets.n);
        }
    }
    AM_NH_FREE(s.buckets.items);
    for (unsigned half = 0; half < 2; half++) {
        nh_chain_free(&h.chain[half][0]);
        nh_chain_free(&h.chain[half][1]);
    }
    free(words);
}

int
main(void)
{
    for (int arena = 0; arena < 2; arena++) {
        run(arena, 0, 0);
        run(arena, 0, 1);
        run(arena, 1, 0);
        run(arena, 1, 1);
    }
    if (atomic_load(&failed)) {
        return 1;
    }
    puts("ok");
    return 0;
}
