// The vector index's distance kernels: a portable set and, on x86-64, an AVX2 + FMA + F16C set and the same with
// AVX-512 VNNI code products (code_products.c), chosen once at run time (see CVectorKernels.h for why they are not
// chosen by compiler flags).
//
// Both sets keep several independent accumulators so a long scan is limited by memory bandwidth, not by the
// latency of a chain of dependent adds. They sum in different orders, and only the x86-64-v3 set fuses its
// multiply-adds, so their results agree to rounding, not bit for bit.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "CVectorKernels.h"
#include "code_products.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// MARK: Portable

/// Four float lanes: one SSE2 or NEON register, or four scalars where there is neither.
typedef float f4 __attribute__((vector_size(16)));

static inline f4 load4(const float *p) {
    f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float sum4(f4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

static float dot_portable(const float *a, const float *b, long n) {
    f4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 += load4(a + i) * load4(b + i);
        s1 += load4(a + i + 4) * load4(b + i + 4);
        s2 += load4(a + i + 8) * load4(b + i + 8);
        s3 += load4(a + i + 12) * load4(b + i + 12);
    }
    for (; i + 4 <= n; i += 4) s0 += load4(a + i) * load4(b + i);
    float total = sum4((s0 + s1) + (s2 + s3));
    for (; i < n; i++) total += a[i] * b[i];
    return total;
}

static float l2_squared_portable(const float *a, const float *b, long n) {
    f4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        f4 d0 = load4(a + i) - load4(b + i);
        f4 d1 = load4(a + i + 4) - load4(b + i + 4);
        f4 d2 = load4(a + i + 8) - load4(b + i + 8);
        f4 d3 = load4(a + i + 12) - load4(b + i + 12);
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i + 4 <= n; i += 4) {
        f4 d0 = load4(a + i) - load4(b + i);
        s0 += d0 * d0;
    }
    float total = sum4((s0 + s1) + (s2 + s3));
    for (; i < n; i++) total += (a[i] - b[i]) * (a[i] - b[i]);
    return total;
}

static void dot4_portable(
    const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out) {
    f4 sa = {0}, sb = {0}, sc = {0}, sd = {0};
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        f4 x = load4(q + i);
        sa += x * load4(a + i);
        sb += x * load4(b + i);
        sc += x * load4(c + i);
        sd += x * load4(d + i);
    }
    float ra = sum4(sa), rb = sum4(sb), rc = sum4(sc), rd = sum4(sd);
    for (; i < n; i++) {
        ra += q[i] * a[i];
        rb += q[i] * b[i];
        rc += q[i] * c[i];
        rd += q[i] * d[i];
    }
    out[0] = ra;
    out[1] = rb;
    out[2] = rc;
    out[3] = rd;
}

static void l2_squared4_portable(
    const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out) {
    f4 sa = {0}, sb = {0}, sc = {0}, sd = {0};
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        f4 x = load4(q + i);
        f4 da = x - load4(a + i), db = x - load4(b + i), dc = x - load4(c + i), dd = x - load4(d + i);
        sa += da * da;
        sb += db * db;
        sc += dc * dc;
        sd += dd * dd;
    }
    float ra = sum4(sa), rb = sum4(sb), rc = sum4(sc), rd = sum4(sd);
    for (; i < n; i++) {
        ra += (q[i] - a[i]) * (q[i] - a[i]);
        rb += (q[i] - b[i]) * (q[i] - b[i]);
        rc += (q[i] - c[i]) * (q[i] - c[i]);
        rd += (q[i] - d[i]) * (q[i] - d[i]);
    }
    out[0] = ra;
    out[1] = rb;
    out[2] = rc;
    out[3] = rd;
}

/// binary16 → binary32 by bits, exact for every value (subnormals, infinities and NaNs included), on any CPU.
static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        // Subnormal: mantissa · 2^-24, exact in binary32.
        float magnitude = (float)mantissa * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float dot_f16_portable(const float *a, const void *codes, long n) {
    const uint16_t *b = codes;
    f4 s0 = {0}, s1 = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        f4 h0 = {half_to_float(b[i]), half_to_float(b[i + 1]), half_to_float(b[i + 2]), half_to_float(b[i + 3])};
        f4 h1 = {half_to_float(b[i + 4]), half_to_float(b[i + 5]), half_to_float(b[i + 6]), half_to_float(b[i + 7])};
        s0 += load4(a + i) * h0;
        s1 += load4(a + i + 4) * h1;
    }
    float total = sum4(s0 + s1);
    for (; i < n; i++) total += a[i] * half_to_float(b[i]);
    return total;
}

static float dot_u8_portable(const float *a, const uint8_t *b, long n) {
    f4 s0 = {0}, s1 = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        f4 c0 = {b[i], b[i + 1], b[i + 2], b[i + 3]};
        f4 c1 = {b[i + 4], b[i + 5], b[i + 6], b[i + 7]};
        s0 += load4(a + i) * c0;
        s1 += load4(a + i + 4) * c1;
    }
    float total = sum4(s0 + s1);
    for (; i < n; i++) total += a[i] * (float)b[i];
    return total;
}

