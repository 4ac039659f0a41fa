// libpng behind setjmp; see image_codecs.h.
#include "image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

struct vs_png {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[200];
    int truncated;
};

static void vs_png_fail(png_structp png, png_const_charp message) {
    vs_png *self = (vs_png *)png_get_error_ptr(png);
    snprintf(self->message, sizeof self->message, "%s", message ? message : "libpng error");
    png_longjmp(png, 1);
}

static void vs_png_warn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void vs_png_source(png_structp png, png_bytep out, png_size_t length) {
    vs_png *self = (vs_png *)png_get_io_ptr(png);
    if (length > self->size - self->offset) {
        self->truncated = 1;
        png_error(png, "file ends early");
    }
    memcpy(out, self->data + self->offset, length);
    self->offset += length;
}

vs_png *vs_png_create(const unsigned char *data, size_t size) {
    vs_png *self = calloc(1, sizeof(vs_png));
    if (!self) return NULL;
    self->data = data;
    self->size = size;
    self->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, self, vs_png_fail, vs_png_warn);
    if (!self->png) {
        free(self);
        return NULL;
    }
    self->info = png_create_info_struct(self->png);
    if (!self->info) {
        png_destroy_read_struct(&self->png, NULL, NULL);
        free(self);
        return NULL;
    }
    png_set_read_fn(self->png, self, vs_png_source);
    return self;
}

void vs_png_destroy(vs_png *self) {
    if (!self) return;
    png_destroy_read_struct(&self->png, &self->info, NULL);
    free(self);
}

int vs_png_read_header(vs_png *self, vs_png_header *header) {
    if (setjmp(png_jmpbuf(self->png))) return -1;
    png_read_info(self->png, self->info);
    header->width = png_get_image_width(self->png, self->info);
    header->height = png_get_image_height(self->png, self->info);
    header->bit_depth = png_get_bit_depth(self->png, self->info);
    header->color_type = png_get_color_type(self->png, self->info);
    header->interlaced = png_get_interlace_type(self->png, self->info) != PNG_INTERLACE_NONE;
    return 0;
}

int vs_png_start(vs_png *self, int *channels) {
    if (setjmp(png_jmpbuf(self->png))) return -1;
    int color = png_get_color_type(self->png, self->info);
    png_set_expand(self->png);
    if (png_get_bit_depth(self->png, self->info) == 16) png_set_strip_16(self->png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(self->png);
    png_set_interlace_handling(self->png);
    png_read_update_info(self->png, self->info);
    *channels = png_get_channels(self->png, self->info);
    return 0;
}

int vs_png_read(vs_png *self, unsigned char *pixels, size_t stride) {
    png_uint_32 height = png_get_image_height(self->png, self->info);
    png_bytepp rows = malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!rows) {
        snprintf(self->message, sizeof self->message, "out of memory");
        return -1;
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * stride;
    if (setjmp(png_jmpbuf(self->png))) {
        free(rows);
        return -1;
    }
    png_read_image(self->png, rows);
    free(rows);
    return 0;
}

const char *vs_png_message(const vs_png *self) { return self->message; }

int vs_png_truncated(const vs_png *self) { return self->truncated; }
