/* JSON <-> registry records of the gateway REST API (gw_api_json.h). */
#include "gw_api_json.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"
#include "st_hex.h"
#include "st_secret.h"
#include "st_errbuf.h"

void st_gw_hex_lower(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

json_t *st_gw_json_object(const char *buf, size_t len, char *err, size_t errcap)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        st_errf(err, errcap, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        st_errf(err, errcap, "body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Overwrites a string value of the parsed document (a secret read from it). */
static void wipe_string(json_t *s)
{
    if (json_is_string(s))
        st_wipe((char *)json_string_value(s), json_string_length(s));
}

/* A string field: NULL when absent; -1 for a wrong type or an embedded NUL. */
static int get_string(json_t *in, const char *key, const char *what, int nullable, json_t **out,
                      char *err, size_t errcap)
{
    json_t *v = json_object_get(in, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (json_is_null(v) && nullable) {
        *out = v;
        return 0;
    }
    if (!json_is_string(v)) {
        st_errf(err, errcap, "%s: expected %s%s", key, what, nullable ? " or null" : "");
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        st_errf(err, errcap, "%s: NUL character not allowed", key);
        return -1;
    }
    *out = v;
    return 0;
}

/* Refuses members of in that are not in the NULL-terminated list. */
static int only_fields(json_t *in, const char *where, const char *const *known, char *err,
                       size_t errcap)
{
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v) {
        int ok = 0;
        for (const char *const *p = known; *p && !ok; p++)
            ok = strcmp(*p, k) == 0;
        if (!ok) {
            st_errf(err, errcap, "unknown field '%s%.64s'", where, k);
            return -1;
        }
    }
    return 0;
}

static int check_id(json_t *in, const char *path_id, char *err, size_t errcap)
{
    json_t *v;
    if (get_string(in, "id", "a string", 0, &v, err, errcap) != 0)
        return -1;
    if (v && strcmp(json_string_value(v), path_id) != 0) {
        st_errf(err, errcap, "id: does not match the ID in the path");
        return -1;
    }
    return 0;
}

/* Hex key of 16..64 bytes; wipes the hex text. */
static int get_key(json_t *v, const char *name, uint8_t *out, size_t *out_len, char *err,
                   size_t errcap)
{
    const char *h = json_string_value(v);
    size_t hl = json_string_length(v);
    long n = -1;
    int hex = hl > 0;
    for (size_t i = 0; i < hl && hex; i++)
        hex = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f') ||
              (h[i] >= 'A' && h[i] <= 'F');
    if (hex)
        n = st_hex_decode(h, hl, out, ST_REG_KEY_MAX);
    wipe_string(v);
    if (n < 16 || n > ST_REG_KEY_MAX) {
        st_wipe(out, ST_REG_KEY_MAX);
        st_errf(err, errcap, "%s: expected 32..128 hex digits (a 16..64-byte key)", name);
        return -1;
    }
    *out_len = (size_t)n;
    return 0;
}

int st_gw_cert_spki(const char *pem, size_t len, unsigned char spki_sha256[32], char **canon,
                    char *err, size_t errcap)
{
    int rc = -1;
    X509 *x = NULL;
    unsigned char *der = NULL;
    BIO *in = len <= ST_GW_PEM_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    BIO *out = BIO_new(BIO_s_mem());
    *canon = NULL;
    if (in == NULL || out == NULL || (x = PEM_read_bio_X509(in, NULL, NULL, NULL)) == NULL) {
        st_errf(err, errcap, "certificate: not a PEM X.509 certificate");
        goto out;
    }
    if (PEM_read_bio_X509(in, NULL, NULL, NULL) != NULL || BIO_pending(in) > 0) {
        /* Only trailing whitespace may follow the one certificate. */
        char tail[64];
        int n;
        while ((n = BIO_read(in, tail, sizeof(tail))) > 0)
            for (int i = 0; i < n; i++)
                if (tail[i] != '\n' && tail[i] != '\r' && tail[i] != ' ' && tail[i] != '\t') {
                    st_errf(err, errcap, "certificate: exactly one PEM certificate expected");
                    goto out;
                }
    }
    int dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    unsigned int hl = 0;
    if (dl <= 0 || EVP_Digest(der, (size_t)dl, spki_sha256, &hl, EVP_sha256(), NULL) != 1 ||
        PEM_write_bio_X509(out, x) != 1) {
        st_errf(err, errcap, "certificate: cannot encode its public key");
        goto out;
    }
    char *p;
    long n = BIO_get_mem_data(out, &p);
    *canon = malloc((size_t)n + 1);
    if (*canon == NULL) {
        st_errf(err, errcap, "out of memory");
        goto out;
    }
    memcpy(*canon, p, (size_t)n);
    (*canon)[n] = '\0';
    rc = 0;
out:
    ERR_clear_error();
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(in);
    BIO_free(out);
    return rc;
}

/* One or more PEM certificates and nothing else but whitespace. */
static int anchors_ok(const char *pem, size_t len)
{
    BIO *in = len <= ST_GW_PEM_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    int n = 0;
    X509 *x;
    if (in == NULL)
        return 0;
    while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    ERR_clear_error();
    BIO_free(in);
    /* PEM_read skips text between blocks; require the text to be PEM only. */
    if (n == 0)
        return 0;
    const char *s = pem, *end = pem + len;
    while (s < end) {
        while (s < end && (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t'))
            s++;
        if (s == end)
            break;
        static const char b[] = "-----BEGIN CERTIFICATE-----", e[] = "-----END CERTIFICATE-----";
        if ((size_t)(end - s) < sizeof(b) - 1 || memcmp(s, b, sizeof(b) - 1) != 0)
            return 0;
        const char *t = s;
        while (t + sizeof(e) - 1 <= end && memcmp(t, e, sizeof(e) - 1) != 0)
            t++;
        if (t + sizeof(e) - 1 > end)
            return 0;
        s = t + sizeof(e) - 1;
    }
    return 1;
}

static const struct {
    const char *name;
    unsigned bit;
} k_methods[] = {{"x509", ST_REG_AUTH_X509}, {"psk", ST_REG_AUTH_PSK}, {"batch-psk", ST_REG_AUTH_BATCH}};

static int group_batch(json_t *b, const struct st_reg_group *old, struct st_reg_group *g,
                       char *err, size_t errcap)
{
    static const char *const known[] = {"vendor", "batch_id", "kdf", "bmk", "allowlist", NULL};
    json_t *v, *bmk = NULL;
    if (!json_is_object(b)) {
        st_errf(err, errcap, "batch: expected an object");
        return -1;
    }
    /* The BMK is wiped from the document first, whatever else is wrong. */
    if (get_string(b, "bmk", "a hex string", 0, &bmk, err, errcap) != 0) {
        st_errf(err, errcap, "batch.bmk: expected a hex string");
        return -1;
    }
    if (bmk && get_key(bmk, "batch.bmk", g->bmk, &g->bmk_len, err, errcap) != 0)
        return -1;
    if (only_fields(b, "batch.", known, err, errcap) != 0)
        return -1;
    if (get_string(b, "vendor", "a string", 0, &v, err, errcap) != 0 || v == NULL ||
        !st_gw_batch_field_ok(json_string_value(v))) {
        st_errf(err, errcap, "batch.vendor: expected 1..32 of [A-Za-z0-9._-]");
        return -1;
    }
    snprintf(g->batch_vendor, sizeof(g->batch_vendor), "%s", json_string_value(v));
    if (get_string(b, "batch_id", "a string", 0, &v, err, errcap) != 0 || v == NULL ||
        !st_gw_batch_field_ok(json_string_value(v))) {
        st_errf(err, errcap, "batch.batch_id: expected 1..32 of [A-Za-z0-9._-]");
        return -1;
    }
    snprintf(g->batch_id, sizeof(g->batch_id), "%s", json_string_value(v));
    if (get_string(b, "kdf", "a string", 0, &v, err, errcap) != 0)
        return -1;
    g->kdf = v ? st_gw_kdf_parse(json_string_value(v)) : ST_GW_KDF_HMAC_SHA256;
    if (g->kdf == 0) {
        st_errf(err, errcap, "batch.kdf: expected hmac-sha256 or hkdf-sha256");
        return -1;
    }
    v = json_object_get(b, "allowlist");
    if (v && !json_is_boolean(v)) {
        st_errf(err, errcap, "batch.allowlist: expected true or false");
        return -1;
    }
    g->allowlist = v ? json_is_true(v) : 0;
    if (bmk == NULL) {
        if (old == NULL || old->bmk_len == 0) {
            st_errf(err, errcap, "batch.bmk: required (the group has no batch master key yet)");
            return -1;
        }
        memcpy(g->bmk, old->bmk, old->bmk_len);
        g->bmk_len = old->bmk_len;
    }
    return 0;
}

int st_gw_json_group(json_t *in, const struct st_reg_group *old, struct st_reg_group *g,
                     char *err, size_t errcap)
{
    static const char *const known[] = {"id", "auth_methods", "trust_anchors", "batch", NULL};
    json_t *v, *batch = json_object_get(in, "batch");
    g->auth_methods = 0;
    g->bmk_len = 0;
    if (only_fields(in, "", known, err, errcap) != 0 || check_id(in, g->id, err, errcap) != 0)
        goto fail;
    v = json_object_get(in, "auth_methods");
    if (!json_is_array(v) || json_array_size(v) == 0) {
        st_errf(err, errcap, "auth_methods: expected a non-empty array of x509, psk, batch-psk");
        goto fail;
    }
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
        unsigned bit = 0;
        for (size_t k = 0; k < sizeof(k_methods) / sizeof(k_methods[0]) && json_is_string(m); k++)
            if (strcmp(json_string_value(m), k_methods[k].name) == 0)
                bit = k_methods[k].bit;
        if (bit == 0 || (g->auth_methods & bit)) {
            st_errf(err, errcap, "auth_methods[%zu]: %s", i,
                   bit ? "listed twice" : "expected x509, psk or batch-psk");
            goto fail;
        }
        g->auth_methods |= bit;
    }
    if (get_string(in, "trust_anchors", "a PEM string", 1, &v, err, errcap) != 0)
        goto fail;
    if (v && json_is_string(v)) {
        if (!anchors_ok(json_string_value(v), json_string_length(v))) {
            st_errf(err, errcap, "trust_anchors: expected one or more PEM certificates");
            goto fail;
        }
        if ((g->trust_anchors_pem = strdup(json_string_value(v))) == NULL) {
            st_errf(err, errcap, "out of memory");
            goto fail;
        }
    }
    if (g->auth_methods & ST_REG_AUTH_BATCH) {
        if (batch == NULL || json_is_null(batch)) {
            st_errf(err, errcap, "batch: required when auth_methods has batch-psk");
            goto fail;
        }
        if (group_batch(batch, old, g, err, errcap) != 0)
            goto fail;
    } else if (batch != NULL && !json_is_null(batch)) {
        st_errf(err, errcap, "batch: only allowed when auth_methods has batch-psk");
        goto fail;
    }
    return 0;
fail:
    if (json_is_object(batch))
        wipe_string(json_object_get(batch, "bmk"));
    free(g->trust_anchors_pem);
    g->trust_anchors_pem = NULL;
    st_wipe(g->bmk, sizeof(g->bmk));
    g->bmk_len = 0;
    return -1;
}

json_t *st_gw_json_from_group(const struct st_reg_group *g)
{
    json_t *o = json_object(), *m = json_array();
    if (o == NULL || m == NULL) {
        json_decref(o);
        json_decref(m);
        return NULL;
    }
    json_object_set_new(o, "id", json_string(g->id));
    for (size_t k = 0; k < sizeof(k_methods) / sizeof(k_methods[0]); k++)
        if (g->auth_methods & k_methods[k].bit)
            json_array_append_new(m, json_string(k_methods[k].name));
    json_object_set_new(o, "auth_methods", m);
    if (g->trust_anchors_pem)
        json_object_set_new(o, "trust_anchors", json_string(g->trust_anchors_pem));
    if (g->auth_methods & ST_REG_AUTH_BATCH) {
        const char *kdf = st_gw_kdf_name(g->kdf);
        json_object_set_new(o, "batch",
                            json_pack("{s:s, s:s, s:s, s:b}", "vendor", g->batch_vendor,
                                      "batch_id", g->batch_id, "kdf", kdf ? kdf : "unknown",
                                      "allowlist", g->allowlist != 0));
    }
    return o;
}

static const char *const k_states[] = {"enabled", "disabled", "revoked"};

/* The secret first: its hex text is wiped from the document whatever follows. */
static int device_psk(json_t *in, int patch, const struct st_reg_device *old,
                      struct st_reg_device *d, int *psk_given, char *err, size_t errcap)
{
    json_t *v = json_object_get(in, "psk");
    *psk_given = 0;
    if (v == NULL) {
        if (!patch && old && old->psk_len > 0) {
            memcpy(d->psk, old->psk, old->psk_len);
            d->psk_len = old->psk_len;
        }
        return 0;
    }
    *psk_given = 1;
    st_wipe(d->psk, sizeof(d->psk));
    d->psk_len = 0;
    if (json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        st_errf(err, errcap, "psk: expected a hex string or null");
        return -1;
    }
    return get_key(v, "psk", d->psk, &d->psk_len, err, errcap);
}

int st_gw_json_device(json_t *in, int patch, const struct st_reg_device *old,
                      struct st_reg_device *d, char *err, size_t errcap)
{
    static const char *const known[] = {"id", "group", "state", "iccid", "certificate",
                                        "psk_identity", "psk", "has_psk", "spki_sha256", NULL};
    json_t *v;
    int psk_given;
    if (device_psk(in, patch, old, d, &psk_given, err, errcap) != 0)
        goto fail;
    if (only_fields(in, "", known, err, errcap) != 0 || check_id(in, d->id, err, errcap) != 0)
        goto fail;
    /* Read-only fields of GET output are accepted (round trip) but must be well-typed. */
    v = json_object_get(in, "has_psk");
    if (v && !json_is_boolean(v)) {
        st_errf(err, errcap, "has_psk: read-only boolean");
        goto fail;
    }
    if (get_string(in, "spki_sha256", "a hex string", 1, &v, err, errcap) != 0)
        goto fail;

    if (get_string(in, "group", "a group ID", 0, &v, err, errcap) != 0)
        goto fail;
    if (v) {
        if (!st_reg_id_ok(json_string_value(v))) {
            st_errf(err, errcap, "group: expected a group ID (1..64 bytes, no control characters)");
            goto fail;
        }
        snprintf(d->group, sizeof(d->group), "%s", json_string_value(v));
    } else if (!patch) {
        st_errf(err, errcap, "group: required");
        goto fail;
    }

    if (get_string(in, "state", "enabled, disabled or revoked", 0, &v, err, errcap) != 0)
        goto fail;
    if (v) {
        int st = -1;
        for (int k = 0; k < 3; k++)
            if (strcmp(json_string_value(v), k_states[k]) == 0)
                st = k;
        if (st < 0) {
            st_errf(err, errcap, "state: expected one of enabled, disabled, revoked");
            goto fail;
        }
        d->state = st;
    } else if (!patch) {
        d->state = ST_REG_ENABLED;
    }

    if (get_string(in, "iccid", "a string of 18..20 digits", 1, &v, err, errcap) != 0)
        goto fail;
    if (v && json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n > 0 && !st_gw_iccid_digits_ok(s, n)) {
            st_errf(err, errcap, "iccid: expected 18..20 decimal digits");
            goto fail;
        }
        snprintf(d->iccid, sizeof(d->iccid), "%s", s);
    } else if (v || !patch) {
        d->iccid[0] = '\0';
    }

    if (get_string(in, "certificate", "a PEM certificate", 1, &v, err, errcap) != 0)
        goto fail;
    if (v || !patch) {
        free(d->cert_pem);
        d->cert_pem = NULL;
        d->has_spki = 0;
        memset(d->spki_sha256, 0, sizeof(d->spki_sha256));
    }
    if (v && json_is_string(v)) {
        if (st_gw_cert_spki(json_string_value(v), json_string_length(v), d->spki_sha256,
                            &d->cert_pem, err, errcap) != 0)
            goto fail;
        d->has_spki = 1;
    }

    if (get_string(in, "psk_identity", "a string", 1, &v, err, errcap) != 0)
        goto fail;
    if (v && json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n == 0 || n > ST_REG_PSK_ID_MAX) {
            st_errf(err, errcap, "psk_identity: expected 1..%d bytes", ST_REG_PSK_ID_MAX);
            goto fail;
        }
        struct st_gw_batch_id bid;
        if (st_gw_batch_parse((const uint8_t *)json_string_value(v), n, &bid) ==
            ST_GW_BATCH_OK) {
            st_errf(err, errcap,
                    "psk_identity: the form <vendor>:<batch>:<ICCID> is reserved for "
                    "batch-derived keys (scenario 5: a batch-psk group derives them)");
            goto fail;
        }
        memcpy(d->psk_identity, json_string_value(v), n + 1);
    } else if (v || !patch) {
        d->psk_identity[0] = '\0';
    }
    if (d->psk_len > 0 && d->psk_identity[0] == '\0') {
        if (psk_given || patch) {
            st_errf(err, errcap, "psk_identity: required with a psk");
            goto fail;
        }
        /* PUT without identity and without psk: the kept PSK goes too. */
        st_wipe(d->psk, sizeof(d->psk));
        d->psk_len = 0;
    }
    return 0;
fail:
    wipe_string(json_object_get(in, "psk"));
    st_wipe(d->psk, sizeof(d->psk));
    d->psk_len = 0;
    return -1;
}

json_t *st_gw_json_from_device(const struct st_reg_device *d)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "group", json_string(d->group));
    json_object_set_new(o, "state", json_string(k_states[(unsigned)d->state % 3]));
    if (d->iccid[0])
        json_object_set_new(o, "iccid", json_string(d->iccid));
    if (d->cert_pem)
        json_object_set_new(o, "certificate", json_string(d->cert_pem));
    if (d->has_spki) {
        char hex[65];
        st_gw_hex_lower(d->spki_sha256, 32, hex);
        json_object_set_new(o, "spki_sha256", json_string(hex));
    }
    if (d->psk_identity[0])
        json_object_set_new(o, "psk_identity", json_string(d->psk_identity));
    json_object_set_new(o, "has_psk", json_boolean(d->psk_len > 0));
    return o;
}

