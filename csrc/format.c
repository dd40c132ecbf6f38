/* format.c -- sample values spelled as format.h says: repr()'s shortest
 * round-trip digits without the Python API.
 *
 * Shortest digits of a finite x > 0 (what CPython's dtoa mode 0 returns):
 *
 * 1. Short decimals, exactly. For k = 0, 1, 2, ... while y = x * 10**k
 *    stays below 2**50: m = nearbyint(y); if m / 10**k == x, the decimal
 *    m * 10**-k reads back as x (m and 10**k are exact doubles and IEEE
 *    division rounds correctly, as strtod does), and no decimal with fewer
 *    fractional digits did (an earlier k would have found it: below 2**50
 *    the product's error, under ulp(y), cannot move nearbyint off an
 *    integer that reads back). Fewer fractional digits at the same
 *    magnitude means fewer digits, and nearbyint picks the closest
 *    candidate: this is repr()'s string.
 * 2. Otherwise printf: "%.14e" (15 significant digits, correctly rounded
 *    by glibc). If strtod reads it back as x it is the answer with its
 *    trailing zeros dropped: any decimal of at most 15 digits survives the
 *    trip decimal -> double -> 15 digits unchanged (DBL_DIG), so a shorter
 *    answer would have come out of printf itself. Else "%.15e": the
 *    closest 16-digit decimal; when it does not read back, the one above
 *    or below it may (the rounding interval of a power of two is narrower
 *    below it than above), and either is then the answer. Else "%.16e"
 *    (17 digits always read back, and the closest is repr()'s choice).
 *    Subnormals, which hold fewer than 15 digits, try every count instead.
 *    printf and strtod share the C locale's decimal point, and only digit
 *    characters of printf's output are ever changed, so a program that
 *    set LC_NUMERIC still gets the right digits.
 */
#include "format.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t
am_format_int64(int64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    /* Through uint64_t: -INT64_MIN does not fit in int64_t. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t len = 0;
    if (v < 0) {
        out[len++] = '-';
    }
    while (n > 0) {
        out[len++] = tmp[--n];
    }
    return len;
}

static const double am_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define AM_TWO_50 1125899906842624.0  /* 2**50 */

/* Step 1 of the file comment. On success writes the digits (no leading or
 * trailing zeros) to digits, their count to *ndigits and the decimal
 * point's position to *decpt (x = 0.d1d2... * 10**decpt), and returns 1. */
static int
short_decimal(double x, char *digits, int *ndigits, int *decpt)
{
    for (int k = 0; k < (int)(sizeof am_pow10 / sizeof am_pow10[0]); k++) {
        double y = x * am_pow10[k];
        if (!(y < AM_TWO_50)) {
            return 0;
        }
        double m = nearbyint(y);
        if (m == 0.0 || m / am_pow10[k] != x) {
            continue;
        }
        uint64_t u = (uint64_t)m;
        int zeros = 0;
        while (u % 10 == 0) {
            u /= 10;
            zeros++;
        }
        char tmp[20];
        int n = 0;
        while (u != 0) {
            tmp[n++] = (char)('0' + u % 10);
            u /= 10;
        }
        for (int i = 0; i < n; i++) {
            digits[i] = tmp[n - 1 - i];
        }
        *ndigits = n;
        *decpt = n + zeros - k;
        return 1;
    }
    return 0;
}

/* Change the last mantissa digit of printf's "%.*e" output in buf by +1 or
 * -1 (delta), carrying through the other digits; the decimal point (any
 * non-digit between them) is skipped. Returns 0 when the carry would leave
 * the first digit (the result would need another exponent: such a string is
 * never the answer, see the file comment). */
static int
bump_last_digit(char *buf, char *end_of_mantissa, int delta)
{
    for (char *p = end_of_mantissa - 1; p >= buf; p--) {
        if (*p < '0' || *p > '9') {
            continue;  /* the decimal point */
        }
        if (delta > 0 && *p < '9') {
            (*p)++;
            return 1;
        }
        if (delta < 0 && *p > '0') {
            (*p)--;
            return 1;
        }
        *p = delta > 0 ? '0' : '9';
    }
    return 0;
}

/* Step 2 of the file comment: same outputs as short_decimal. */
static void
printf_digits(double x, char *digits, int *ndigits, int *decpt)
{
    char buf[64];
    /* Subnormals hold fewer digits than DBL_DIG promises: try every count
     * from 1 (their rounding intervals are symmetric, so the closest
     * decimal of a count reads back whenever any of that count does). */
    for (int prec = x < DBL_MIN ? 1 : 15;; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
        char *e = strchr(buf, 'e');
        int ok = prec == 17 || strtod(buf, NULL) == x;
        if (!ok && prec == 16) {
            char saved[64];
            memcpy(saved, buf, sizeof buf);
            ok = bump_last_digit(buf, e, +1) && strtod(buf, NULL) == x;
            if (!ok) {
                memcpy(buf, saved, sizeof buf);
                ok = bump_last_digit(buf, e, -1) && strtod(buf, NULL) == x;
            }
            if (!ok) {
                memcpy(buf, saved, sizeof buf);
            }
        }
        if (!ok) {
            continue;
        }
        int n = 0;
        for (char *p = buf; p < e; p++) {
            if (*p >= '0' && *p <= '9') {
                digits[n++] = *p;
            }
        }
        while (n > 1 && digits[n - 1] == '0') {
            n--;
        }
        *ndigits = n;
        *decpt = atoi(e + 1) + 1;
        return;
    }
}

size_t
am_format_double(double x, char *out)
{
    if (isnan(x)) {
        memcpy(out, "NaN", 3);
        return 3;
    }
    if (isinf(x)) {
        memcpy(out, x > 0 ? "+Inf" : "-Inf", 4);
        return 4;
    }
    size_t len = 0;
    if (signbit(x)) {
        out[len++] = '-';
        x = -x;
    }
    if (x == 0.0) {
        memcpy(out + len, "0.0", 3);
        return len + 3;
    }
    char digits[20];
    int n, decpt;
    if (!short_decimal(x, digits, &n, &decpt)) {
        printf_digits(x, digits, &n, &decpt);
    }
    if (decpt <= -4 || decpt > 16) {  /* repr()'s switch to exponent form */
        out[len++] = digits[0];
        if (n > 1) {
            out[len++] = '.';
            memcpy(out + len, digits + 1, (size_t)(n - 1));
            len += (size_t)(n - 1);
        }
        int exp = decpt - 1;
        out[len++] = 'e';
        out[len++] = exp < 0 ? '-' : '+';
        if (exp < 0) {
            exp = -exp;
        }
        if (exp < 10) {
            out[len++] = '0';
        }
        len += am_format_int64(exp, out + len);
        return len;
    }
    if (decpt <= 0) {  /* 0.000ddd */
        out[len++] = '0';
        out[len++] = '.';
        memset(out + len, '0', (size_t)-decpt);
        len += (size_t)-decpt;
        memcpy(out + len, digits, (size_t)n);
        return len + (size_t)n;
    }
    if (decpt >= n) {  /* ddd000.0 */
        memcpy(out + len, digits, (size_t)n);
        len += (size_t)n;
        memset(out + len, '0', (size_t)(decpt - n));
        len += (size_t)(decpt - n);
        memcpy(out + len, ".0", 2);
        return len + 2;
    }
    memcpy(out + len, digits, (size_t)decpt);  /* ddd.ddd */
    len += (size_t)decpt;
    out[len++] = '.';
    memcpy(out + len, digits + decpt, (size_t)(n - decpt));
    return len + (size_t)(n - decpt);
}
