/*
 * Fuzzes the REST API's request bodies (gateway/gw_api_json.c): the body
 * parser and the group, device (PUT and merge-PATCH), CSR-request mappings,
 * plus the tokens-file parser (gateway/gw_tokens.c) on the same bytes.
 *
 * Invariants checked (abort = finding):
 *   - every refusal carries a message;
 *   - the output mappings never emit a secret ("psk", "bmk");
 *   - an accepted record's JSON output maps back to the same record
 *     (GET -> PUT round trip keeps every field, the write-only secrets included);
 *   - an accepted secret's hex text is wiped from the parsed document.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api_json.h"
#include "gw_tokens.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int rc, const char *err)
{
    if (rc != 0 && err[0] == '\0')
        abort();
}

static void no_secret(json_t *o)
{
    if (o == NULL || json_object_get(o, "psk") || json_object_get(o, "bmk") ||
        json_object_get(json_object_get(o, "batch"), "bmk"))
        abort();
}

static int all_zero(json_t *s)
{
    const char *p = json_string_value(s);
    for (size_t i = 0; p && i < json_string_length(s); i++)
        if (p[i] != '\0')
            return 0;
    return 1;
}

static void group_case(json_t *in, const struct st_reg_group *old)
{
    char err[256] = "";
    struct st_reg_group g, g2;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "t");
    strcpy(g.id, "g");
    int rc = st_gw_json_group(in, old, &g, err, sizeof(err));
    check_err(rc, err);
    if (rc != 0)
        return;
    json_t *bmk = json_object_get(json_object_get(in, "batch"), "bmk");
    if (json_is_string(bmk) && !all_zero(bmk))
        abort();
    json_t *out = st_gw_json_from_group(&g);
    no_secret(out);
    memset(&g2, 0, sizeof(g2));
    strcpy(g2.tenant, "t");
    strcpy(g2.id, "g");
    if (st_gw_json_group(out, &g, &g2, err, sizeof(err)) != 0 ||
        g2.auth_methods != g.auth_methods || g2.kdf != g.kdf || g2.allowlist != g.allowlist ||
        strcmp(g2.batch_vendor, g.batch_vendor) != 0 || strcmp(g2.batch_id, g.batch_id) != 0 ||
        g2.bmk_len != g.bmk_len || memcmp(g2.bmk, g.bmk, g.bmk_len) != 0 ||
        (g.trust_anchors_pem == NULL) != (g2.trust_anchors_pem == NULL))
        abort();
    json_decref(out);
    st_reg_group_clear(&g);
    st_reg_group_clear(&g2);
}

static void device_case(json_t *in, int patch, const struct st_reg_device *old)
{
    char err[256] = "";
    struct st_reg_device d, d2;
    memset(&d, 0, sizeof(d));
    if (patch) {
        if (st_gw_device_copy(&d, old) != 0)
            return;
    } else {
        strcpy(d.tenant, "t");
        strcpy(d.id, "d");
    }
    int rc = st_gw_json_device(in, patch, old, &d, err, sizeof(err));
    check_err(rc, err);
    if (rc != 0) {
        st_reg_device_clear(&d);
        return;
    }
    json_t *psk = json_object_get(in, "psk");
    if (json_is_string(psk) && !all_zero(psk))
        abort();
    json_t *out = st_gw_json_from_device(&d);
    no_secret(out);
    memset(&d2, 0, sizeof(d2));
    strcpy(d2.tenant, "t");
    strcpy(d2.id, "d");
    if (st_gw_json_device(out, 0, &d, &d2, err, sizeof(err)) != 0 ||
        strcmp(d2.group, d.group) != 0 || d2.state != d.state || strcmp(d2.iccid, d.iccid) != 0 ||
        strcmp(d2.psk_identity, d.psk_identity) != 0 || d2.has_spki != d.has_spki ||
        memcmp(d2.spki_sha256, d.spki_sha256, 32) != 0 || d2.psk_len != d.psk_len ||
        memcmp(d2.psk, d.psk, d.psk_len) != 0)
        abort();
    json_decref(out);
    st_reg_device_clear(&d);
    st_reg_device_clear(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    if (size > 256 * 1024)
        return 0;

    struct st_gw_tokens *t = st_gw_tokens_parse("fuzz", (const char *)data, size, err,
                                                sizeof(err));
    check_err(t == NULL, err);
    if (t) {
        char tenant[ST_REG_ID_MAX + 1];
        unsigned roles;
        st_gw_tokens_check(t, (const char *)data, size < ST_GW_TOKEN_MAX ? size : 16, tenant,
                           &roles);
        st_gw_tokens_free(t);
    }

    err[0] = '\0';
    json_t *in = st_gw_json_object((const char *)data, size, err, sizeof(err));
    check_err(in == NULL, err);
    if (in == NULL)
        return 0;

    /* Stored records the mappings may merge with. */
    struct st_reg_group og;
    memset(&og, 0, sizeof(og));
    strcpy(og.tenant, "t");
    strcpy(og.id, "g");
    og.auth_methods = ST_REG_AUTH_BATCH;
    strcpy(og.batch_vendor, "V");
    strcpy(og.batch_id, "b");
    og.kdf = 1;
    og.bmk_len = 32;
    memset(og.bmk, 0x5A, 32);
    struct st_reg_device od;
    memset(&od, 0, sizeof(od));
    strcpy(od.tenant, "t");
    strcpy(od.id, "d");
    strcpy(od.group, "g");
    strcpy(od.psk_identity, "old-id");
    od.psk_len = 16;
    memset(od.psk, 0xA5, 16);

    /* Each mapping gets its own copy: secrets are wiped from the document. */
    json_t *c;
    group_case(c = json_deep_copy(in), NULL), json_decref(c);
    group_case(c = json_deep_copy(in), &og), json_decref(c);
    device_case(c = json_deep_copy(in), 0, NULL), json_decref(c);
    device_case(c = json_deep_copy(in), 0, &od), json_decref(c);
    device_case(c = json_deep_copy(in), 1, &od), json_decref(c);

    const char *csr, *dev;
    size_t csr_len;
    err[0] = '\0';
    check_err(st_gw_json_csr_request(in, &csr, &csr_len, &dev, err, sizeof(err)), err);
    json_decref(in);
    return 0;
}
