/*
 * Fuzzes the scenario-5 PSK identity parser (gateway/batch_psk.c, IoT.04 2.5):
 * it must never read past the input, accepted identities must re-format to the
 * exact input bytes (one canonical form = one KDF input), and the derivation
 * must succeed for every accepted identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct st_gw_batch_id id;
    char back[ST_GW_BATCH_IDENTITY_MAX + 1];
    static const uint8_t bmk[32] = {1};
    uint8_t a[32], b[32];

    int rc = st_gw_batch_parse(data, size, &id);
    if (rc != ST_GW_BATCH_OK) {
        if (rc > 0 || st_gw_batch_strerror(rc) == NULL || id.vendor[0] || id.iccid[0])
            abort();
        return 0;
    }
    int n = st_gw_batch_format(id.vendor, id.batch, id.iccid, back, sizeof(back));
    if (n < 0 || (size_t)n != size || memcmp(back, data, size) != 0)
        abort();
    if (st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, bmk, sizeof(bmk), data, size, a, 32) != 0 ||
        st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, bmk, sizeof(bmk), data, size, b, 32) != 0 ||
        !st_gw_batch_check_euk(ST_GW_KDF_HMAC_SHA256, bmk, sizeof(bmk), data, size, a, 32))
        abort();
    return 0;
}