int vsk_all_finite(const float *v, long n) {
    // Portable on every level: a validation pass is bound by memory, not by the width of the lanes.
    f4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        f4 a = load4(v + i), b = load4(v + i + 4), c = load4(v + i + 8), d = load4(v + i + 12);
        s0 += a - a;
        s1 += b - b;
        s2 += c - c;
        s3 += d - d;
    }
    float total = sum4((s0 + s1) + (s2 + s3));
    for (; i < n; i++) total += v[i] - v[i];
    return total == 0;
}

// MARK: x86-64-v3

#if defined(__x86_64__)
#define V3 __attribute__((target("avx2,fma,f16c")))

V3 static inline float sum8(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/// Eight lanes per step, eight accumulators: enough fused multiply-adds in flight to cover their latency.
V3 static float dot_v3(const float *a, const float *b, long n) {
    __m256 s[8];
    for (int k = 0; k < 8; k++) s[k] = _mm256_setzero_ps();
    long i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 8; k++) {
            s[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), _mm256_loadu_ps(b + i + 8 * k), s[k]);
        }
    }
    for (; i + 8 <= n; i += 8) s[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s[0]);
    __m256 all = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])),
        _mm256_add_ps(_mm256_add_ps(s[4], s[5]), _mm256_add_ps(s[6], s[7])));
    float total = sum8(all);
    for (; i < n; i++) total += a[i] * b[i];
    return total;
}

V3 static float l2_squared_v3(const float *a, const float *b, long n) {
    __m256 s[8];
    for (int k = 0; k < 8; k++) s[k] = _mm256_setzero_ps();
    long i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 8; k++) {
            __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8 * k), _mm256_loadu_ps(b + i + 8 * k));
            s[k] = _mm256_fmadd_ps(diff, diff, s[k]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s[0] = _mm256_fmadd_ps(diff, diff, s[0]);
    }
    __m256 all = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])),
        _mm256_add_ps(_mm256_add_ps(s[4], s[5]), _mm256_add_ps(s[6], s[7])));
    float total = sum8(all);
    for (; i < n; i++) total += (a[i] - b[i]) * (a[i] - b[i]);
    return total;
}

/// Sixteen lanes per row per step (two accumulators each), loading each query chunk once for the four rows.
V3 static void dot4_v3(
    const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out) {
    __m256 sa0 = _mm256_setzero_ps(), sb0 = sa0, sc0 = sa0, sd0 = sa0;
    __m256 sa1 = sa0, sb1 = sa0, sc1 = sa0, sd1 = sa0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_loadu_ps(q + i), x1 = _mm256_loadu_ps(q + i + 8);
        sa0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(a + i), sa0);
        sb0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + i), sb0);
        sc0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(c + i), sc0);
        sd0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(d + i), sd0);
        sa1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(a + i + 8), sa1);
        sb1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(b + i + 8), sb1);
        sc1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(c + i + 8), sc1);
        sd1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(d + i + 8), sd1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 x0 = _mm256_loadu_ps(q + i);
        sa0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(a + i), sa0);
        sb0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b + i), sb0);
        sc0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(c + i), sc0);
        sd0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(d + i), sd0);
    }
    float ra = sum8(_mm256_add_ps(sa0, sa1)), rb = sum8(_mm256_add_ps(sb0, sb1));
    float rc = sum8(_mm256_add_ps(sc0, sc1)), rd = sum8(_mm256_add_ps(sd0, sd1));
    for (; i < n; i++) {
        ra += q[i] * a[i];
        rb += q[i] * b[i];
        rc += q[i] * c[i];
        rd += q[i] * d[i];
    }
    out[0] = ra;
    out[1] = rb;
    out[2] = rc;
    out[3] = rd;
}

V3 static void l2_squared4_v3(
    const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out) {
    __m256 sa = _mm256_setzero_ps(), sb = sa, sc = sa, sd = sa;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        __m256 da = _mm256_sub_ps(x, _mm256_loadu_ps(a + i));
        __m256 db = _mm256_sub_ps(x, _mm256_loadu_ps(b + i));
        __m256 dc = _mm256_sub_ps(x, _mm256_loadu_ps(c + i));
        __m256 dd = _mm256_sub_ps(x, _mm256_loadu_ps(d + i));
        sa = _mm256_fmadd_ps(da, da, sa);
        sb = _mm256_fmadd_ps(db, db, sb);
        sc = _mm256_fmadd_ps(dc, dc, sc);
        sd = _mm256_fmadd_ps(dd, dd, sd);
    }
    float ra = sum8(sa), rb = sum8(sb), rc = sum8(sc), rd = sum8(sd);
    for (; i < n; i++) {
        ra += (q[i] - a[i]) * (q[i] - a[i]);
        rb += (q[i] - b[i]) * (q[i] - b[i]);
        rc += (q[i] - c[i]) * (q[i] - c[i]);
        rd += (q[i] - d[i]) * (q[i] - d[i]);
    }
    out[0] = ra;
    out[1] = rb;
    out[2] = rc;
    out[3] = rd;
}

