/* stress_cells.c -- the lock-free protocols of AtomicMinMax and
 * ThroughputMetric on real OS threads, without a GIL in the way.
 *
 * Built and run by tests/stress/test_c_protocols.py, with -fsanitize=thread
 * where the compiler has it. The two type files are #included so that their
 * static protocol functions (mm_*, tp_*) are reachable, and every other C
 * file of csrc/ is linked beside them (the helpers they call); no Python API
 * is called, the interpreter is never started. Exit status 0 = every invariant held;
 * a message on stderr names the first violation otherwise.
 */
#include "../../csrc/minmax.c"
#include "../../csrc/throughput.c"

#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

static void
run(int n, void *(*fn)(void *), void **args)
{
    pthread_t t[16];
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t[i], NULL, fn, args[i]) != 0) {
            perror("pthread_create");
            exit(2);
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
}

/* ---- MinMax: epochs of reset(); observe(e); observe(-e) ------------------ *
 * Readers may only see None, (e, e) or (-e, e): a pair mixing two epochs
 * breaks |min| == max. */

enum { MM_EPOCHS = 20000, MM_READERS = 3 };

static am_uword mm_cell[MM_WORDS];
static atomic_int mm_done;

static void *
mm_epoch_writer(void *arg)
{
    (void)arg;
    for (int64_t e = 1; e <= MM_EPOCHS; e++) {
        mm_reset(mm_cell);
        mm_observe(mm_cell, e);
        mm_observe(mm_cell, -e);
    }
    atomic_store(&mm_done, 1);
    return NULL;
}

static void *
mm_epoch_reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&mm_done)) {
        int64_t lo, hi;
        if (mm_read(mm_cell, &lo, &hi)) {
            CHECK(hi > 0 && (lo == hi || lo == -hi), "minmax: mixed pair (%lld, %lld)",
                  (long long)lo, (long long)hi);
        }
    }
    return NULL;
}

/* ---- MinMax: observers of disjoint ranges, readers, and a resetter ------- */

enum { MM_OBSERVERS = 4, MM_PER = 50000 };

static void *
mm_observer(void *arg)
{
    int64_t id = (int64_t)(intptr_t)arg;
    for (int64_t k = 0; k < MM_PER; k++) {
        int64_t v = id + MM_OBSERVERS * k;
        mm_observe(mm_cell, v);
        mm_observe(mm_cell, -v);
    }
    return NULL;
}

static void *
mm_range_reader(void *arg)
{
    int resetter = arg != NULL;
    int64_t limit = MM_OBSERVERS * MM_PER;
    for (int r = 0; r < 200000 && !atomic_load(&mm_done); r++) {
        int64_t lo, hi;
        if (resetter && r % 1000 == 0) {
            mm_reset(mm_cell);
        }
        if (mm_read(mm_cell, &lo, &hi)) {
            CHECK(-limit < lo && lo <= hi && hi < limit, "minmax: bad pair (%lld, %lld)",
                  (long long)lo, (long long)hi);
        }
    }
    return NULL;
}

