/*
 * Fuzzes the PROXY protocol v2 parser and writer (gateway/proxy_v2.c; IoT.04
 * N2): parse, re-encode what was understood, parse again, and require the
 * same fields and a byte-identical second encoding (round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_v2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(struct st_pp2_bytes a, struct st_pp2_bytes b)
{
    if ((a.p == NULL) != (b.p == NULL))
        return 0;
    return a.p == NULL || (a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct st_pp2_info a, b;
    size_t used, n1, n2, used2;
    int rc = st_pp2_parse(data, size, &a, &used);
    if (rc != ST_PP2_OK)
        return 0;
    if (used > size)
        abort();
    uint8_t *w1 = malloc(ST_PP2_MAX_LEN), *w2 = malloc(ST_PP2_MAX_LEN);
    if (w1 == NULL || w2 == NULL)
        abort();
    rc = st_pp2_write(&a, w1, ST_PP2_MAX_LEN, &n1);
    if (rc == ST_PP2_OK) {
        if (n1 > used) /* only unknown TLVs are dropped; nothing grows */
            abort();
        if (st_pp2_parse(w1, n1, &b, &used2) != ST_PP2_OK || used2 != n1)
            abort();
        if (a.local != b.local || a.family != b.family || a.transport != b.transport ||
            a.src_port != b.src_port || a.dst_port != b.dst_port ||
            memcmp(a.src_addr, b.src_addr, 16) != 0 || memcmp(a.dst_addr, b.dst_addr, 16) != 0 ||
            a.ssl != b.ssl || a.ssl_client != b.ssl_client || a.ssl_verify != b.ssl_verify ||
            !same(a.authority, b.authority) || !same(a.unique_id, b.unique_id) ||
            !same(a.ssl_version, b.ssl_version) || !same(a.ssl_cn, b.ssl_cn) ||
            !same(a.ssl_cipher, b.ssl_cipher) || !same(a.ssl_sig_alg, b.ssl_sig_alg) ||
            !same(a.ssl_key_alg, b.ssl_key_alg) || !same(a.device_id, b.device_id) ||
            !same(a.group, b.group) || !same(a.auth_method, b.auth_method) ||
            !same(a.iccid, b.iccid) || !same(a.tenant, b.tenant))
            abort();
        if (st_pp2_write(&b, w2, ST_PP2_MAX_LEN, &n2) != ST_PP2_OK || n2 != n1 ||
            memcmp(w1, w2, n1) != 0)
            abort();
    } else if (rc != ST_PP2_EINVAL) {
        abort(); /* the buffer is large enough for any header */
    }
    free(w1);
    free(w2);
    return 0;
}
