#include "CLocalFeatureKernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { WORDS = LFK_DESCRIPTOR_WORDS, NONE = 257 };

/// Writes the answer for one query from its two smallest distances.
static inline void finish(int32_t best, int32_t d1, int32_t d2, int32_t *nearest, int32_t *first, int32_t *second) {
    *nearest = best;
    *first = d1;
    *second = d2;
}

// MARK: Scalar: one descriptor pair at a time. The loop body is shared; the attribute decides whether the
// compiler may use the POPCNT instruction for __builtin_popcountll.

#define SCALAR_BODY                                                                                            \
    for (long q = 0; q < query_count; q++) {                                                                   \
        const uint64_t *a = queries + q * WORDS;                                                               \
        int32_t best = -1, d1 = NONE, d2 = NONE;                                                               \
        for (long i = 0; i < item_count; i++) {                                                                \
            const uint64_t *b = items + i * WORDS;                                                             \
            int32_t d = __builtin_popcountll(a[0] ^ b[0]) + __builtin_popcountll(a[1] ^ b[1]) +                \
                        __builtin_popcountll(a[2] ^ b[2]) + __builtin_popcountll(a[3] ^ b[3]);                 \
            if (d < d1) {                                                                                      \
                d2 = d1;                                                                                       \
                d1 = d;                                                                                        \
                best = (int32_t)i;                                                                             \
            } else if (d < d2) {                                                                               \
                d2 = d;                                                                                        \
            }                                                                                                  \
        }                                                                                                      \
        finish(best, d1, d2, nearest + q, first + q, second + q);                                              \
    }

static void two_nearest_portable(const uint64_t *queries, long query_count, const uint64_t *items, long item_count,
                                 int32_t *nearest, int32_t *first, int32_t *second) {
    SCALAR_BODY
}

#if defined(__x86_64__)
__attribute__((target("popcnt"))) static void two_nearest_popcnt(const uint64_t *queries, long query_count,
                                                                 const uint64_t *items, long item_count,
                                                                 int32_t *nearest, int32_t *first,
                                                                 int32_t *second) {
    SCALAR_BODY
}

enum { HALF_WORDS = WORDS * 4, LANES_AVX2 = 16, MOST_ITEMS16 = 65534 };

// The 16-bit kernels' layout: the items' descriptors as sixteen 16-bit words each, word-major in blocks of `lanes`
// items (word w of items lanes·k … lanes·k + lanes − 1 side by side), the last block padded with zeros. NULL when
// there are no items or no memory; free() it.
static uint16_t *pack_words16(const uint64_t *items, long item_count, int lanes, size_t alignment) {
    long blocks = (item_count + lanes - 1) / lanes;
    if (blocks == 0) return NULL;
    uint16_t *packed = aligned_alloc(alignment, (size_t)blocks * HALF_WORDS * lanes * sizeof(uint16_t));
    if (packed == NULL) return NULL;
    const uint16_t *item_words = (const uint16_t *)items;
    for (long k = 0; k < blocks; k++) {
        uint16_t *block = packed + k * HALF_WORDS * lanes;
        for (int lane = 0; lane < lanes; lane++) {
            long i = k * lanes + lane;
            for (int w = 0; w < HALF_WORDS; w++) {
                block[w * lanes + lane] = i < item_count ? item_words[i * HALF_WORDS + w] : 0;
            }
        }
    }
    return packed;
}

// The 16-bit kernels' last step for one query: each lane holds the two smallest distances it saw and the index of
// the smallest. The nearest is the smallest over the lanes, ties to the lowest index; the second smallest is the
// best lane's own second or another lane's first.
static void merge_lanes16(int lanes, const uint16_t *lane_first, const uint16_t *lane_second,
                          const uint16_t *lane_index, int32_t *nearest, int32_t *first, int32_t *second) {
    int best_lane = 0;
    for (int l = 1; l < lanes; l++) {
        if (lane_first[l] < lane_first[best_lane] ||
            (lane_first[l] == lane_first[best_lane] && lane_index[l] < lane_index[best_lane])) {
            best_lane = l;
        }
    }
    int32_t d2 = lane_second[best_lane];
    for (int l = 0; l < lanes; l++) {
        if (l != best_lane && lane_first[l] < d2) d2 = lane_first[l];
    }
    // A lane that saw no item keeps the index 0xFFFF: only with no items at all is that the best lane.
    int32_t best = lane_index[best_lane] == 0xFFFF ? -1 : (int32_t)lane_index[best_lane];
    finish(best, (int32_t)lane_first[best_lane], d2, nearest, first, second);
}

