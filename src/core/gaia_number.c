/*
 * gaia_number.c -- decimal and integer text to numbers, exactly as strtod would.
 */
#include <ctype.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gaia_internal.h"

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* x87 extended precision (64-bit significand) is available: used for the second
 * exact path below. */
#if (defined(__x86_64__) || defined(__i386__)) && LDBL_MANT_DIG == 64 && \
    defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HAVE_X87_PATH 1
/* 10^k for k <= 27 are exact in 64 bits (5^27 < 2^64) */
static const long double pow10_ld[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* If p[0..8) are eight ASCII digits, store their value in *v and return 1. The
 * classic word-at-a-time trick: test all eight bytes at once, then combine digit
 * pairs, quadruples and halves with three multiplications. */
static inline int eight_digits(const char *p, uint64_t *v)
{
    uint64_t x;
    memcpy(&x, p, 8);
    if ((((x & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
          (((x + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4))) !=
        UINT64_C(0x3333333333333333))
        return 0;
    x -= UINT64_C(0x3030303030303030);
    x = x * 10 + (x >> 8); /* bytes 0, 2, 4, 6 now hold two-digit values */
    x = (((x & UINT64_C(0x000000FF000000FF)) * (100 + (UINT64_C(1000000) << 32))) +
         (((x >> 16) & UINT64_C(0x000000FF000000FF)) * (1 + (UINT64_C(10000) << 32)))) >> 32;
    *v = x;
    return 1;
}
#else
static inline int eight_digits(const char *p, uint64_t *v)
{
    (void)p;
    (void)v;
    return 0;
}
#endif

/* Why: strtod costs ~100 ns a number and the reader converts ~26 numbers a row.
 * Two exact fast paths cover every number of up to 19 significant digits with a
 * small exponent, which is all the archive writes:
 *  1. m <= 2^53 and |e| <= 22: m * 10^e (or m / 10^e) is one correctly rounded IEEE
 *     operation on two exact operands (Clinger 1990), hence strtod's answer.
 *  2. m < 2^64 and |e| <= 27 (x87 only): m and 10^|e| are exact in extended
 *     precision, so the product or quotient is within half a 64-bit ulp of the true
 *     value. Rounding it to double gives the correctly rounded result unless it lies
 *     within one such ulp of a point halfway between two doubles (the low 11 of its
 *     64 significand bits near 0x400); those rare cases go to strtod.
 * Anything else (more digits, large exponents, odd text) falls back to strtod. */
int pf_gaia_parse_double(const char *s, size_t len, double *out)
{
    const char *p = s, *e = s + len;
    int neg = 0;
    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    uint64_t m = 0;
    int sig = 0, exp10 = 0, ndig = 0, fast = 1;
    while (p < e && *p == '0') { /* leading zeros are not significant */
        p++;
        ndig++;
    }
    for (;;) {
        uint64_t v8;
        if (sig <= 11 && e - p >= 8 && eight_digits(p, &v8)) {
            m = m * 100000000u + v8;
            sig += 8;
            ndig += 8;
            p += 8;
            continue;
        }
        if (p >= e || (unsigned)(*p - '0') >= 10)
            break;
        if (sig >= 19) {
            fast = 0;
            break;
        }
        m = m * 10 + (uint64_t)(*p++ - '0');
        sig++;
        ndig++;
    }
    if (fast && p < e && *p == '.') {
        p++;
        if (sig == 0)
            while (p < e && *p == '0') { /* 0.000ddd: zeros only move the exponent */
                p++;
                ndig++;
                exp10--;
            }
        for (;;) {
            uint64_t v8;
            if (sig <= 11 && e - p >= 8 && eight_digits(p, &v8)) {
                m = m * 100000000u + v8;
                sig += 8;
                ndig += 8;
                exp10 -= 8;
                p += 8;
                continue;
            }
            if (p >= e || (unsigned)(*p - '0') >= 10)
                break;
            if (sig >= 19) {
                fast = 0;
                break;
            }
            m = m * 10 + (uint64_t)(*p++ - '0');
            sig++;
            ndig++;
            exp10--;
        }
    }
    if (fast && ndig > 0 && p < e && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, ev = 0, edig = 0;
        if (p < e && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        while (p < e && (unsigned)(*p - '0') < 10) {
            if (ev < 100000)
                ev = ev * 10 + (*p - '0');
            p++;
            edig++;
        }
        if (!edig)
            fast = 0;
        exp10 += eneg ? -ev : ev;
    }
    if (fast && ndig > 0 && p == e) {
        if (m == 0) {
            *out = neg ? -0.0 : 0.0;
            return PF_OK;
        }
        if (m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
            double v = (double)m;
            v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
            *out = neg ? -v : v;
            return PF_OK;
        }
#ifdef HAVE_X87_PATH
        if (exp10 >= -27 && exp10 <= 27) {
            long double x = (long double)m;
            x = exp10 < 0 ? x / pow10_ld[-exp10] : x * pow10_ld[exp10];
            uint64_t sig64;
            memcpy(&sig64, &x, 8); /* x87 layout: the 64-bit significand comes first */
            unsigned low = (unsigned)(sig64 & 0x7FF);
            if (low < 0x3FF || low > 0x401) {
                double v = (double)x;
                *out = neg ? -v : v;
                return PF_OK;
            }
        }
#endif
    }
    /* slow path: strtod on a NUL-terminated copy; the whole text must be consumed */
    char tmp[128];
    if (len == 0 || len >= sizeof tmp)
        return PF_EFORMAT;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (isspace((unsigned char)tmp[0]))
        return PF_EFORMAT;
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + len)
        return PF_EFORMAT;
    *out = v;
    return PF_OK;
}

/* Decimal integer, optionally signed, within int64. */
int pf_gaia_parse_int64(const char *s, size_t len, int64_t *out)
{
    const char *p = s, *e = s + len;
    int neg = 0;
    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == e)
        return PF_EFORMAT;
    uint64_t v = 0;
    for (; p < e; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d >= 10 || v > (UINT64_C(9223372036854775808) - d) / 10)
            return PF_EFORMAT;
        v = v * 10 + d;
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return PF_EFORMAT;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return PF_OK;
}
