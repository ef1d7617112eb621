// snappy's C API (snappy-c.h) for Kafka's snappy codec; the xerial framing is done in Swift.
#include <snappy-c.h>
