// libwebp from Debian's libwebp-dev.
#include <webp/decode.h>