int st_gw_device_copy(struct st_reg_device *dst, const struct st_reg_device *src)
{
    *dst = *src;
    dst->cert_pem = NULL;
    if (src->cert_pem && (dst->cert_pem = strdup(src->cert_pem)) == NULL) {
        st_wipe(dst, sizeof(*dst));
        return -1;
    }
    return 0;
}

int st_gw_json_csr_request(json_t *in, const char **csr, size_t *csr_len, const char **device_id,
                           char *err, size_t errcap)
{
    static const char *const known[] = {"csr", "device_id", NULL};
    json_t *v;
    *csr = NULL;
    *device_id = NULL;
    if (only_fields(in, "", known, err, errcap) != 0 ||
        get_string(in, "csr", "a PEM certificate signing request", 0, &v, err, errcap) != 0)
        return -1;
    if (v == NULL || json_string_length(v) == 0 || json_string_length(v) > ST_GW_PEM_MAX) {
        st_errf(err, errcap, "csr: required (a PEM PKCS#10 request)");
        return -1;
    }
    *csr = json_string_value(v);
    *csr_len = json_string_length(v);
    if (get_string(in, "device_id", "a device ID", 0, &v, err, errcap) != 0)
        return -1;
    if (v) {
        if (!st_reg_id_ok(json_string_value(v))) {
            st_errf(err, errcap, "device_id: expected 1..64 bytes, no control characters");
            return -1;
        }
        *device_id = json_string_value(v);
    }
    return 0;
}
