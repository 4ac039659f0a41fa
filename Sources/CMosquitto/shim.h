// libmosquitto, the Eclipse Mosquitto client library (Debian: libmosquitto-dev),
// for the DeviceLink module. Only the public header is needed.
#include <mosquitto.h>
