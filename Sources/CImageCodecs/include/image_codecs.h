// Guarded entry points into libjpeg-turbo and libpng for vsearch's ImageDecoding.
//
// Both libraries report fatal errors through a callback that must not return
// (libjpeg's default one calls exit()). Swift cannot use setjmp, so these small
// functions set a jump point, make the library call, and turn a failure into a
// return code plus a one-line message. The library types stay opaque so that
// Swift never sees jpeglib.h or png.h through two modules.
#ifndef VSEARCH_IMAGE_CODECS_H
#define VSEARCH_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: JPEG

typedef struct vs_jpeg vs_jpeg;

/// The colour model stored in the file.
typedef enum {
    VS_JPEG_UNKNOWN = 0,
    VS_JPEG_GRAY = 1,
    VS_JPEG_RGB = 2,
    VS_JPEG_YCBCR = 3,
    VS_JPEG_CMYK = 4,
    VS_JPEG_YCCK = 5,
} vs_jpeg_color;

typedef struct {
    unsigned int width;
    unsigned int height;
    int components;
    vs_jpeg_color color;
    /// Non-zero when an Adobe APP14 marker was seen; Adobe writes CMYK inverted.
    int saw_adobe_marker;
} vs_jpeg_header;

/// A decoder for one image; NULL when memory is short.
vs_jpeg *vs_jpeg_create(void);
void vs_jpeg_destroy(vs_jpeg *jpeg);

/// Reads the header of `data`, which must stay alive until the decoder is destroyed.
/// Returns 0, or -1 with `vs_jpeg_message` set.
int vs_jpeg_read_header(vs_jpeg *jpeg, const unsigned char *data, size_t size, vs_jpeg_header *header);

/// Starts decoding at scale `scale_num`/8 (1...16), to RGB (3 components) or, when
/// `cmyk` is non-zero, to CMYK (4 components). Reports the output size.
int vs_jpeg_start(vs_jpeg *jpeg, int scale_num, int cmyk, unsigned int *width, unsigned int *height,
    int *components);

/// Decodes every scanline into `pixels` (`rows` rows of `stride` bytes) and finishes.
int vs_jpeg_read(vs_jpeg *jpeg, unsigned char *pixels, size_t stride, unsigned int rows);

/// The last failure, one line.
const char *vs_jpeg_message(const vs_jpeg *jpeg);
/// Non-zero when the last failure was the data ending early.
int vs_jpeg_truncated(const vs_jpeg *jpeg);

// MARK: PNG

typedef struct vs_png vs_png;

typedef struct {
    unsigned int width;
    unsigned int height;
    int bit_depth;
    int color_type;
    int interlaced;
} vs_png_header;

/// A decoder over `data`, which must stay alive until the decoder is destroyed.
vs_png *vs_png_create(const unsigned char *data, size_t size);
void vs_png_destroy(vs_png *png);

/// Reads the header. Returns 0, or -1 with `vs_png_message` set.
int vs_png_read_header(vs_png *png, vs_png_header *header);

/// Sets up 8-bit RGB or RGBA output (palettes, grey, tRNS and 16 bits are expanded or reduced;
/// 16-bit samples keep their high byte) and reports the channel count, 3 or 4.
int vs_png_start(vs_png *png, int *channels);

/// Decodes the whole image into `pixels` (height rows of `stride` bytes).
int vs_png_read(vs_png *png, unsigned char *pixels, size_t stride);

const char *vs_png_message(const vs_png *png);
int vs_png_truncated(const vs_png *png);

// MARK: Resampling kernels

/// One row of Pillow's horizontal pass over RGB bytes. For output column c,
/// `count[c]` taps from source pixel `first[c]` with weights
/// `weights[c * taps ...]` (22 fractional bits), rounded and clamped to bytes.
/// The source row must have one readable byte after its last pixel.
void vs_resample_row_rgb(const uint8_t *source, uint8_t *target, int columns, int taps, const int32_t *weights,
    const int32_t *first, const int32_t *count);

/// `accumulator[i] += line[i] * weight` for `length` bytes: one tap of the vertical pass.
void vs_accumulate_row(int32_t *accumulator, const uint8_t *line, int32_t weight, int length);

/// `target[i] = clamp(accumulator[i] >> 22, 0, 255)`.
void vs_clip_row(const int32_t *accumulator, uint8_t *target, int length);

#ifdef __cplusplus
}
#endif

#endif
