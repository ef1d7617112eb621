// CRC-32C (Castagnoli), the checksum of Kafka's v2 record batches.
//
// Convention (the same as zlib's crc32()): `crc` is a finished CRC value. Start
// with 0; feed the result back in to continue over more bytes. The functions
// pre- and post-invert internally, so
//   strom_crc32c_update(strom_crc32c_update(0, a, n), b, m) == CRC-32C of a||b.
// `data` may be NULL when `length` is 0.

#ifndef STROM_CRC32C_H
#define STROM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Continues `crc` over `length` bytes at `data`, using the CPU's CRC-32C
/// instruction when it has one and a portable table-driven path otherwise.
uint32_t strom_crc32c_update(uint32_t crc, const void *data, size_t length);

/// Same result as `strom_crc32c_update`, always on the portable slice-by-8 path
/// (for tests and benchmarks that compare the two paths).
uint32_t strom_crc32c_update_portable(uint32_t crc, const void *data, size_t length);

/// 1 if `strom_crc32c_update` uses a hardware instruction on this CPU, else 0.
int strom_crc32c_is_hardware(void);

#ifdef __cplusplus
}
#endif

#endif
