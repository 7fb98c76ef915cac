/*
 * Fuzzes the simtrust-gateway configuration parser (gateway/gw_config.c):
 * any input either parses or fails with a "name:line: reason" message; a
 * parsed configuration yields a NUL-terminated value in every string field,
 * and the cross-field check and address splitting never crash on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct st_gw_config c;
    char err[256];
    err[0] = '\0';
    st_gw_config_defaults(&c);
    int rc = st_gw_config_parse("fuzz.conf", (const char *)data, size, &c, err, sizeof(err));
    if (rc != 0) {
        if (rc != -1 || strncmp(err, "fuzz.conf:", 10) != 0)
            abort();
        return 0;
    }
    check_str(c.tls_listen, sizeof(c.tls_listen));
    check_str(c.dtls_listen, sizeof(c.dtls_listen));
    check_str(c.backend, sizeof(c.backend));
    check_str(c.api_listen, sizeof(c.api_listen));
    check_str(c.metrics_listen, sizeof(c.metrics_listen));
    check_str(c.api_cert, sizeof(c.api_cert));
    check_str(c.kek_file, sizeof(c.kek_file));
    check_str(c.registry, sizeof(c.registry));
    check_str(c.api_key, sizeof(c.api_key));
    check_str(c.api_tokens, sizeof(c.api_tokens));
    check_str(c.server_cert, sizeof(c.server_cert));
    check_str(c.server_key, sizeof(c.server_key));
    check_str(c.ca_dir, sizeof(c.ca_dir));
    check_str(c.kek_pkcs11_module, sizeof(c.kek_pkcs11_module));
    check_str(c.kek_pkcs11_token, sizeof(c.kek_pkcs11_token));
    check_str(c.kek_pkcs11_key, sizeof(c.kek_pkcs11_key));
    check_str(c.kek_pkcs11_pin_file, sizeof(c.kek_pkcs11_pin_file));
    if (c.tls_min_version != 0x0303 && c.tls_min_version != 0x0304)
        abort();
    if (c.handshake_timeout_ms < 1 || c.idle_timeout_ms < 1 || c.backend_timeout_ms < 1)
        abort();
    /* Every listen address that parsed also splits. */
    char host[ST_GW_ADDR_MAX];
    unsigned port;
    const char *addrs[] = {c.tls_listen, c.dtls_listen, c.backend, c.api_listen,
                           c.metrics_listen};
    for (size_t i = 0; i < 5; i++)
        if (addrs[i][0] != '\0' &&
            (st_gw_addr_split(addrs[i], host, sizeof(host), &port) != 0 || port > 65535))
            abort();
    (void)st_gw_config_check(&c, 0, err, sizeof(err));
    (void)st_gw_config_check(&c, 1, err, sizeof(err));
    /* Setting the same key again from a flag works on a parsed config. */
    if (st_gw_config_set(&c, "tls-listen", c.tls_listen, err, sizeof(err)) != 0)
        abort();
    return 0;
}
