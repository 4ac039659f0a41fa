// libjpeg-turbo behind setjmp; see image_codecs.h.
#include "image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

struct vs_jpeg {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated;
    /// Set once every scanline is out: a file missing only its end marker is fine.
    int pixels_complete;
};

static void vs_jpeg_fail(j_common_ptr cinfo) {
    vs_jpeg *jpeg = (vs_jpeg *)cinfo->client_data;
    (*cinfo->err->format_message)(cinfo, jpeg->message);
    longjmp(jpeg->jump, 1);
}

// A file that ends early only earns libjpeg's warning and a grey lower half;
// we want an error instead. Other warnings (stray bytes) are tolerated as
// other decoders do.
static void vs_jpeg_emit(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    vs_jpeg *jpeg = (vs_jpeg *)cinfo->client_data;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF && !jpeg->pixels_complete) {
        jpeg->truncated = 1;
        vs_jpeg_fail(cinfo);
    }
    cinfo->err->num_warnings++;
}

static void vs_jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

vs_jpeg *vs_jpeg_create(void) {
    vs_jpeg *jpeg = calloc(1, sizeof(vs_jpeg));
    if (!jpeg) return NULL;
    jpeg->cinfo.err = jpeg_std_error(&jpeg->err);
    jpeg->err.error_exit = vs_jpeg_fail;
    jpeg->err.emit_message = vs_jpeg_emit;
    jpeg->err.output_message = vs_jpeg_silent;
    jpeg->cinfo.client_data = jpeg;
    if (setjmp(jpeg->jump)) {
        free(jpeg);
        return NULL;
    }
    jpeg_create_decompress(&jpeg->cinfo);
    return jpeg;
}

void vs_jpeg_destroy(vs_jpeg *jpeg) {
    if (!jpeg) return;
    jpeg_destroy_decompress(&jpeg->cinfo);
    free(jpeg);
}

static vs_jpeg_color vs_jpeg_color_of(J_COLOR_SPACE space) {
    switch (space) {
    case JCS_GRAYSCALE: return VS_JPEG_GRAY;
    case JCS_RGB: return VS_JPEG_RGB;
    case JCS_YCbCr: return VS_JPEG_YCBCR;
    case JCS_CMYK: return VS_JPEG_CMYK;
    case JCS_YCCK: return VS_JPEG_YCCK;
    default: return VS_JPEG_UNKNOWN;
    }
}

int vs_jpeg_read_header(vs_jpeg *jpeg, const unsigned char *data, size_t size, vs_jpeg_header *header) {
    if (setjmp(jpeg->jump)) return -1;
    jpeg_mem_src(&jpeg->cinfo, data, (unsigned long)size);
    jpeg_read_header(&jpeg->cinfo, TRUE);
    header->width = jpeg->cinfo.image_width;
    header->height = jpeg->cinfo.image_height;
    header->components = jpeg->cinfo.num_components;
    header->color = vs_jpeg_color_of(jpeg->cinfo.jpeg_color_space);
    header->saw_adobe_marker = jpeg->cinfo.saw_Adobe_marker;
    return 0;
}

int vs_jpeg_start(vs_jpeg *jpeg, int scale_num, int cmyk, unsigned int *width, unsigned int *height,
    int *components) {
    if (setjmp(jpeg->jump)) return -1;
    jpeg->cinfo.scale_num = (unsigned int)scale_num;
    jpeg->cinfo.scale_denom = 8;
    jpeg->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&jpeg->cinfo);
    *width = jpeg->cinfo.output_width;
    *height = jpeg->cinfo.output_height;
    *components = jpeg->cinfo.output_components;
    return 0;
}

int vs_jpeg_read(vs_jpeg *jpeg, unsigned char *pixels, size_t stride, unsigned int rows) {
    if (setjmp(jpeg->jump)) return -1;
    if (rows < jpeg->cinfo.output_height) {
        snprintf(jpeg->message, sizeof jpeg->message, "output buffer too small");
        return -1;
    }
    while (jpeg->cinfo.output_scanline < jpeg->cinfo.output_height) {
        JSAMPROW row[4];
        int count = 0;
        for (; count < 4 && jpeg->cinfo.output_scanline + count < jpeg->cinfo.output_height; count++) {
            row[count] = pixels + (size_t)(jpeg->cinfo.output_scanline + count) * stride;
        }
        jpeg_read_scanlines(&jpeg->cinfo, row, (JDIMENSION)count);
    }
    jpeg->pixels_complete = 1;
    jpeg_finish_decompress(&jpeg->cinfo);
    return 0;
}

const char *vs_jpeg_message(const vs_jpeg *jpeg) { return jpeg->message; }

int vs_jpeg_truncated(const vs_jpeg *jpeg) { return jpeg->truncated; }