// MARK: AVX2: sixteen item descriptors per step, in the 16-bit layout of the BITALG variant below (blocks of 16
// items here). AVX2 has no population count, so each byte's bits are counted by looking its two nibbles up in a
// 16-entry table (VPSHUFB). The byte counts of all sixteen words are summed before they are widened: a byte of
// a 16-bit lane sees at most 16 × 8 = 128 bits, so the 8-bit sums cannot overflow. Distances (at most 257) and
// the sentinel fit signed 16-bit lanes, which is what AVX2 compares.

#define AVX2 __attribute__((target("avx2")))

// pack_words16 for sixteen lanes, a block of 16 items at a time: one item's sixteen words are one register, so a
// block is a 16 × 16 transpose of 16-bit words. Each 128-bit half transposes 8 × 8 (words 0–7 in the low halves,
// 8–15 in the high ones) in three rounds of unpacking, and the halves of items 0–7 and 8–15 are then joined. A
// quarter of the scalar loop's time, which was a twelfth of a screened check's. The last, partial block is left to
// the scalar loop.
AVX2 static uint16_t *pack_words16_avx2(const uint64_t *items, long item_count) {
    long full = item_count / LANES_AVX2, tail = item_count % LANES_AVX2, blocks = full + (tail > 0);
    uint16_t *packed = tail > 0 ? pack_words16(items + full * LANES_AVX2 * WORDS, tail, LANES_AVX2, 32) : NULL;
    if (tail > 0 && packed == NULL) return NULL;
    if (full == 0) return packed;
    uint16_t *all = aligned_alloc(32, (size_t)blocks * HALF_WORDS * LANES_AVX2 * sizeof(uint16_t));
    if (all == NULL) {
        free(packed);
        return NULL;
    }
    if (packed != NULL) {
        memcpy(all + full * HALF_WORDS * LANES_AVX2, packed, HALF_WORDS * LANES_AVX2 * sizeof(uint16_t));
        free(packed);
    }
    for (long k = 0; k < full; k++) {
        const uint64_t *rows = items + k * LANES_AVX2 * WORDS;
        __m256i half[2][8];
        for (int h = 0; h < 2; h++) {
            __m256i a[8], b[8], c[8];
            for (int r = 0; r < 8; r++) a[r] = _mm256_loadu_si256((const __m256i *)(rows + (h * 8 + r) * WORDS));
            for (int r = 0; r < 8; r += 2) {
                b[r] = _mm256_unpacklo_epi16(a[r], a[r + 1]);
                b[r + 1] = _mm256_unpackhi_epi16(a[r], a[r + 1]);
            }
            for (int g = 0; g < 8; g += 4) {
                c[g] = _mm256_unpacklo_epi32(b[g], b[g + 2]);
                c[g + 1] = _mm256_unpackhi_epi32(b[g], b[g + 2]);
                c[g + 2] = _mm256_unpacklo_epi32(b[g + 1], b[g + 3]);
                c[g + 3] = _mm256_unpackhi_epi32(b[g + 1], b[g + 3]);
            }
            for (int w = 0; w < 8; w += 2) {
                half[h][w] = _mm256_unpacklo_epi64(c[w / 2], c[w / 2 + 4]);
                half[h][w + 1] = _mm256_unpackhi_epi64(c[w / 2], c[w / 2 + 4]);
            }
        }
        uint16_t *block = all + k * HALF_WORDS * LANES_AVX2;
        for (int w = 0; w < 8; w++) {
            _mm256_store_si256((__m256i *)(block + w * LANES_AVX2),
                               _mm256_permute2x128_si256(half[0][w], half[1][w], 0x20));
            _mm256_store_si256((__m256i *)(block + (w + 8) * LANES_AVX2),
                               _mm256_permute2x128_si256(half[0][w], half[1][w], 0x31));
        }
    }
    return all;
}

