/* Secret hygiene used everywhere: wipe after use, compare in constant time. */
#ifndef SIMTRUST_COMMON_SECRET_H
#define SIMTRUST_COMMON_SECRET_H

#include <openssl/crypto.h>
#include <stddef.h>

/* Zeroises n bytes in a way the compiler may not optimise away. */
static inline void st_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

/* 0 when equal; time depends on n only. */
static inline int st_ct_memcmp(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n);
}

#endif
