#include "st_hex.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long st_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (size_t i = 0; i < hex_len; i++) {
        char c = hex[i];
        if (hi < 0 && (c == ' ' || c == ':'))
            continue;
        int d = hex_digit(c);
        if (d < 0)
            return -1;
        if (hi < 0) {
            hi = d;
            continue;
        }
        if (n >= cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | d);
        hi = -1;
    }
    return hi < 0 ? (long)n : -1;
}

void st_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
