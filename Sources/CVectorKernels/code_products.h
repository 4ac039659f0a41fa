// The 8-bit product's variants (code_products.c), for the dispatch table in vector_kernels.c.
#ifndef VSEARCH_CODE_PRODUCTS_H
#define VSEARCH_CODE_PRODUCTS_H

#include <stdint.h>

void vsk_code_products_portable(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride);

#if defined(__x86_64__)
void vsk_code_products_avx2(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride);

void vsk_code_products_vnni(
    const int8_t *queries, long nq, long query_stride, const int8_t *rows, long nr, long row_stride, long n,
    int32_t *out, long out_stride);
#endif

#endif
