// zstd's stable API (streaming compression and decompression) for Kafka's zstd codec.
#include <zstd.h>
