// JPEG encoding through libjpeg-turbo, guarded by setjmp like the decoder.
//
// The evaluation tool re-encodes distorted photos the way a phone camera
// does; libjpeg reports fatal errors through a callback that must not
// return, so the call sits behind a jump point and failures come back as a
// return code.
#ifndef VSEARCH_JPEG_ENCODE_H
#define VSEARCH_JPEG_ENCODE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Encodes packed 8-bit RGB (`width * 3` bytes a row) at `quality` (1–100).
/// On success returns 0 and sets `*output` to a malloc'd buffer of
/// `*output_size` bytes that the caller frees with `vs_jpeg_free_encoded`.
/// On failure returns -1 and leaves `*output` NULL.
int vs_jpeg_encode_rgb(const unsigned char *pixels, unsigned int width, unsigned int height, int quality,
                       unsigned char **output, size_t *output_size);

/// Frees a buffer returned by `vs_jpeg_encode_rgb`.
void vs_jpeg_free_encoded(unsigned char *buffer);

#ifdef __cplusplus
}
#endif

#endif
