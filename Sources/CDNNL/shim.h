// oneDNN 2.6 from Debian's libdnnl-dev (it ships no pkg-config file).
#include <oneapi/dnnl/dnnl.h>
