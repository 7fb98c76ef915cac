/*
 * Group resources of the REST API (IoT.04 3.3.2.2.1 Credential Establishment:
 * Add/Get/Update/Delete Device Group and Group Record; 3.3.2.2.2 CA Certificate
 * Request; Annex C.1 offline delivery import): /v1/groups,
 * /v1/groups/{id}, /v1/groups/{id}/allowlist[/{iccid}],
 * /v1/groups/{id}/certificates, /v1/groups/{id}/import.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"
#include "delivery_import.h"
#include "gw_api_internal.h"
#include "gw_config.h"
#include "gw_api_json.h"
#include "gw_ca.h"
#include "st_log.h"
#include "st_secret.h"

static int is_read(const struct st_api_req *q)
{
    return strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
}

/* Rolls back and answers with the registry error. */
static enum MHD_Result fail_txn(struct st_api_req *q, struct st_reg *r, int rc, const char *what)
{
    st_reg_rollback(r);
    return st_api_reg_error(q, r, rc, what);
}

static enum MHD_Result no_registry(struct st_api_req *q)
{
    return st_api_error(q, 503, "busy", "registry unavailable");
}

/* ---- /v1/groups ---- */

static int add_group(void *arg, const struct st_reg_group *g)
{
    json_array_append_new(arg, st_gw_json_from_group(g));
    return 0;
}

enum MHD_Result st_api_groups_list(struct st_api_req *q)
{
    enum MHD_Result res;
    int64_t off, lim, total = 0;
    struct st_reg *r = st_api_reg(q);
    if (st_api_paging(q, &off, &lim, &res) != 0)
        return res;
    if (r == NULL)
        return no_registry(q);
    json_t *items = json_array();
    int rc = st_reg_group_list(r, q->tenant, off, lim, add_group, items, &total);
    if (rc != ST_REG_OK) {
        json_decref(items);
        return st_api_reg_error(q, r, rc, "groups");
    }
    return st_api_page(q, items, total, off, lim, "/v1/groups", NULL, NULL);
}

/* ---- /v1/groups/{id} ---- */

static enum MHD_Result group_get(struct st_api_req *q, struct st_reg *r, const char *id)
{
    struct st_reg_group g;
    int rc = st_reg_group_get(r, q->tenant, id, &g);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "group");
    json_t *o = st_gw_json_from_group(&g);
    int64_t version = g.version;
    st_reg_group_clear(&g);
    return st_api_record(q, version, o, "group");
}

static enum MHD_Result group_put(struct st_api_req *q, struct st_reg *r, const char *id)
{
    enum MHD_Result res;
    struct st_reg_group old, g;
    char err[256], etag[32], loc[16 + 3 * ST_REG_ID_MAX + 1];
    json_t *in = st_api_body_object(q, &res);
    if (in == NULL)
        return res;
    memset(&g, 0, sizeof(g));
    int rc = st_reg_begin(r);
    if (rc != ST_REG_OK) {
        json_decref(in);
        return st_api_reg_error(q, r, rc, "group");
    }
    rc = st_reg_group_get(r, q->tenant, id, &old);
    int exists = rc == ST_REG_OK;
    if (rc != ST_REG_OK && rc != ST_REG_NOTFOUND) {
        json_decref(in);
        return fail_txn(q, r, rc, "group");
    }
    int64_t cur = exists ? old.version : 0;
    unsigned pre = st_api_precondition(q, cur);
    if (pre || (exists && st_api_create_only(q))) {
        st_reg_rollback(r);
        st_reg_group_clear(&old);
        st_gw_json_group(in, NULL, &g, err, sizeof(err)); /* wipes a BMK in the body */
        st_reg_group_clear(&g);
        json_decref(in);
        return st_api_error(q, 412, "precondition-failed",
                            exists ? "group %s exists and If-Match/If-None-Match do not allow "
                                     "replacing it"
                                   : "group %s does not exist (If-Match)",
                            id);
    }
    snprintf(g.tenant, sizeof(g.tenant), "%s", q->tenant);
    snprintf(g.id, sizeof(g.id), "%s", id);
    rc = st_gw_json_group(in, exists ? &old : NULL, &g, err, sizeof(err));
    st_reg_group_clear(&old);
    json_decref(in);
    if (rc != 0) {
        st_reg_rollback(r);
        st_reg_group_clear(&g);
        return st_api_error(q, 400, "invalid", "%s", err);
    }
    rc = st_api_tenant_ensure(r, q->tenant);
    if (rc == ST_REG_OK)
        rc = st_reg_group_put(r, &g, exists ? cur : ST_REG_CREATE);
    if (rc == ST_REG_EEXISTS && (g.auth_methods & ST_REG_AUTH_BATCH)) {
        st_reg_rollback(r);
        enum MHD_Result e = st_api_error(q, 409, "conflict",
                                         "batch %s:%s is already served by another group",
                                         g.batch_vendor, g.batch_id);
        st_reg_group_clear(&g);
        return e;
    }
    if (rc == ST_REG_OK && (rc = st_reg_commit(r)) == ST_REG_OK) {
        st_api_etag(g.version, etag);
        json_t *o = st_gw_json_from_group(&g);
        st_reg_group_clear(&g);
        if (exists)
            return st_api_json(q, 200, o, etag, NULL, NULL);
        char esc[3 * ST_REG_ID_MAX + 1];
        size_t n = 0;
        for (const char *p = id; *p && n + 4 < sizeof(esc); p++) {
            unsigned char c = (unsigned char)*p;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~')
                esc[n++] = (char)c;
            else
                n += (size_t)snprintf(esc + n, sizeof(esc) - n, "%%%02X", c);
        }
        esc[n] = '\0';
        snprintf(loc, sizeof(loc), "/v1/groups/%s", esc);
        return st_api_json(q, 201, o, etag, "Location", loc);
    }
    st_reg_group_clear(&g);
    return fail_txn(q, r, rc, "group");
}

