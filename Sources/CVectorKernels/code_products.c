// Inner products of 8-bit codes: every query of a batch against every row of a block, summed exactly in 32-bit
// integers. A picture's windows are tens of queries against the same rows; with codes a quarter the size of floats
// and, on AVX-512 VNNI, 64 multiply-adds per instruction, the scan is several times as fast as a float product.
//
// Each variant works in tiles of a few rows by a few queries: the tile's codes are loaded once per 64 (or 32) bytes
// and every row-query pair keeps its own accumulator in a register, so a tile reads as many bytes as a single dot
// product of each row and each query would, and does as many multiply-adds per load as registers allow.
#include <stdlib.h>

#include "code_products.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// Queries per tile: the batch is cut into near-equal groups of at most `most` (17 windows → 5, 4, 4, 4 for 5).
static inline long group_count(long nq, long most) { return (nq + most - 1) / most; }

static inline long group_start(long group, long groups, long nq) { return nq * group / groups; }

// MARK: Portable

void vsk_code_products_portable(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride) {
    for (long r = 0; r < nr; r++) {
        const int8_t *row = rows + r * row_stride;
        for (long q = 0; q < nq; q++) {
            const int8_t *query = queries + q * query_stride;
            int32_t sum = 0;
            for (long i = 0; i < n; i++) sum += (int32_t)query[i] * (int32_t)row[i];
            out[q * out_stride + r] = sum;
        }
    }
}

void vsk_code_scores(
    const int32_t *products, const int32_t *prefix_products, long nq, long n, const float *row_scales,
    const float *query_scales, const float *prefix_scales, float *scores) {
    for (long q = 0; q < nq; q++) {
        const float a = query_scales[q], b = prefix_scales[q];
        const int32_t *product = products + q * n;
        float *score = scores + q * n;
        for (long j = 0; j < n; j++) {
            score[j] = row_scales[j] * (a * (float)product[j] + b * (float)prefix_products[j]);
        }
    }
}

long vsk_indices_above(const float *scores, long n, float threshold, int32_t *indices) {
    // A scan's scores rarely beat its bar, so sixteen at a time are first compared as one vector (the OR of the
    // comparisons vectorises on any target) and only a chunk with a winner is looked at score by score.
    long count = 0, j = 0;
    for (; j + 16 <= n; j += 16) {
        int any = 0;
        for (int k = 0; k < 16; k++) any |= scores[j + k] > threshold;
        if (!any) continue;
        for (int k = 0; k < 16; k++) {
            indices[count] = (int32_t)(j + k);
            count += scores[j + k] > threshold;
        }
    }
    for (; j < n; j++) {
        indices[count] = (int32_t)j;
        count += scores[j] > threshold;
    }
    return count;
}

#if defined(__x86_64__)

// MARK: AVX2

#define AVX2 __attribute__((target("avx2")))

/// `vpmaddubsw` multiplies unsigned by signed bytes and adds pairs into 16 bits, which would saturate on two
/// products of 255 · 127. The row's sign is moved onto the query (`vpsignb`) so the unsigned operand is |row|
/// ≤ 127 and a pair is at most 2 · 127 · 127 = 32,258: exact, as long as no code is −128 (the codes are ±127).
static inline __attribute__((always_inline)) AVX2 void tile_avx2(
    const int R, const int Q, const int8_t *queries, long query_stride, const int8_t *rows, long row_stride, long n,
    int32_t *out, long out_stride) {
    __m256i acc[2][4];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) acc[r][q] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i row[2], magnitude[2];
        for (int r = 0; r < R; r++) {
            row[r] = _mm256_loadu_si256((const __m256i *)(rows + r * row_stride + i));
            magnitude[r] = _mm256_abs_epi8(row[r]);
        }
        for (int q = 0; q < Q; q++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(queries + q * query_stride + i));
            for (int r = 0; r < R; r++) {
                __m256i pairs = _mm256_maddubs_epi16(magnitude[r], _mm256_sign_epi8(x, row[r]));
                acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(pairs, ones));
            }
        }
    }
    for (int r = 0; r < R; r++) {
        for (int q = 0; q < Q; q++) {
            __m128i half = _mm_add_epi32(_mm256_castsi256_si128(acc[r][q]), _mm256_extracti128_si256(acc[r][q], 1));
            half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0x4e));
            half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0xb1));
            int32_t sum = _mm_cvtsi128_si32(half);
            const int8_t *query = queries + q * query_stride, *row = rows + r * row_stride;
            for (long j = i; j < n; j++) sum += (int32_t)query[j] * (int32_t)row[j];
            out[q * out_stride + r] = sum;
        }
    }
}

#define TILES_AVX2(R)                                                                                             \
    switch (Q) {                                                                                                  \
    case 1: tile_avx2(R, 1, query, query_stride, row, row_stride, n, target, out_stride); break;                  \
    case 2: tile_avx2(R, 2, query, query_stride, row, row_stride, n, target, out_stride); break;                  \
    case 3: tile_avx2(R, 3, query, query_stride, row, row_stride, n, target, out_stride); break;                  \
    default: tile_avx2(R, 4, query, query_stride, row, row_stride, n, target, out_stride); break;                 \
    }

