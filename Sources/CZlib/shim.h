// zlib for Kafka's gzip codec (RFC 1952 streams via deflateInit2_/inflateInit2_).
#include <zlib.h>