static enum MHD_Result group_delete(struct st_api_req *q, struct st_reg *r, const char *id)
{
    struct st_reg_group old;
    int rc = st_reg_begin(r);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "group");
    rc = st_reg_group_get(r, q->tenant, id, &old);
    if (rc != ST_REG_OK && (rc != ST_REG_NOTFOUND || !st_api_precondition(q, 0)))
        return fail_txn(q, r, rc, "group");
    int64_t cur = rc == ST_REG_OK ? old.version : 0;
    st_reg_group_clear(&old);
    if (st_api_precondition(q, cur)) {
        st_reg_rollback(r);
        return st_api_error(q, 412, "precondition-failed", "If-Match does not match group %s",
                            id);
    }
    rc = st_reg_group_delete(r, q->tenant, id, cur);
    if (rc == ST_REG_EREF) {
        st_reg_rollback(r);
        return st_api_error(q, 409, "conflict", "group %s still has devices; delete them first",
                            id);
    }
    if (rc == ST_REG_OK && (rc = st_reg_commit(r)) == ST_REG_OK)
        return st_api_no_content(q, 204);
    return fail_txn(q, r, rc, "group");
}

enum MHD_Result st_api_group(struct st_api_req *q)
{
    struct st_reg *r = st_api_reg(q);
    const char *id = q->seg[2];
    if (r == NULL)
        return no_registry(q);
    if (is_read(q))
        return group_get(q, r, id);
    if (strcmp(q->method, "PUT") == 0)
        return group_put(q, r, id);
    return group_delete(q, r, id);
}

/* ---- /v1/groups/{id}/allowlist ---- */

static int add_iccid(void *arg, const char *iccid)
{
    json_array_append_new(arg, json_string(iccid));
    return 0;
}

/* The group of an allow-list request must exist and be a batch group. */
static enum MHD_Result batch_group(struct st_api_req *q, struct st_reg *r, const char *id, int *ok)
{
    struct st_reg_group g;
    int rc = st_reg_group_get(r, q->tenant, id, &g);
    *ok = 0;
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "group");
    unsigned m = g.auth_methods;
    st_reg_group_clear(&g);
    if (!(m & ST_REG_AUTH_BATCH))
        return st_api_error(q, 409, "conflict",
                            "group %s is not a batch-psk group (no allow-list)", id);
    *ok = 1;
    return MHD_YES;
}

enum MHD_Result st_api_allowlist_list(struct st_api_req *q)
{
    enum MHD_Result res;
    int64_t off, lim, total = 0;
    int ok;
    struct st_reg *r = st_api_reg(q);
    const char *id = q->seg[2];
    if (st_api_paging(q, &off, &lim, &res) != 0)
        return res;
    if (r == NULL)
        return no_registry(q);
    res = batch_group(q, r, id, &ok);
    if (!ok)
        return res;
    json_t *items = json_array();
    int rc = st_reg_allow_list(r, q->tenant, id, off, lim, add_iccid, items, &total);
    if (rc != ST_REG_OK) {
        json_decref(items);
        return st_api_reg_error(q, r, rc, "allow-list");
    }
    char base[sizeof(q->path)];
    snprintf(base, sizeof(base), "%s", q->path);
    char *qm = strchr(base, '?');
    if (qm)
        *qm = '\0';
    return st_api_page(q, items, total, off, lim, base, NULL, NULL);
}

