// The hot loops of local features: the FAST segment test over a row of pixels, and Hamming-distance
// matching of 256-bit binary descriptors, chosen once at run time for the CPU.
//
// Matching a query's local features against a candidate's is a brute-force nearest-neighbour search in
// Hamming space, and it is most of what verifying a candidate costs. The kernels are in C so that variants
// that count bits with the CPU's vector instructions (POPCNT, AVX2 nibble lookups, AVX-512 VPOPCNTDQ or BITALG)
// can sit beside a portable one in the same binary, chosen by what the CPU supports, without building the
// module for a CPU level.
#ifndef VSEARCH_CLOCALFEATUREKERNELS_H
#define VSEARCH_CLOCALFEATUREKERNELS_H

#include <stdint.h>

#pragma clang assume_nonnull begin

/// Words in one descriptor: 4 × 64 = 256 bits.
#define LFK_DESCRIPTOR_WORDS 4

/// Which variant is in use.
typedef enum {
    /// Plain C: the compiler's portable bit count.
    LFK_LEVEL_PORTABLE = 0,
    /// The POPCNT instruction, one 64-bit word at a time.
    LFK_LEVEL_POPCNT = 1,
    /// AVX2: sixteen descriptors per step, bits counted by nibble lookups (VPSHUFB), the nearest kept in 16-bit
    /// lanes (over 65,534 item descriptors, the POPCNT variant).
    LFK_LEVEL_AVX2 = 2,
    /// AVX-512 VPOPCNTDQ: eight 64-bit counts per instruction.
    LFK_LEVEL_AVX512 = 3,
    /// AVX-512 BITALG: thirty-two 16-bit counts per instruction, the nearest kept in 16-bit lanes (over 65,534
    /// item descriptors, the VPOPCNTDQ variant).
    LFK_LEVEL_AVX512_WORDS = 4,
} lfk_level;

/// For each of the `query_count` query descriptors, the nearest of the `item_count` item descriptors and the
/// two smallest distances: `nearest[i]` is the index of the nearest item descriptor, `first[i]` its distance
/// and `second[i]` the next smallest distance to any other item descriptor (257 when there is none).
/// Descriptors are LFK_DESCRIPTOR_WORDS words each, one after another. With no item descriptors, `nearest`
/// is -1 and both distances 257.
void lfk_two_nearest(const uint64_t *queries, long query_count, const uint64_t *items, long item_count,
                    int32_t *nearest, int32_t *first, int32_t *second);

/// The variant in use. The environment variable VSEARCH_HAMMING_KERNELS set to "portable", "popcnt", "avx2" or
/// "avx512" caps it (to measure or test the others).
lfk_level lfk_active_level(void);

/// `lfk_two_nearest` of exactly one variant; returns 0, having written nothing, when this CPU lacks it.
int lfk_two_nearest_at(lfk_level level, const uint64_t *queries, long query_count, const uint64_t *items,
                      long item_count, int32_t *nearest, int32_t *first, int32_t *second);

/// The FAST segment test on pixels `first` ..< `last` of the row that starts at `row`, in a plane `stride`
/// bytes wide with at least 3 rows and columns of margin around them. `circle` holds the 16 offsets of the
/// circle of radius 3, clockwise. A pixel passes when 9 contiguous circle pixels are all brighter than it by
/// more than `threshold`, or all darker; `scores[x]` (indexed like the row) is then the summed excess over
/// the threshold of the brighter or the darker circle pixels, whichever is more, at least 1; otherwise 0.
/// Returns how many pixels passed.
long lfk_fast_row(const uint8_t *row, const long circle[16], long first, long last, int threshold,
                  int32_t *scores);

/// `source` (`width × height` bytes) smoothed by a 7-tap gaussian (σ = 2 pixels, weights 18 34 49 54 49 34 18
/// out of 256 each way), the border repeated, into `output`; `rows` is scratch for `width × height` values.
void lfk_smooth7(const uint8_t *source, long width, long height, uint16_t *rows, uint8_t *output);

/// `source` (`source_width` wide) resampled bilinearly into `output` (`width × height`): output column x reads
/// source columns `left[x]` and `left[x] + right_step` with weights 256 − `column_weight[x]` and
/// `column_weight[x]` (out of 256), and output row y rows `top[y]` and `top[y] + down_step` likewise.
void lfk_resample(const uint8_t *source, long source_width, long right_step, long down_step, const long *left,
                  const int32_t *column_weight, const long *top, const int32_t *row_weight, long width, long height,
                  uint8_t *output);

#pragma clang assume_nonnull end

#endif