static void
stress_minmax(void)
{
    pthread_t t[1 + MM_READERS];
    for (int i = 0; i <= MM_READERS; i++) {
        pthread_create(&t[i], NULL, i == 0 ? mm_epoch_writer : mm_epoch_reader, NULL);
    }
    for (int i = 0; i <= MM_READERS; i++) {
        pthread_join(t[i], NULL);
    }
    int64_t lo, hi;
    CHECK(mm_read(mm_cell, &lo, &hi) && lo == -MM_EPOCHS && hi == MM_EPOCHS,
          "minmax: final epoch pair wrong");

    /* exact extremes without resets */
    memset(mm_cell, 0, sizeof mm_cell);
    atomic_store(&mm_done, 0);
    void *obs[MM_OBSERVERS];
    for (int i = 0; i < MM_OBSERVERS; i++) {
        obs[i] = (void *)(intptr_t)i;
    }
    run(MM_OBSERVERS, mm_observer, obs);
    CHECK(mm_read(mm_cell, &lo, &hi) && lo == -(MM_OBSERVERS * MM_PER - 1)
              && hi == MM_OBSERVERS * MM_PER - 1,
          "minmax: lost an extreme (%lld, %lld)", (long long)lo, (long long)hi);

    /* observers racing a resetter and readers: pairs stay in range, ordered */
    memset(mm_cell, 0, sizeof mm_cell);
    pthread_t o[MM_OBSERVERS], rd[2];
    for (int i = 0; i < MM_OBSERVERS; i++) {
        pthread_create(&o[i], NULL, mm_observer, obs[i]);
    }
    pthread_create(&rd[0], NULL, mm_range_reader, (void *)1);
    pthread_create(&rd[1], NULL, mm_range_reader, NULL);
    for (int i = 0; i < MM_OBSERVERS; i++) {
        pthread_join(o[i], NULL);
    }
    atomic_store(&mm_done, 1);
    pthread_join(rd[0], NULL);
    pthread_join(rd[1], NULL);
    mm_reset(mm_cell);
    mm_observe(mm_cell, 7);
    CHECK(mm_read(mm_cell, &lo, &hi) && lo == 7 && hi == 7, "minmax: reset did not empty");
}

/* ---- Throughput: writers race through slot boundaries --------------------- *
 * The clock is a shared tick counter: every record reads it with fetch_add,
 * so rotations happen under contention. Each writer also tallies, per slot
 * number, what it added; with a ring that never wraps the ring must end up
 * equal to those tallies slot by slot. With a small ring, the totals are
 * exact and readers check sum <= events, peak <= events. */

enum { TP_WRITERS = 4, TP_RECORDS = 40000, TP_TICKS_PER_SLOT = 97, TP_READERS = 2 };
#define TP_USED_SLOTS ((TP_WRITERS * TP_RECORDS) / TP_TICKS_PER_SLOT + 2)

typedef struct {
    ThroughputObject *obj;
    int id;
    int64_t *tally;  /* per slot number, this writer's events (no-wrap runs) */
} tp_arg;

static atomic_llong tp_clock;
static atomic_int tp_writers_left;

/* record(e) at clock reading `now`, as Throughput_record does it. */
static void
tp_record(ThroughputObject *obj, int64_t now, int64_t e)
{
    int64_t prev;
    am_stripes *t;
    tp_part part;
    if (tp_take_events(obj, e, &t, &part, &prev) < 0) {
        CHECK(0, "throughput: unexpected overflow");
        return;
    }
    tp_add_to_slot(obj, t, part.ring, now, (uint64_t)e);
    (void)am_fetch_add_acq_rel(part.samples, 1);
}

static void *
tp_writer(void *p)
{
    tp_arg *a = p;
    for (int64_t r = 0; r < TP_RECORDS; r++) {
        int64_t now = atomic_fetch_add(&tp_clock, 1);
        int64_t e = 1 + (a->id + r) % 3;
        tp_record(a->obj, now, e);
        if (a->tally != NULL) {
            a->tally[now / a->obj->cfg.res_ns] += e;
        }
    }
    atomic_fetch_sub(&tp_writers_left, 1);
    return NULL;
}

static void *
tp_reader(void *p)
{
    tp_arg *a = p;
    while (atomic_load(&tp_writers_left) > 0) {
        uint64_t sum, peak;
        int64_t now = atomic_load(&tp_clock);
        am_stripes *t = tp_stripes(a->obj);
        tp_read_window(a->obj, t, now, &sum, &peak);
        int64_t events = tp_total(a->obj, t, TS_EVENTS);
        CHECK(sum <= (uint64_t)events && peak <= (uint64_t)events,
              "throughput: window %llu / peak %llu above events %lld",
              (unsigned long long)sum, (unsigned long long)peak, (long long)events);
    }
    return NULL;
}

/* One run on a ring of n slots. `striped`: publish the stripe table first
 * (else it appears when the writers first contend, or never). */