enum MHD_Result st_api_allowlist_entry(struct st_api_req *q)
{
    struct st_reg *r = st_api_reg(q);
    const char *id = q->seg[2], *iccid = q->seg[4];
    int ok;
    if (r == NULL)
        return no_registry(q);
    if (!st_gw_iccid_digits_ok(iccid, strlen(iccid)))
        return st_api_error(q, 400, "invalid", "iccid: expected 18..20 decimal digits");
    int rc = st_reg_begin(r);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "allow-list");
    enum MHD_Result res = batch_group(q, r, id, &ok);
    if (!ok) {
        st_reg_rollback(r);
        return res;
    }
    rc = st_reg_allow_has(r, q->tenant, id, iccid);
    if (rc != ST_REG_OK && rc != ST_REG_NOTFOUND)
        return fail_txn(q, r, rc, "allow-list");
    int present = rc == ST_REG_OK;
    if (is_read(q)) {
        st_reg_rollback(r);
        if (!present)
            return st_api_error(q, 404, "not-found", "ICCID %s is not on the allow-list", iccid);
        return st_api_json(q, 200, json_pack("{s:s}", "iccid", iccid), NULL, NULL, NULL);
    }
    if (strcmp(q->method, "PUT") == 0) {
        if (!present && (rc = st_reg_allow_add(r, q->tenant, id, iccid)) != ST_REG_OK)
            return fail_txn(q, r, rc, "allow-list");
    } else {
        if (!present) {
            st_reg_rollback(r);
            return st_api_error(q, 404, "not-found", "ICCID %s is not on the allow-list", iccid);
        }
        if ((rc = st_reg_allow_remove(r, q->tenant, id, iccid)) != ST_REG_OK)
            return fail_txn(q, r, rc, "allow-list");
    }
    if ((rc = st_reg_commit(r)) != ST_REG_OK)
        return fail_txn(q, r, rc, "allow-list");
    if (strcmp(q->method, "DELETE") == 0)
        return st_api_no_content(q, 204);
    return st_api_json(q, present ? 200 : 201, json_pack("{s:s}", "iccid", iccid), NULL, NULL,
                       NULL);
}

/* ---- /v1/groups/{id}/certificates (M4, M6) ---- */

/* Binds an issued certificate to the device (same group) in one transaction. */
static enum MHD_Result bind_device(struct st_api_req *q, struct st_reg *r, const char *group,
                                   const char *device_id, const struct st_gw_ca_issued *c,
                                   char etag[32], int *ok)
{
    struct st_reg_device d;
    *ok = 0;
    int rc = st_reg_begin(r);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "device");
    rc = st_reg_device_get(r, q->tenant, device_id, &d);
    if (rc == ST_REG_NOTFOUND) {
        st_reg_rollback(r);
        return st_api_error(q, 404, "not-found", "device %s not found", device_id);
    }
    if (rc != ST_REG_OK)
        return fail_txn(q, r, rc, "device");
    if (strcmp(d.group, group) != 0) {
        st_reg_rollback(r);
        st_reg_device_clear(&d);
        return st_api_error(q, 409, "conflict", "device %s belongs to another group", device_id);
    }
    free(d.cert_pem);
    d.cert_pem = strdup(c->leaf_pem);
    memcpy(d.spki_sha256, c->spki_sha256, 32);
    d.has_spki = 1;
    rc = d.cert_pem ? st_reg_device_put(r, &d, d.version) : ST_REG_ERR;
    if (rc == ST_REG_EEXISTS) {
        st_reg_rollback(r);
        st_reg_device_clear(&d);
        return st_api_error(q, 409, "conflict",
                            "the CSR's public key is already bound to another device");
    }
    if (rc == ST_REG_OK)
        rc = st_reg_commit(r);
    if (rc != ST_REG_OK) {
        st_reg_device_clear(&d);
        return fail_txn(q, r, rc, "device");
    }
    st_api_etag(d.version, etag);
    st_reg_device_clear(&d);
    *ok = 1;
    return MHD_YES;
}

