/* harness.h -- what every C stress harness shares: the failure flag and
 * CHECK, which reports the first violated invariant on stderr (the harness
 * then exits 1). Include after the csrc/ type files the harness drives. */
#ifndef AM_TESTS_HARNESS_H
#define AM_TESTS_HARNESS_H

#include <stdatomic.h>
#include <stdio.h>

static atomic_int failed;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond) && !atomic_exchange(&failed, 1)) {     \
            fprintf(stderr, __VA_ARGS__);                  \
            fputc('\n', stderr);                           \
        }                                                  \
    } while (0)

#endif /* AM_TESTS_HARNESS_H */