AVX2 static void two_nearest_avx2(const uint64_t *queries, long query_count, const uint64_t *items,
                                  long item_count, int32_t *nearest, int32_t *first, int32_t *second) {
    long blocks = (item_count + LANES_AVX2 - 1) / LANES_AVX2;
    uint16_t *packed = pack_words16_avx2(items, item_count);
    if (blocks > 0 && packed == NULL) {  // out of memory: the scalar loop needs no scratch
        two_nearest_popcnt(queries, query_count, items, item_count, nearest, first, second);
        return;
    }
    const __m256i bits_in_nibble = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2,
                                                    2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const __m256i low_bytes = _mm256_set1_epi16(0x00FF);
    const __m256i none = _mm256_set1_epi16(NONE);
    const __m256i step = _mm256_set1_epi16(LANES_AVX2);
    const __m256i lane_numbers = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m256i tail = _mm256_cmpgt_epi16(
        _mm256_set1_epi16((short)(item_count % LANES_AVX2 == 0 ? LANES_AVX2 : item_count % LANES_AVX2)),
        lane_numbers);
    for (long q = 0; q < query_count; q++) {
        const uint16_t *a = (const uint16_t *)(queries + q * WORDS);
        __m256i query[HALF_WORDS];
        for (int w = 0; w < HALF_WORDS; w++) query[w] = _mm256_set1_epi16((short)a[w]);
        __m256i b1 = none, b2 = none, i1 = _mm256_set1_epi16(-1), index = lane_numbers;
        for (long k = 0; k < blocks; k++) {
            const uint16_t *block = packed + k * HALF_WORDS * LANES_AVX2;
            __m256i byte_counts = _mm256_setzero_si256();
            for (int w = 0; w < HALF_WORDS; w++) {
                __m256i x = _mm256_xor_si256(query[w], _mm256_load_si256((const __m256i *)(block + w * LANES_AVX2)));
                __m256i low = _mm256_shuffle_epi8(bits_in_nibble, _mm256_and_si256(x, low_nibbles));
                __m256i high = _mm256_shuffle_epi8(bits_in_nibble, _mm256_and_si256(_mm256_srli_epi16(x, 4), low_nibbles));
                byte_counts = _mm256_add_epi8(byte_counts, _mm256_add_epi8(low, high));
            }
            __m256i d = _mm256_add_epi16(_mm256_and_si256(byte_counts, low_bytes), _mm256_srli_epi16(byte_counts, 8));
            if (k == blocks - 1) d = _mm256_blendv_epi8(none, d, tail);
            __m256i closer = _mm256_cmpgt_epi16(b1, d);
            b2 = _mm256_min_epi16(b2, _mm256_max_epi16(b1, d));
            b1 = _mm256_min_epi16(b1, d);
            i1 = _mm256_blendv_epi8(i1, index, closer);
            index = _mm256_add_epi16(index, step);
        }
        uint16_t lane_first[LANES_AVX2], lane_second[LANES_AVX2], lane_index[LANES_AVX2];
        _mm256_storeu_si256((__m256i *)lane_first, b1);
        _mm256_storeu_si256((__m256i *)lane_second, b2);
        _mm256_storeu_si256((__m256i *)lane_index, i1);
        merge_lanes16(LANES_AVX2, lane_first, lane_second, lane_index, nearest + q, first + q, second + q);
    }
    free(packed);
}

// MARK: AVX-512: eight item descriptors per step. The items are first laid out word-major in blocks of eight
// (word w of items 8k … 8k+7 side by side), so one XOR and one VPOPCNTQ per word give eight distances at once.
// Each lane keeps the two smallest distances it has seen and the index of the smallest; the lanes are merged
// at the end. Ties go to the lowest index, as in the scalar loop, so every variant gives the same answer.

#define AVX512 __attribute__((target("avx512f,avx512vpopcntdq")))

