/* Offline delivery import, Annex C.1 "file" form (see delivery_import.h). */
#include "delivery_import.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_psk.h"
#include "st_errbuf.h"

#define MAX_BATCH_FILE (256u << 20) /* 256 MiB per input file */

static int append_value(json_t *all, json_t *v, char *err, size_t errcap)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_object(e)) {
                st_errf(err, errcap, "array element %zu is not an object", i);
                return -1;
            }
        }
        json_array_extend(all, v);
        return 0;
    }
    if (!json_is_object(v)) {
        st_errf(err, errcap, "expected a delivery record object or an array of them");
        return -1;
    }
    return json_array_append(all, v) == 0 ? 0 : -1;
}

json_t *st_gw_delivery_load(const char *buf, size_t len, char *err, size_t errcap)
{
    json_t *all = json_array();
    size_t off = 0;
    if (all == NULL)
        return NULL;
    for (;;) {
        while (off < len && (buf[off] == ' ' || buf[off] == '\n' || buf[off] == '\r' ||
                             buf[off] == '\t'))
            off++;
        if (off >= len)
            break;
        json_error_t je;
        json_t *v = json_loadb(buf + off, len - off,
                               JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
        if (v == NULL) {
            st_errf(err, errcap, "JSON error at byte %zu: %s", off + (size_t)je.position, je.text);
            json_decref(all);
            return NULL;
        }
        /* With JSON_DISABLE_EOF_CHECK, position is the number of bytes read. */
        size_t used = (size_t)je.position;
        int rc = used == 0 ? -1 : append_value(all, v, err, errcap);
        json_decref(v);
        if (rc != 0) {
            if (used == 0)
                st_errf(err, errcap, "JSON parser made no progress at byte %zu", off);
            json_decref(all);
            return NULL;
        }
        off += used;
    }
    return all;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        st_errf(err, errcap, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= MAX_BATCH_FILE) {
            st_errf(err, errcap, "%s: larger than 256 MiB", path);
            free(buf);
            buf = NULL;
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf != NULL && ferror(f)) {
        st_errf(err, errcap, "%s: read error", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *st_gw_delivery_load_path(const char *path, char *err, size_t errcap)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        size_t len;
        char *buf = read_file(path, &len, err, errcap);
        if (buf == NULL)
            return NULL;
        json_t *all = st_gw_delivery_load(buf, len, err, errcap);
        free(buf);
        return all;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    json_t *all = json_array();
    while (all != NULL && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));
            if (nn == NULL)
                break;
            names = nn;
            cap = cap ? cap * 2 : 64;
        }
        names[n] = strdup(e->d_name);
        if (names[n] != NULL)
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && all != NULL; i++) {
        char full[4096];
        size_t len;
        snprintf(full, sizeof(full), "%s/%s", path, names[i]);
        char *buf = read_file(full, &len, err, errcap);
        json_t *part = buf ? st_gw_delivery_load(buf, len, err, errcap) : NULL;
        free(buf);
        if (part == NULL) {
            json_decref(all);
            all = NULL;
        } else {
            json_array_extend(all, part);
            json_decref(part);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return all;
}

/* SHA-256 over the DER SubjectPublicKeyInfo of a PEM certificate or key. */
static int spki_hash(const char *pem, int is_cert, unsigned char out[32])
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    unsigned char *der = NULL;
    unsigned int hl = 0;
    int rc = -1;
    if (b == NULL)
        return -1;
    if (is_cert) {
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        pk = x ? X509_get_pubkey(x) : NULL;
    } else {
        pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    }
    int dl = pk ? i2d_PUBKEY(pk, &der) : -1;
    if (dl > 0 && EVP_Digest(der, (size_t)dl, out, &hl, EVP_sha256(), NULL) == 1 && hl == 32)
        rc = 0;
    OPENSSL_free(der);
    EVP_PKEY_free(pk);
    X509_free(x);
    BIO_free(b);
    return rc;
}

static const char *first_string(json_t *rec, const char *arr, const char *field)
{
    json_t *a = json_object_get(rec, arr);
    json_t *e = json_is_array(a) ? json_array_get(a, 0) : NULL;
    json_t *s = json_is_object(e) ? json_object_get(e, field) : NULL;
    return json_is_string(s) ? json_string_value(s) : NULL;
}

int st_gw_delivery_parse(json_t *rec, struct st_gw_delivery *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(rec)) {
        st_errf(err, errcap, "not a JSON object");
        return -1;
    }
    json_t *ic = json_object_get(rec, "iccid");
    const char *iccid = json_is_string(ic) ? json_string_value(ic) : NULL;
    size_t il = iccid ? json_string_length(ic) : 0;
    if (iccid == NULL || !st_gw_iccid_digits_ok(iccid, il)) {
        st_errf(err, errcap, "\"iccid\" missing or not 18..20 digits");
        return -1;
    }
    memcpy(out->iccid, iccid, il);
    json_t *ca = json_object_get(rec, "certificates"), *ka = json_object_get(rec, "public_keys");
    if ((ca != NULL && !json_is_array(ca)) || (ka != NULL && !json_is_array(ka))) {
        st_errf(err, errcap, "\"certificates\" or \"public_keys\" is not an array");
        return -1;
    }
    const char *cert = first_string(rec, "certificates", "pem");
    const char *key = first_string(rec, "public_keys", "pem");
    if (cert != NULL) {
        if (spki_hash(cert, 1, out->spki_sha256) != 0) {
            st_errf(err, errcap, "certificates[0].pem is not a PEM certificate");
            return -1;
        }
        out->cert_pem = cert;
        out->has_spki = 1;
    } else if (key != NULL) {
        if (spki_hash(key, 0, out->spki_sha256) != 0) {
            st_errf(err, errcap, "public_keys[0].pem is not a PEM public key");
            return -1;
        }
        out->has_spki = 1;
    }
    json_t *pa = json_object_get(rec, "psk_identities");
    json_t *p0 = json_is_array(pa) ? json_array_get(pa, 0) : NULL;
    if (p0 != NULL) {
        json_t *id = json_object_get(p0, "identity");
        if (!json_is_string(id)) {
            st_errf(err, errcap, "psk_identities[0] has no text \"identity\" (identity_hex is not "
                             "supported by the registry)");
            return -1;
        }
        size_t n = json_string_length(id);
        if (n == 0 || n > ST_REG_PSK_ID_MAX || memchr(json_string_value(id), 0, n) != NULL) {
            st_errf(err, errcap, "psk_identities[0].identity empty, longer than %d bytes or has NUL",
                ST_REG_PSK_ID_MAX);
            return -1;
        }
        memcpy(out->psk_identity, json_string_value(id), n);
    }
    return 0;
}

