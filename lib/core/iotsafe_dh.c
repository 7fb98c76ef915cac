/*
 * COMPUTE DH (INS 46): the ECDHE shared secret of TLS 1.2 / 1.3 (IoT.04 E6,
 * F4) from a private key and a public key object; the answer is the raw
 * x-coordinate, no TLV (reference §2.13). 6985 means the public key slot is
 * empty: PUT PUBLIC KEY first (THM).
 */
#include <string.h>

#include "iotsafe_int.h"

#define SECRET_MAX 66 /* x-coordinate up to P-521 */

int st_iotsafe_compute_dh(struct st_iotsafe *ios, const struct st_iotsafe_ref *priv,
                          const struct st_iotsafe_ref *pub, uint8_t *secret, size_t *len)
{
    uint8_t cmd[2 * (2 + ST_IOTSAFE_LABEL_MAX)], z[SECRET_MAX];
    size_t n = sizeof(z);
    struct st_tlv_writer w;
    if (!st_ios_ref_ok(priv) || !st_ios_ref_ok(pub) || secret == NULL || len == NULL)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    st_ios_put_ref(&w, ST_IOTSAFE_PRIVATE_KEY, priv);
    st_ios_put_ref(&w, ST_IOTSAFE_PUBLIC_KEY, pub);
    if (w.len > st_ios_data_max(ios, true))
        return st_ios_end(ios, st_ios_unsupported(ios, "COMPUTE DH does not fit the link"));
    rc = st_ios_command(ios, INS_COMPUTE_DH, 0x00, 0x00, cmd, w.len, LE_ANY, z, &n);
    if (rc == ST_E_BUFFER)
        rc = st_ios_fail(ios, ST_E_PARSE, "COMPUTE DH: answer longer than any shared secret");
    if (rc == ST_OK && n == 0)
        rc = st_ios_fail(ios, ST_E_PARSE, "COMPUTE DH: empty shared secret");
    if (rc == ST_OK && n > *len)
        rc = ST_E_BUFFER;
    if (rc == ST_OK) {
        memcpy(secret, z, n);
        *len = n;
    }
    st_ios_wipe(z, sizeof(z));
    return st_ios_end(ios, rc);
}