AVX512 static void two_nearest_avx512(const uint64_t *queries, long query_count, const uint64_t *items,
                                      long item_count, int32_t *nearest, int32_t *first, int32_t *second) {
    long blocks = (item_count + 7) / 8;
    uint64_t *packed = blocks > 0 ? aligned_alloc(64, (size_t)blocks * WORDS * 8 * sizeof(uint64_t)) : NULL;
    if (blocks > 0 && packed == NULL) {  // out of memory: the scalar loop needs no scratch
        two_nearest_popcnt(queries, query_count, items, item_count, nearest, first, second);
        return;
    }
    for (long i = 0; i < blocks * 8; i++) {
        for (int w = 0; w < WORDS; w++) {
            packed[(i / 8) * WORDS * 8 + w * 8 + i % 8] = i < item_count ? items[i * WORDS + w] : 0;
        }
    }
    const __m512i none = _mm512_set1_epi64(NONE);
    const __m512i step = _mm512_set1_epi64(8);
    for (long q = 0; q < query_count; q++) {
        const uint64_t *a = queries + q * WORDS;
        __m512i q0 = _mm512_set1_epi64((long long)a[0]), q1 = _mm512_set1_epi64((long long)a[1]);
        __m512i q2 = _mm512_set1_epi64((long long)a[2]), q3 = _mm512_set1_epi64((long long)a[3]);
        __m512i b1 = none, b2 = none, i1 = _mm512_set1_epi64(-1);
        __m512i index = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
        for (long k = 0; k < blocks; k++) {
            const uint64_t *block = packed + k * WORDS * 8;
            __m512i d = _mm512_popcnt_epi64(_mm512_xor_si512(q0, _mm512_load_si512(block)));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(q1, _mm512_load_si512(block + 8))));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(q2, _mm512_load_si512(block + 16))));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(q3, _mm512_load_si512(block + 24))));
            if (k == blocks - 1 && item_count % 8 != 0) {
                d = _mm512_mask_mov_epi64(none, (__mmask8)((1u << (item_count % 8)) - 1), d);
            }
            __mmask8 closer = _mm512_cmplt_epi64_mask(d, b1);
            b2 = _mm512_min_epi64(b2, _mm512_max_epi64(b1, d));
            b1 = _mm512_min_epi64(b1, d);
            i1 = _mm512_mask_mov_epi64(i1, closer, index);
            index = _mm512_add_epi64(index, step);
        }
        int64_t lane_first[8], lane_second[8], lane_index[8];
        _mm512_storeu_si512(lane_first, b1);
        _mm512_storeu_si512(lane_second, b2);
        _mm512_storeu_si512(lane_index, i1);
        int best_lane = 0;
        for (int l = 1; l < 8; l++) {
            if (lane_first[l] < lane_first[best_lane] ||
                (lane_first[l] == lane_first[best_lane] && lane_index[l] < lane_index[best_lane])) {
                best_lane = l;
            }
        }
        int64_t d2 = lane_second[best_lane];
        for (int l = 0; l < 8; l++) {
            if (l != best_lane && lane_first[l] < d2) d2 = lane_first[l];
        }
        finish((int32_t)lane_index[best_lane], (int32_t)lane_first[best_lane], (int32_t)d2, nearest + q, first + q,
               second + q);
    }
    free(packed);
}

// MARK: AVX-512 BITALG: thirty-two item descriptors per step. Each descriptor is read as sixteen 16-bit words,
// laid out word-major in blocks of 32 items, so one XOR and one VPOPCNTW per word give 32 distances at once, and
// the two smallest distances and the nearest index are kept in 16-bit lanes: a quarter of the VPOPCNTDQ
// variant's bookkeeping per item. A distance is at most 256 and an index below 65,535 fits a lane; more items
// than that take the VPOPCNTDQ variant.

#define AVX512_WORDS __attribute__((target("avx512f,avx512bw,avx512bitalg")))

enum { LANES16 = 32 };

AVX512_WORDS static void two_nearest_avx512_words(const uint64_t *queries, long query_count, const uint64_t *items,
                                                  long item_count, int32_t *nearest, int32_t *first,
                                                  int32_t *second) {
    long blocks = (item_count + LANES16 - 1) / LANES16;
    uint16_t *packed = pack_words16(items, item_count, LANES16, 64);
    if (blocks > 0 && packed == NULL) {  // out of memory: the scalar loop needs no scratch
        two_nearest_popcnt(queries, query_count, items, item_count, nearest, first, second);
        return;
    }
    const __m512i none = _mm512_set1_epi16(NONE);
    const __m512i step = _mm512_set1_epi16(LANES16);
    const __m512i lane_numbers = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15,
                                                  14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __mmask32 tail =
        item_count % LANES16 == 0 ? ~(__mmask32)0 : (((__mmask32)1 << (item_count % LANES16)) - 1);
    for (long q = 0; q < query_count; q++) {
        const uint16_t *a = (const uint16_t *)(queries + q * WORDS);
        __m512i query[HALF_WORDS];
        for (int w = 0; w < HALF_WORDS; w++) query[w] = _mm512_set1_epi16((short)a[w]);
        __m512i b1 = none, b2 = none, i1 = _mm512_set1_epi16(-1), index = lane_numbers;
        for (long k = 0; k < blocks; k++) {
            const uint16_t *block = packed + k * HALF_WORDS * LANES16;
            __m512i d = _mm512_popcnt_epi16(_mm512_xor_si512(query[0], _mm512_load_si512(block)));
            for (int w = 1; w < HALF_WORDS; w++) {
                __m512i words = _mm512_load_si512(block + w * LANES16);
                d = _mm512_add_epi16(d, _mm512_popcnt_epi16(_mm512_xor_si512(query[w], words)));
            }
            if (k == blocks - 1) d = _mm512_mask_mov_epi16(none, tail, d);
            __mmask32 closer = _mm512_cmplt_epu16_mask(d, b1);
            b2 = _mm512_min_epu16(b2, _mm512_max_epu16(b1, d));
            b1 = _mm512_min_epu16(b1, d);
            i1 = _mm512_mask_mov_epi16(i1, closer, index);
            index = _mm512_add_epi16(index, step);
        }
        uint16_t lane_first[LANES16], lane_second[LANES16], lane_index[LANES16];
        _mm512_storeu_si512(lane_first, b1);
        _mm512_storeu_si512(lane_second, b2);
        _mm512_storeu_si512(lane_index, i1);
        merge_lanes16(LANES16, lane_first, lane_second, lane_index, nearest + q, first + q, second + q);
    }
    free(packed);
}
#endif