static int same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Compares the stored device with the record's data; NULL when equal. */
static const char *difference(const struct st_reg_device *old, const struct st_reg_device *nu)
{
    if (strcmp(old->group, nu->group) != 0)
        return "device belongs to another group";
    if (strcmp(old->iccid, nu->iccid) != 0)
        return "ICCID differs";
    if (old->has_spki != nu->has_spki ||
        (nu->has_spki && memcmp(old->spki_sha256, nu->spki_sha256, 32) != 0))
        return "public key differs";
    if (!same_text(old->cert_pem, nu->cert_pem))
        return "certificate differs";
    if (strcmp(old->psk_identity, nu->psk_identity) != 0)
        return "PSK identity differs";
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Imports record i; returns st_reg_rc, counts into *st. */
static int import_one(struct st_reg *r, const struct st_reg_group *g, json_t *rec, size_t i,
                      struct st_gw_import_stats *st, char *err, size_t errcap)
{
    struct st_gw_delivery dv;
    struct st_reg_device nu, old;
    char e1[160];
    int batch = (g->auth_methods & ST_REG_AUTH_BATCH) != 0;
    int rc;

    if (st_gw_delivery_parse(rec, &dv, e1, sizeof(e1)) != 0) {
        st_errf(err, errcap, "record %zu: %s", i, e1);
        return ST_REG_EINVAL;
    }
    memset(&nu, 0, sizeof(nu));
    snprintf(nu.tenant, sizeof(nu.tenant), "%s", g->tenant);
    snprintf(nu.group, sizeof(nu.group), "%s", g->id);
    memcpy(nu.id, dv.iccid, sizeof(dv.iccid));
    memcpy(nu.iccid, dv.iccid, sizeof(dv.iccid));
    nu.state = ST_REG_ENABLED;
    nu.has_spki = dv.has_spki;
    memcpy(nu.spki_sha256, dv.spki_sha256, 32);
    nu.cert_pem = (char *)dv.cert_pem; /* borrowed: never cleared through nu */
    if (batch) {
        struct st_gw_batch_id bid;
        size_t il = strlen(dv.iccid);
        if (!st_gw_luhn_ok(dv.iccid, il)) {
            st_errf(err, errcap, "record %zu (ICCID %s): check digit wrong (batch groups need "
                             "Luhn-valid ICCIDs)", i, dv.iccid);
            return ST_REG_EINVAL;
        }
        if (dv.psk_identity[0] != '\0') {
            int prc = st_gw_batch_parse((const uint8_t *)dv.psk_identity,
                                        strlen(dv.psk_identity), &bid);
            if (prc != 0 || strcmp(bid.vendor, g->batch_vendor) != 0 ||
                strcmp(bid.batch, g->batch_id) != 0 || strcmp(bid.iccid, dv.iccid) != 0) {
                st_errf(err, errcap, "record %zu (ICCID %s): PSK identity is not %s:%s:%s (%s)", i,
                    dv.iccid, g->batch_vendor, g->batch_id, dv.iccid,
                    prc ? st_gw_batch_strerror(prc) : "fields differ");
                return ST_REG_EINVAL;
            }
        }
        if ((rc = st_reg_allow_add(r, g->tenant, g->id, dv.iccid)) != ST_REG_OK) {
            st_errf(err, errcap, "record %zu (ICCID %s): allow-list: %s", i, dv.iccid, r->errmsg);
            return rc;
        }
    } else {
        memcpy(nu.psk_identity, dv.psk_identity, sizeof(nu.psk_identity));
    }

    rc = st_reg_device_get(r, g->tenant, nu.id, &old);
    if (rc == ST_REG_OK) {
        const char *why = difference(&old, &nu);
        st_reg_device_clear(&old);
        if (why != NULL) {
            st_errf(err, errcap, "record %zu (ICCID %s): conflicts with the registered device: %s",
                i, dv.iccid, why);
            return ST_REG_ECONFLICT;
        }
        st->unchanged++;
        return ST_REG_OK;
    }
    if (rc != ST_REG_NOTFOUND) {
        st_errf(err, errcap, "record %zu (ICCID %s): %s", i, dv.iccid, r->errmsg);
        return rc;
    }
    rc = st_reg_device_put(r, &nu, ST_REG_CREATE);
    if (rc == ST_REG_EEXISTS) {
        st_errf(err, errcap, "record %zu (ICCID %s): its public key or PSK identity is registered "
                         "to another device", i, dv.iccid);
        return rc;
    }
    if (rc != ST_REG_OK) {
        st_errf(err, errcap, "record %zu (ICCID %s): %s", i, dv.iccid, r->errmsg);
        return rc;
    }
    st->created++;
    return ST_REG_OK;
}

int st_gw_import(struct st_reg *r, const char *tenant, const char *group, json_t *records,
                 struct st_gw_import_stats *stats, char *err, size_t errcap)
{
    struct st_gw_import_stats st = {0};
    struct st_reg_group g;
    double t0 = now_s();
    int rc;

    memset(stats, 0, sizeof(*stats));
    if (!json_is_array(records)) {
        st_errf(err, errcap, "records must be a JSON array");
        return ST_REG_EINVAL;
    }
    if ((rc = st_reg_begin(r)) != ST_REG_OK) {
        st_errf(err, errcap, "cannot start the transaction: %s", r->errmsg);
        return rc;
    }
    rc = st_reg_group_get(r, tenant, group, &g);
    if (rc != ST_REG_OK) {
        st_errf(err, errcap, "group %s/%s: %s", tenant, group, st_reg_strerror(rc));
        st_reg_rollback(r);
        return rc == ST_REG_NOTFOUND ? ST_REG_EREF : rc;
    }
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        if ((rc = import_one(r, &g, rec, i, &st, err, errcap)) != ST_REG_OK)
            break;
        st.records++;
    }
    st_reg_group_clear(&g);
    if (rc == ST_REG_OK && (rc = st_reg_commit(r)) != ST_REG_OK)
        st_errf(err, errcap, "commit failed: %s", r->errmsg);
    if (rc != ST_REG_OK) {
        st_reg_rollback(r);
        return rc;
    }
    st.seconds = now_s() - t0;
    *stats = st;
    return ST_REG_OK;
}