enum MHD_Result st_api_certificates(struct st_api_req *q)
{
    enum MHD_Result res;
    struct st_reg *r = st_api_reg(q);
    const char *group = q->seg[2], *csr, *device_id;
    size_t csr_len;
    char err[256], ca_dir[ST_GW_PATH_MAX], etag[32] = "", dev_buf[ST_REG_ID_MAX + 1];
    int days, ok;
    struct st_reg_group g;
    if (r == NULL)
        return no_registry(q);
    json_t *in = st_api_body_object(q, &res);
    if (in == NULL)
        return res;
    if (st_gw_json_csr_request(in, &csr, &csr_len, &device_id, err, sizeof(err)) != 0) {
        json_decref(in);
        return st_api_error(q, 400, "invalid", "%s", err);
    }
    if (device_id) { /* outlives the document */
        snprintf(dev_buf, sizeof(dev_buf), "%s", device_id);
        device_id = dev_buf;
    }
    int rc = st_reg_group_get(r, q->tenant, group, &g);
    st_reg_group_clear(&g);
    if (rc != ST_REG_OK) {
        json_decref(in);
        return st_api_reg_error(q, r, rc, "group");
    }
    if (device_id) {
        struct st_reg_device d;
        rc = st_reg_device_get(r, q->tenant, device_id, &d);
        int same = rc == ST_REG_OK && strcmp(d.group, group) == 0;
        st_reg_device_clear(&d);
        if (rc != ST_REG_OK || !same) {
            json_decref(in);
            if (rc == ST_REG_NOTFOUND)
                return st_api_error(q, 404, "not-found", "device %s not found", device_id);
            if (rc != ST_REG_OK)
                return st_api_reg_error(q, r, rc, "device");
            return st_api_error(q, 409, "conflict", "device %s belongs to another group",
                                device_id);
        }
    }
    st_api_ca_settings(q, ca_dir, sizeof(ca_dir), &days);
    struct st_gw_ca_issued c;
    rc = st_gw_ca_sign(ca_dir, q->tenant, group, csr, csr_len, device_id, days, &c, err,
                       sizeof(err));
    if (rc != ST_GW_CA_OK) {
        json_decref(in);
        if (rc == ST_GW_CA_ECSR)
            return st_api_error(q, 400, "invalid", "%s", err);
        if (rc == ST_GW_CA_ENOCA)
            return st_api_error(q, 409, "no-ca", "%s", err);
        return st_api_error(q, 500, "internal", "%s", err);
    }
    if (device_id) {
        res = bind_device(q, r, group, device_id, &c, etag, &ok);
        if (!ok) {
            json_decref(in);
            st_gw_ca_issued_clear(&c);
            return res;
        }
    }
    st_info("api: tenant %s group %s issued certificate serial %s%s%s", q->tenant, group,
            c.serial_hex, device_id ? " bound to device " : "", device_id ? device_id : "");
    json_t *o = json_pack("{s:s, s:s}", "certificate", c.chain_pem, "serial", c.serial_hex);
    if (device_id)
        json_object_set_new(o, "device_id", json_string(device_id));
    json_decref(in);
    st_gw_ca_issued_clear(&c);
    return st_api_json(q, 201, o, NULL, etag[0] ? "X-Device-ETag" : NULL, etag);
}

/* ---- /v1/groups/{id}/import (Annex C.1) ---- */

enum MHD_Result st_api_import(struct st_api_req *q)
{
    struct st_reg *r = st_api_reg(q);
    const char *group = q->seg[2];
    char err[512];
    struct st_reg_group g;
    struct st_gw_import_stats st;
    if (r == NULL)
        return no_registry(q);
    int rc = st_reg_group_get(r, q->tenant, group, &g);
    st_reg_group_clear(&g);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "group");
    json_t *recs = st_gw_delivery_load(q->body ? q->body : "", q->len, err, sizeof(err));
    if (recs == NULL)
        return st_api_error(q, 400, "invalid", "%s", err);
    rc = st_gw_import(r, q->tenant, group, recs, &st, err, sizeof(err));
    json_decref(recs);
    switch (rc) {
    case ST_REG_OK: break;
    case ST_REG_EINVAL: return st_api_error(q, 400, "invalid", "%s", err);
    case ST_REG_EEXISTS:
    case ST_REG_ECONFLICT:
    case ST_REG_EREF: return st_api_error(q, 409, "conflict", "%s", err);
    default: return st_api_reg_error(q, r, rc, "import");
    }
    st_info("api: tenant %s group %s imported %zu records (%zu created, %zu unchanged)", q->tenant,
            group, st.records, st.created, st.unchanged);
    json_t *o = json_pack("{s:I, s:I, s:I, s:f, s:f}", "records", (json_int_t)st.records,
                          "created", (json_int_t)st.created, "unchanged",
                          (json_int_t)st.unchanged, "seconds", st.seconds, "records_per_second",
                          st.seconds > 0 ? (double)st.records / st.seconds : 0.0);
    return st_api_json(q, 200, o, NULL, NULL, NULL);
}
