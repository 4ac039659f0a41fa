// Distance kernels for the vector index, chosen once at run time for the CPU they run on.
//
// The index's hot loops spend almost all their time here. The kernels are in C rather than Swift so that an
// AVX2 + FMA + F16C variant can sit beside a portable one in the same binary and be chosen by what the CPU
// supports, instead of building the whole module for x86-64-v3 with compiler flags (which SwiftPM calls
// unsafe and refuses in any package another package depends on by version).
#ifndef VSEARCH_CVECTORKERNELS_H
#define VSEARCH_CVECTORKERNELS_H

#include <stdint.h>

#pragma clang assume_nonnull begin

/// Which set of kernels is in use.
typedef enum {
    /// Plain C with 4-lane vectors: SSE2 on any x86-64, NEON on arm64, scalar elsewhere.
    VSK_LEVEL_PORTABLE = 0,
    /// 256-bit AVX2 with fused multiply-add and F16C half-precision loads (x86-64-v3: Haswell, Zen or newer).
    VSK_LEVEL_X86_64_V3 = 1,
    /// The AVX2 set with AVX-512 VNNI's 8-bit multiply-adds for the code products (Ice Lake, Zen 4 or newer).
    VSK_LEVEL_AVX512_VNNI = 2,
} vsk_level;

/// Σ a[i]·b[i].
float vsk_dot(const float *a, const float *b, long n);

/// Σ (a[i] − b[i])².
float vsk_l2_squared(const float *a, const float *b, long n);

/// The inner products of four rows with one query, in one pass over the query (out[0] for a, … out[3] for d).
void vsk_dot4(const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out);

/// The squared L2 distances of four rows to one query, in one pass over the query.
void vsk_l2_squared4(
    const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out);

/// Σ a[i]·b[i], where b holds IEEE 754 binary16 values (Swift's Float16, which C has no portable name for).
float vsk_dot_f16(const float *a, const void *b, long n);

/// Σ a[i]·b[i] for byte codes.
float vsk_dot_u8(const float *a, const uint8_t *b, long n);

/// 1 when every one of the n values is finite (no infinity, no NaN), else 0. One vectorised pass with no early
/// exit: x − x is 0 for a finite x and NaN otherwise, and a NaN survives the sum.
int vsk_all_finite(const float *v, long n);

/// Rounds n finite values to 8-bit codes with one scale: out[i] = round(v[i] / scale), in −127…127, where
/// scale = max |v[i]| / 127 (returned; 1 when every value is 0).
float vsk_round_codes(const float *v, long n, int8_t *out);

/// out[q · out_stride + r] = Σ_{i < n} queries[q · query_stride + i] · rows[r · row_stride + i] for every query q < nq
/// and row r < nr, exactly, for codes in −127…127 (−128 may saturate the AVX2 set's 16-bit pairs) and n below 66,000
/// (the VNNI set sums (row + 128) · query before it takes the bias off, so no 32-bit sum can overflow).
void vsk_code_products(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride);

/// scores[q · n + j] = row_scales[j] · (query_scales[q] · products[q · n + j] + prefix_scales[q] · prefix_products[j])
/// for q < nq, j < n: a block of 8-bit products (and its rows' products with a shared prefix) back to float scores.
void vsk_code_scores(
    const int32_t *products, const int32_t *prefix_products, long nq, long n, const float *row_scales,
    const float *query_scales, const float *prefix_scales, float *scores);

/// Writes to `indices` the positions j < n (in order) whose scores[j] > threshold, and returns how many there are;
/// `indices` has room for n.
long vsk_indices_above(const float *scores, long n, float threshold, int32_t *indices);

/// The kernels in use. The first call of any kernel chooses the best the CPU supports, capped by the environment
/// variable VSEARCH_VECTOR_KERNELS when it is "portable" or "avx2" (to measure or test a fallback).
vsk_level vsk_active_level(void);

/// One complete set of kernels, with the signatures above, so tests can compare the sets directly without
/// changing the one every search uses.
typedef struct vsk_kernels {
    vsk_level level;
    float (*dot)(const float *a, const float *b, long n);
    float (*l2_squared)(const float *a, const float *b, long n);
    void (*dot4)(const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out);
    void (*l2_squared4)(
        const float *q, const float *a, const float *b, const float *c, const float *d, long n, float *out);
    float (*dot_f16)(const float *a, const void *b, long n);
    float (*dot_u8)(const float *a, const uint8_t *b, long n);
    void (*code_products)(
        const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
        int32_t *out, long out_stride);
} vsk_kernels;

/// The kernels of `level`, or NULL when this CPU (or this build's architecture) lacks it.
const vsk_kernels *_Nullable vsk_kernels_at(vsk_level level);

#pragma clang assume_nonnull end

#endif