V3 static float dot_f16_v3(const float *a, const void *codes, long n) {
    const uint16_t *b = codes;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 h0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256 h1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8)));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), h0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), h1, s1);
    }
    float total = sum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) total += a[i] * half_to_float(b[i]);
    return total;
}

V3 static float dot_u8_v3(const float *a, const uint8_t *b, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(b + i));
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8)));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), c0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), c1, s1);
    }
    float total = sum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) total += a[i] * (float)b[i];
    return total;
}
#endif

// MARK: Dispatch

static const vsk_kernels portable_set = {
    VSK_LEVEL_PORTABLE, dot_portable,     l2_squared_portable, dot4_portable, l2_squared4_portable, dot_f16_portable,
    dot_u8_portable,    vsk_code_products_portable,
};

#if defined(__x86_64__)
static const vsk_kernels v3_set = {
    VSK_LEVEL_X86_64_V3, dot_v3, l2_squared_v3, dot4_v3, l2_squared4_v3, dot_f16_v3, dot_u8_v3, vsk_code_products_avx2,
};

static const vsk_kernels vnni_set = {
    VSK_LEVEL_AVX512_VNNI, dot_v3, l2_squared_v3, dot4_v3, l2_squared4_v3, dot_f16_v3, dot_u8_v3, vsk_code_products_vnni,
};
#endif

/// The set in use; null until the first call chooses. The sets are constant, so a relaxed load is enough, and
/// two threads that both choose first store the same pointer.
static _Atomic(const vsk_kernels *) active_set;

static const vsk_kernels *best_supported(vsk_level wanted) {
#if defined(__x86_64__)
    if (wanted >= VSK_LEVEL_X86_64_V3) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
            if (wanted >= VSK_LEVEL_AVX512_VNNI && __builtin_cpu_supports("avx512f")
                && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")) {
                return &vnni_set;
            }
            return &v3_set;
        }
    }
#else
    (void)wanted;
#endif
    return &portable_set;
}

static const vsk_kernels *choose(void) {
    const char *cap = getenv("VSEARCH_VECTOR_KERNELS");
    vsk_level wanted = VSK_LEVEL_AVX512_VNNI;
    if (cap != NULL && strcmp(cap, "portable") == 0) wanted = VSK_LEVEL_PORTABLE;
    if (cap != NULL && strcmp(cap, "avx2") == 0) wanted = VSK_LEVEL_X86_64_V3;
    const vsk_kernels *set = best_supported(wanted);
    atomic_store_explicit(&active_set, set, memory_order_relaxed);
    return set;
}

static inline const vsk_kernels *kernels(void) {
    const vsk_kernels *set = atomic_load_explicit(&active_set, memory_order_relaxed);
    return __builtin_expect(set != NULL, 1) ? set : choose();
}

float vsk_dot(const float *a, const float *b, long n) { return kernels()->dot(a, b, n); }

float vsk_l2_squared(const float *a, const float *b, long n) { return kernels()->l2_squared(a, b, n); }

void vsk_dot4(const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out) {
    kernels()->dot4(q, a, b, c, d, n, out);
}

void vsk_l2_squared4(
    const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out) {
    kernels()->l2_squared4(q, a, b, c, d, n, out);
}

float vsk_dot_f16(const float *a, const void *b, long n) { return kernels()->dot_f16(a, b, n); }

float vsk_dot_u8(const float *a, const uint8_t *b, long n) { return kernels()->dot_u8(a, b, n); }

void vsk_code_products(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride) {
    kernels()->code_products(queries, nq, query_stride, rows, nr, row_stride, n, out, out_stride);
}

vsk_level vsk_active_level(void) { return kernels()->level; }

const vsk_kernels *vsk_kernels_at(vsk_level level) {
    const vsk_kernels *set = best_supported(level);
    return set->level == level ? set : NULL;
}

float vsk_round_codes(const float *v, long n, int8_t *out) {
    // The largest magnitude by bits: a non-negative float's bits order as its value does, and an integer maximum
    // vectorises where a float one (which must respect NaN) does not. The values are finite (checked by the index).
    uint32_t largest_bits = 0;
    for (long i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, v + i, sizeof bits);
        bits &= 0x7fffffffu;
        largest_bits = bits > largest_bits ? bits : largest_bits;
    }
    float largest;
    memcpy(&largest, &largest_bits, sizeof largest);
    float scale = largest > 0 ? largest / 127 : 1;
    float inverse = 1 / scale;
    // Values are within ±127 after scaling. Adding and taking away 1.5 · 2²³ rounds half to even (for |x| < 2²²)
    // in plain SSE2 or NEON arithmetic; nearbyintf is a library call per value on x86-64 without SSE4.1.
    const float magic = 12582912.0f;
    for (long i = 0; i < n; i++) {
        float rounded = (v[i] * inverse + magic) - magic;
        out[i] = (int8_t)(int)rounded;
    }
    return scale;
}