static void
stress_throughput_once(int64_t n, int striped)
{
    ThroughputObject obj;
    memset(&obj, 0, sizeof obj);
    obj.cfg = (tp_config){.res_ns = TP_TICKS_PER_SLOT, .n = n, .window_ns = n * TP_TICKS_PER_SLOT};
    obj.cell = calloc(TP_HEAD + (size_t)n, sizeof(am_word));
    if (striped) {
        am_stripes_grow(&obj.stripes, TS_HEAD + n, AM_TP_GUARD / am_stripes_for_this_machine(),
                        NULL);
    }
    int no_wrap = n >= TP_USED_SLOTS;
    int64_t *tallies = no_wrap ? calloc((size_t)TP_WRITERS * TP_USED_SLOTS, sizeof(int64_t)) : NULL;
    atomic_store(&tp_clock, 0);
    atomic_store(&tp_writers_left, TP_WRITERS);
    tp_arg args[TP_WRITERS + TP_READERS];
    for (int i = 0; i < TP_WRITERS + TP_READERS; i++) {
        args[i] = (tp_arg){&obj, i, no_wrap && i < TP_WRITERS ? tallies + i * TP_USED_SLOTS : NULL};
    }
    pthread_t t[TP_WRITERS + TP_READERS];
    for (int i = 0; i < TP_WRITERS + TP_READERS; i++) {
        pthread_create(&t[i], NULL, i < TP_WRITERS ? tp_writer : tp_reader, &args[i]);
    }
    for (int i = 0; i < TP_WRITERS + TP_READERS; i++) {
        pthread_join(t[i], NULL);
    }
    int64_t expected = 0;
    for (int i = 0; i < TP_WRITERS; i++) {
        for (int64_t r = 0; r < TP_RECORDS; r++) {
            expected += 1 + (i + r) % 3;
        }
    }
    am_stripes *table = tp_stripes(&obj);
    CHECK(!striped || table != NULL, "throughput: the stripes vanished");
    CHECK(tp_total(&obj, table, TS_EVENTS) == expected, "throughput: events total wrong");
    CHECK(tp_total(&obj, table, TS_SAMPLES) == TP_WRITERS * TP_RECORDS,
          "throughput: samples total wrong");
    if (no_wrap) {
        int64_t in_ring = 0, max_slot = 0;
        uint32_t cells = table == NULL ? 1u : am_stripes_count(table) + 1u;
        for (int64_t k = 0; k < TP_USED_SLOTS; k++) {
            int64_t want = 0;
            for (int i = 0; i < TP_WRITERS; i++) {
                want += tallies[i * TP_USED_SLOTS + k];
            }
            int64_t got = 0;  /* slot k over every cell */
            for (uint32_t c = 0; c < cells; c++) {
                tp_part part = c == 0 ? tp_base_part(obj.cell)
                                      : tp_stripe_part(am_stripe(table, c - 1));
                got += (int64_t)tp_count(am_uload_acquire(&part.ring[k]));
            }
            CHECK(got == want, "throughput: slot %lld holds %lld, writers added %lld",
                  (long long)k, (long long)got, (long long)want);
            in_ring += got;
            max_slot = want > max_slot ? want : max_slot;
        }
        uint64_t sum, peak;
        tp_read_window(&obj, table, atomic_load(&tp_clock), &sum, &peak);
        CHECK((int64_t)sum == expected && in_ring == expected && (int64_t)peak == max_slot,
              "throughput: window %llu, ring %lld, peak %llu; expected %lld and %lld",
              (unsigned long long)sum, (long long)in_ring, (unsigned long long)peak,
              (long long)expected, (long long)max_slot);
    }
    free(tallies);
    am_stripes_free(&obj.stripes);
    free(obj.cell);
}

int
main(void)
{
    stress_minmax();
    for (int striped = 0; striped <= 1; striped++) {
        stress_throughput_once(TP_USED_SLOTS + 8, striped);  /* no wrap: slot-exact */
        stress_throughput_once(3, striped);  /* wraps constantly: rotations race */
        stress_throughput_once(1, striped);
    }
    if (atomic_load(&failed)) {
        return 1;
    }
    puts("ok");
    return 0;
}
