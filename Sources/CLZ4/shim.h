// Kafka's lz4 codec is the LZ4 frame format, so only lz4frame.h is needed.
#include <lz4frame.h>