AVX2 void vsk_code_products_avx2(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride) {
    // 16 registers: 2 rows × 4 queries of accumulators, the two rows and their magnitudes, a query, the ones.
    const long groups = group_count(nq, 4);
    for (long r0 = 0; r0 < nr; r0 += 2) {
        const int8_t *row = rows + r0 * row_stride;
        for (long g = 0; g < groups; g++) {
            long q0 = group_start(g, groups, nq), Q = group_start(g + 1, groups, nq) - q0;
            const int8_t *query = queries + q0 * query_stride;
            int32_t *target = out + q0 * out_stride + r0;
            if (r0 + 2 <= nr) {
                TILES_AVX2(2)
            } else {
                TILES_AVX2(1)
            }
        }
    }
}

// MARK: AVX-512 VNNI

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

/// `vpdpbusd` multiplies unsigned by signed bytes, four pairs into each 32-bit sum, without saturating. The rows
/// are made unsigned by adding 128 (flipping their top bit), which adds 128 · Σ query to each product; the caller
/// passes that bias per query and it is taken off at the end.
static inline __attribute__((always_inline)) VNNI void tile_vnni(
    const int R, const int Q, const int8_t *queries, long query_stride, const int8_t *rows, long row_stride, long n,
    const int32_t *bias, int32_t *out, long out_stride, const int8_t *next) {
    __m512i acc[4][5];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < Q; q++) acc[r][q] = _mm512_setzero_si512();
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (long i = 0; i < n; i += 64) {
        // The last step loads only the bytes left; a masked row byte becomes 128 after the flip, but its query
        // byte is 0, so it adds nothing.
        const __mmask64 mask = n - i >= 64 ? ~(__mmask64)0 : ~(__mmask64)0 >> (64 - (n - i));
        __m512i row[4];
        for (int r = 0; r < R; r++) {
            row[r] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, rows + r * row_stride + i), flip);
            // A scan of many rows waits on memory, not on arithmetic, unless the next tile's rows are asked
            // for while this one is multiplied (the hardware prefetcher does not follow four strided streams).
            if (next != NULL) _mm_prefetch((const char *)(next + r * row_stride + i), _MM_HINT_T0);
        }
        for (int q = 0; q < Q; q++) {
            __m512i x = _mm512_maskz_loadu_epi8(mask, queries + q * query_stride + i);
            for (int r = 0; r < R; r++) acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], row[r], x);
        }
    }
    for (int q = 0; q < Q; q++) {
        if (R == 4) {
            // Four rows' sums at once: 512 → 256 bits each, then three pairwise horizontal adds.
            __m256i s[4];
            for (int r = 0; r < 4; r++) {
                s[r] = _mm256_add_epi32(_mm512_castsi512_si256(acc[r][q]), _mm512_extracti64x4_epi64(acc[r][q], 1));
            }
            __m256i both = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
            __m128i sums = _mm_add_epi32(_mm256_castsi256_si128(both), _mm256_extracti128_si256(both, 1));
            sums = _mm_sub_epi32(sums, _mm_set1_epi32(bias[q]));
            _mm_storeu_si128((__m128i *)(out + q * out_stride), sums);
        } else {
            for (int r = 0; r < R; r++) out[q * out_stride + r] = _mm512_reduce_add_epi32(acc[r][q]) - bias[q];
        }
    }
}

#define TILES_VNNI(R)                                                                                             \
    switch (Q) {                                                                                                  \
    case 1: tile_vnni(R, 1, query, query_stride, row, row_stride, n, bias + q0, target, out_stride, next); break;        \
    case 2: tile_vnni(R, 2, query, query_stride, row, row_stride, n, bias + q0, target, out_stride, next); break;        \
    case 3: tile_vnni(R, 3, query, query_stride, row, row_stride, n, bias + q0, target, out_stride, next); break;        \
    case 4: tile_vnni(R, 4, query, query_stride, row, row_stride, n, bias + q0, target, out_stride, next); break;        \
    default: tile_vnni(R, 5, query, query_stride, row, row_stride, n, bias + q0, target, out_stride, next); break;       \
    }

VNNI void vsk_code_products_vnni(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride) {
    int32_t few[64];
    int32_t *bias = nq <= 64 ? few : malloc((size_t)nq * sizeof(int32_t));
    if (bias == NULL) {
        vsk_code_products_portable(queries, nq, query_stride, rows, nr, row_stride, n, out, out_stride);
        return;
    }
    for (long q = 0; q < nq; q++) {
        int32_t sum = 0;
        for (long i = 0; i < n; i++) sum += queries[q * query_stride + i];
        bias[q] = 128 * sum;
    }
    // 32 registers: 4 rows × 5 queries of accumulators, the four rows, a query and the constant.
    const long groups = group_count(nq, 5);
    for (long r0 = 0; r0 < nr; r0 += 4) {
        const int8_t *row = rows + r0 * row_stride;
        const long left = nr - r0;
        for (long g = 0; g < groups; g++) {
            long q0 = group_start(g, groups, nq), Q = group_start(g + 1, groups, nq) - q0;
            const int8_t *query = queries + q0 * query_stride;
            int32_t *target = out + q0 * out_stride + r0;
            const int8_t *next = g == 0 && left > 4 ? row + 4 * row_stride : NULL;
            if (left >= 4) {
                TILES_VNNI(4)
            } else if (left == 3) {
                TILES_VNNI(3)
            } else if (left == 2) {
                TILES_VNNI(2)
            } else {
                TILES_VNNI(1)
            }
        }
    }
    if (bias != few) free(bias);
}

#endif
