#include "CLocalFeatureKernels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// The score of one pixel that passed the test (or 0 when it does not pass): done in scalar code, since few do.
static int32_t segment_score(const uint8_t *p, const long circle[16], int threshold) {
    int centre = p[0], high = centre + threshold, low = centre - threshold;
    unsigned brighter = 0, darker = 0;
    int bright_sum = 0, dark_sum = 0;
    for (int k = 0; k < 16; k++) {
        int v = p[circle[k]];
        if (v > high) {
            brighter |= 1u << k;
            bright_sum += v - high;
        } else if (v < low) {
            darker |= 1u << k;
            dark_sum += low - v;
        }
    }
    unsigned b = brighter | (brighter << 16), d = darker | (darker << 16);
    for (int k = 0; k < 8; k++) {
        b &= b >> 1;
        d &= d >> 1;
    }
    if (b == 0 && d == 0) return 0;
    int score = bright_sum > dark_sum ? bright_sum : dark_sum;
    return score > 0 ? score : 1;
}

long lfk_fast_row(const uint8_t *row, const long circle[16], long first, long last, int threshold,
                  int32_t *scores) {
    long passed = 0;
    long x = first;
#if defined(__SSE2__)
    // Sixteen pixels per step, in bytes. Unsigned comparisons are signed ones after flipping the top bit.
    // Each lane counts the run of brighter (and of darker) circle pixels it is in, round the circle and 8
    // further so that a run may wrap; a run of 9 makes the pixel a corner.
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m128i t = _mm_set1_epi8((char)(threshold > 255 ? 255 : threshold));
    const __m128i nine = _mm_set1_epi8(9);
    for (; x + 16 <= last; x += 16) {
        const uint8_t *p = row + x;
        __m128i centre = _mm_loadu_si128((const __m128i *)p);
        __m128i high = _mm_xor_si128(_mm_adds_epu8(centre, t), flip);
        __m128i low = _mm_xor_si128(_mm_subs_epu8(centre, t), flip);
        // The quick test first: a run of 9 includes pixel 0 or 8, and pixel 4 or 12.
        __m128i beyond[4];
        for (int c = 0; c < 4; c++) {
            __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + circle[4 * c])), flip);
            beyond[c] = _mm_or_si128(_mm_cmpgt_epi8(v, high), _mm_cmpgt_epi8(low, v));
        }
        __m128i quick = _mm_and_si128(_mm_or_si128(beyond[0], beyond[2]), _mm_or_si128(beyond[1], beyond[3]));
        if (_mm_movemask_epi8(quick) == 0) continue;
        __m128i bright_run = _mm_setzero_si128(), dark_run = _mm_setzero_si128(), longest = _mm_setzero_si128();
        const __m128i one = _mm_set1_epi8(1);
        for (int k = 0; k < 24; k++) {
            __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + circle[k & 15])), flip);
            __m128i brighter = _mm_cmpgt_epi8(v, high), darker = _mm_cmpgt_epi8(low, v);
            bright_run = _mm_and_si128(_mm_add_epi8(bright_run, one), brighter);
            dark_run = _mm_and_si128(_mm_add_epi8(dark_run, one), darker);
            longest = _mm_max_epu8(longest, _mm_max_epu8(bright_run, dark_run));
        }
        int corners = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(longest, nine), longest));
        if (corners == 0) continue;
        // The scores of all sixteen, as segment_score computes them: the excess over the threshold, summed in
        // 16 bits (at most 16 × 255).
        __m128i high_u8 = _mm_adds_epu8(centre, t), low_u8 = _mm_subs_epu8(centre, t), zero = _mm_setzero_si128();
        __m128i bright_lo = zero, bright_hi = zero, dark_lo = zero, dark_hi = zero;
        for (int k = 0; k < 16; k++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + circle[k]));
            __m128i bright = _mm_subs_epu8(v, high_u8), dark = _mm_subs_epu8(low_u8, v);
            bright_lo = _mm_add_epi16(bright_lo, _mm_unpacklo_epi8(bright, zero));
            bright_hi = _mm_add_epi16(bright_hi, _mm_unpackhi_epi8(bright, zero));
            dark_lo = _mm_add_epi16(dark_lo, _mm_unpacklo_epi8(dark, zero));
            dark_hi = _mm_add_epi16(dark_hi, _mm_unpackhi_epi8(dark, zero));
        }
        int16_t lane_score[16];
        _mm_storeu_si128((__m128i *)lane_score, _mm_max_epi16(bright_lo, dark_lo));
        _mm_storeu_si128((__m128i *)(lane_score + 8), _mm_max_epi16(bright_hi, dark_hi));
        while (corners != 0) {
            int lane = __builtin_ctz((unsigned)corners);
            corners &= corners - 1;
            scores[x + lane] = lane_score[lane] > 0 ? lane_score[lane] : 1;
            passed++;
        }
    }
#endif
    for (; x < last; x++) {
        int32_t score = segment_score(row + x, circle, threshold);
        if (score > 0) {
            scores[x] = score;
            passed++;
        }
    }
    return passed;
}
