#include "CLocalFeatureKernels.h"

static const uint32_t gauss7[7] = {18, 34, 49, 54, 49, 34, 18};

static inline long clamp(long v, long lo, long hi) { return v < lo ? lo : (v > hi ? hi : v); }

/// One pixel of the row pass near an edge, the border repeated.
static inline uint32_t edge_sum(const uint8_t *line, long x, long width) {
    uint32_t sum = 0;
    for (int k = 0; k < 7; k++) sum += gauss7[k] * line[clamp(x + k - 3, 0, width - 1)];
    return sum;
}

void lfk_smooth7(const uint8_t *source, long width, long height, uint16_t *rows, uint8_t *output) {
    // Rows first, into 16 bits (at most 255 × 256); the border is clamped only within 3 pixels of an edge, so
    // the inner loops are plain multiply-adds the compiler vectorises.
    for (long y = 0; y < height; y++) {
        const uint8_t *line = source + y * width;
        uint16_t *out = rows + y * width;
        long x = 0;
        for (; x < width && x < 3; x++) out[x] = (uint16_t)edge_sum(line, x, width);
        for (; x + 3 < width; x++) {
            out[x] = (uint16_t)(18u * line[x - 3] + 34u * line[x - 2] + 49u * line[x - 1] + 54u * line[x] +
                                49u * line[x + 1] + 34u * line[x + 2] + 18u * line[x + 3]);
        }
        for (; x < width; x++) out[x] = (uint16_t)edge_sum(line, x, width);
    }
    for (long y = 0; y < height; y++) {
        const uint16_t *r[7];
        for (int k = 0; k < 7; k++) r[k] = rows + clamp(y + k - 3, 0, height - 1) * width;
        uint8_t *out = output + y * width;
        for (long x = 0; x < width; x++) {
            uint32_t sum = 18u * r[0][x] + 34u * r[1][x] + 49u * r[2][x] + 54u * r[3][x] + 49u * r[4][x] +
                           34u * r[5][x] + 18u * r[6][x];
            out[x] = (uint8_t)((sum + 32768u) >> 16);
        }
    }
}

void lfk_resample(const uint8_t *source, long source_width, long right_step, long down_step, const long *left,
                  const int32_t *column_weight, const long *top, const int32_t *row_weight, long width, long height,
                  uint8_t *output) {
    for (long y = 0; y < height; y++) {
        const uint8_t *upper = source + top[y] * source_width, *lower = upper + down_step;
        int32_t fy = row_weight[y];
        uint8_t *out = output + y * width;
        for (long x = 0; x < width; x++) {
            long l = left[x];
            int32_t w = column_weight[x];
            int32_t a = upper[l] * (256 - w) + upper[l + right_step] * w;
            int32_t b = lower[l] * (256 - w) + lower[l + right_step] * w;
            out[x] = (uint8_t)((a * (256 - fy) + b * fy + 32768) >> 16);
        }
    }
}
