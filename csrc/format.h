/* format.h -- sample values as the exposition formats spell them, in plain
 * C (no Python API, no allocation: callable with the thread state
 * detached). The rules are those of atomicmetrics.formatting.format_value:
 *
 *   int64     decimal, exact
 *   double    Python's repr(): the shortest digits that read back as the
 *             same double (the closest such string when several have that
 *             length), ".0" after an integral value, exponent form
 *             ("1e+16", "5e-05") when the decimal point would sit more than
 *             16 digits right of the first digit or more than 4 left of it
 *   NaN, +-inf   "NaN", "+Inf", "-Inf"
 *
 * tests/unit/test_render.py holds the C spelling to repr() and to the
 * Python renderer over hand-picked and random doubles.
 */
#ifndef AM_FORMAT_H
#define AM_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes the longest spelling of either kind needs ("-1.2345678901234567e-308"
 * is 24), with room to spare. */
#define AM_FMT_MAX 32

/* Write v in decimal to out; returns the length (no NUL written). */
size_t am_format_int64(int64_t v, char *out);

/* Write x (any double) as a sample value to out; returns the length (no
 * NUL written). Cost: ~20 ns for integral values and short decimals
 * (0.25, 12.5), ~1 us for doubles that need 16-17 digits (one glibc
 * printf and strtod per digit count tried). */
size_t am_format_double(double x, char *out);

#endif /* AM_FORMAT_H */