// MARK: Dispatch

typedef void (*two_nearest_fn)(const uint64_t *, long, const uint64_t *, long, int32_t *, int32_t *, int32_t *);

static int supported(lfk_level level) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (level) {
    case LFK_LEVEL_PORTABLE: return 1;
    case LFK_LEVEL_POPCNT: return __builtin_cpu_supports("popcnt");
    case LFK_LEVEL_AVX2: return __builtin_cpu_supports("avx2");
    case LFK_LEVEL_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
    case LFK_LEVEL_AVX512_WORDS:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512bitalg");
    }
    return 0;
#else
    return level == LFK_LEVEL_PORTABLE;
#endif
}

static two_nearest_fn variant(lfk_level level, long item_count) {
#if defined(__x86_64__)
    if (level == LFK_LEVEL_AVX512_WORDS && item_count <= MOST_ITEMS16) return two_nearest_avx512_words;
    if (level >= LFK_LEVEL_AVX512 && supported(LFK_LEVEL_AVX512)) return two_nearest_avx512;
    if (level >= LFK_LEVEL_AVX2 && item_count <= MOST_ITEMS16 && supported(LFK_LEVEL_AVX2)) return two_nearest_avx2;
    if (level >= LFK_LEVEL_POPCNT) return two_nearest_popcnt;
#endif
    return two_nearest_portable;
}

/// The level in use plus one; 0 until the first call chooses. Two threads that choose at once store the same.
static _Atomic int active_plus_one;

lfk_level lfk_active_level(void) {
    int chosen = atomic_load_explicit(&active_plus_one, memory_order_relaxed);
    if (chosen != 0) return (lfk_level)(chosen - 1);
    const char *cap = getenv("VSEARCH_HAMMING_KERNELS");
    lfk_level highest = LFK_LEVEL_AVX512_WORDS;
    if (cap != NULL && strcmp(cap, "avx512") == 0) highest = LFK_LEVEL_AVX512;
    if (cap != NULL && strcmp(cap, "portable") == 0) highest = LFK_LEVEL_PORTABLE;
    if (cap != NULL && strcmp(cap, "popcnt") == 0) highest = LFK_LEVEL_POPCNT;
    if (cap != NULL && strcmp(cap, "avx2") == 0) highest = LFK_LEVEL_AVX2;
    lfk_level level = LFK_LEVEL_PORTABLE;
    for (int l = (int)highest; l > LFK_LEVEL_PORTABLE; l--) {
        if (supported((lfk_level)l)) {
            level = (lfk_level)l;
            break;
        }
    }
    atomic_store_explicit(&active_plus_one, (int)level + 1, memory_order_relaxed);
    return level;
}

void lfk_two_nearest(const uint64_t *queries, long query_count, const uint64_t *items, long item_count,
                    int32_t *nearest, int32_t *first, int32_t *second) {
    variant(lfk_active_level(), item_count)(queries, query_count, items, item_count, nearest, first, second);
}

int lfk_two_nearest_at(lfk_level level, const uint64_t *queries, long query_count, const uint64_t *items,
                      long item_count, int32_t *nearest, int32_t *first, int32_t *second) {
    if (!supported(level)) return 0;
    variant(level, item_count)(queries, query_count, items, item_count, nearest, first, second);
    return 1;
}
