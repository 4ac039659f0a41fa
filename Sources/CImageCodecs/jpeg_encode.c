// libjpeg-turbo compression behind setjmp; see jpeg_encode.h.
#include "jpeg_encode.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr err;
    jmp_buf jump;
} vs_jpeg_encode_error;

static void vs_jpeg_encode_fail(j_common_ptr cinfo) {
    vs_jpeg_encode_error *error = (vs_jpeg_encode_error *)cinfo->err;
    longjmp(error->jump, 1);
}

static void vs_jpeg_encode_silent(j_common_ptr cinfo) { (void)cinfo; }

int vs_jpeg_encode_rgb(const unsigned char *pixels, unsigned int width, unsigned int height, int quality,
                       unsigned char **output, size_t *output_size) {
    if (!output || !output_size) return -1;
    *output = NULL;
    *output_size = 0;
    if (!pixels || width == 0 || height == 0) return -1;

    struct jpeg_compress_struct cinfo;
    vs_jpeg_encode_error error;
    // The library writes through &memory (so it lives in memory, not a register, and is still valid after a
    // longjmp); it may replace the buffer as it grows.
    unsigned char *memory = NULL;
    unsigned long memory_size = 0;

    cinfo.err = jpeg_std_error(&error.err);
    error.err.error_exit = vs_jpeg_encode_fail;
    error.err.output_message = vs_jpeg_encode_silent;
    if (setjmp(error.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(memory);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &memory, &memory_size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *output = memory;
    *output_size = memory_size;
    return 0;
}

void vs_jpeg_free_encoded(unsigned char *buffer) { free(buffer); }
