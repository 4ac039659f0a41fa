// Integer resampling kernels for ImageTensor; see image_codecs.h.
//
// Swift builds for baseline x86-64, which has no 32-bit vector multiply, so
// these loops are compiled again for SSE4.1 and AVX2 and the best one is
// picked when the program loads. The arithmetic is Pillow's, bit for bit.
#include "image_codecs.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Function multiversioning needs ifunc support, which only ELF platforms have. ThreadSanitizer
// instruments the ifunc resolvers too, and the dynamic linker runs them before the sanitizer's
// runtime is up (a crash at load), so a TSan build uses the portable versions.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VS_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__linux__) && !defined(VS_NO_CLONES)
#define VS_CLONES __attribute__((target_clones("avx2", "sse4.1", "default")))
#else
#define VS_CLONES
#endif

#define VS_PRECISION_BITS 22

static inline uint8_t vs_clip8(int32_t value) {
    int32_t shifted = value >> VS_PRECISION_BITS;
    return (uint8_t)(shifted < 0 ? 0 : shifted > 255 ? 255 : shifted);
}

#if defined(__x86_64__)
__attribute__((target("sse4.1"))) static void vs_resample_row_rgb_sse41(const uint8_t *source, uint8_t *target,
    int columns, int taps, const int32_t *weights, const int32_t *first, const int32_t *count) {
    const __m128i half = _mm_set1_epi32(1 << (VS_PRECISION_BITS - 1));
    for (int column = 0; column < columns; column++) {
        __m128i sum = half;
        const int32_t *k = weights + (size_t)column * taps;
        const uint8_t *p = source + (size_t)first[column] * 3;
        int n = count[column];
        for (int tap = 0; tap < n; tap++, p += 3) {
            int32_t bytes;
            __builtin_memcpy(&bytes, p, 4);
            __m128i pixel = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(bytes));
            sum = _mm_add_epi32(sum, _mm_mullo_epi32(pixel, _mm_set1_epi32(k[tap])));
        }
        int32_t lanes[4];
        _mm_storeu_si128((__m128i *)lanes, sum);
        target[column * 3] = vs_clip8(lanes[0]);
        target[column * 3 + 1] = vs_clip8(lanes[1]);
        target[column * 3 + 2] = vs_clip8(lanes[2]);
    }
}
#endif

static void vs_resample_row_rgb_scalar(const uint8_t *source, uint8_t *target, int columns, int taps,
    const int32_t *weights, const int32_t *first, const int32_t *count) {
    const int32_t half = 1 << (VS_PRECISION_BITS - 1);
    for (int column = 0; column < columns; column++) {
        int32_t r = half, g = half, b = half;
        const int32_t *k = weights + (size_t)column * taps;
        const uint8_t *p = source + (size_t)first[column] * 3;
        int n = count[column];
        for (int tap = 0; tap < n; tap++, p += 3) {
            r += p[0] * k[tap];
            g += p[1] * k[tap];
            b += p[2] * k[tap];
        }
        target[column * 3] = vs_clip8(r);
        target[column * 3 + 1] = vs_clip8(g);
        target[column * 3 + 2] = vs_clip8(b);
    }
}

void vs_resample_row_rgb(const uint8_t *source, uint8_t *target, int columns, int taps, const int32_t *weights,
    const int32_t *first, const int32_t *count) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.1")) {
        vs_resample_row_rgb_sse41(source, target, columns, taps, weights, first, count);
        return;
    }
#endif
    vs_resample_row_rgb_scalar(source, target, columns, taps, weights, first, count);
}

VS_CLONES void vs_accumulate_row(int32_t *accumulator, const uint8_t *line, int32_t weight, int length) {
    for (int i = 0; i < length; i++) accumulator[i] += (int32_t)line[i] * weight;
}

VS_CLONES void vs_clip_row(const int32_t *accumulator, uint8_t *target, int length) {
    for (int i = 0; i < length; i++) target[i] = vs_clip8(accumulator[i]);
}
