/* Hex encoding and decoding of byte strings (no allocation). */
#ifndef SIMTRUST_COMMON_HEX_H
#define SIMTRUST_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes hex (either case; spaces and colons between bytes are skipped) into
 * out. Returns the byte count, or -1 on an odd digit count, a non-hex
 * character, or more than cap bytes.
 */
long st_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap);

/* Encodes n bytes as upper-case hex plus NUL; out must hold 2n+1 chars. */
void st_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
