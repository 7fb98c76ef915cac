/*
 * Device resources of the REST API (IoT.04 3.3.2.2.1 Credential Establishment:
 * Add/Get/Update/Delete Device Record; 3.3.2.2.3 Get PSK Data):
 * /v1/devices, /v1/devices/{id}, /v1/devices/{id}/psk.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api_internal.h"
#include "gw_api_json.h"
#include "st_log.h"
#include "st_secret.h"

#define PSK_LEN 32 /* bytes of a generated PSK */

static int is_read(const struct st_api_req *q)
{
    return strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
}

static enum MHD_Result fail_txn(struct st_api_req *q, struct st_reg *r, int rc, const char *what)
{
    st_reg_rollback(r);
    return st_api_reg_error(q, r, rc, what);
}

/* ---- /v1/devices ---- */

static int add_device(void *arg, const struct st_reg_device *d)
{
    json_array_append_new(arg, st_gw_json_from_device(d));
    return 0;
}

enum MHD_Result st_api_devices_list(struct st_api_req *q)
{
    enum MHD_Result res;
    int64_t off, lim, total = 0;
    char group[ST_REG_ID_MAX + 1];
    struct st_reg *r = st_api_reg(q);
    if (st_api_paging(q, &off, &lim, &res) != 0)
        return res;
    int hg = st_api_arg(q, "group", group, sizeof(group));
    if (hg < 0 || (hg && !st_reg_id_ok(group)))
        return st_api_error(q, 400, "invalid", "group: expected a group ID");
    if (r == NULL)
        return st_api_error(q, 503, "busy", "registry unavailable");
    json_t *items = json_array();
    int rc = hg ? st_reg_device_list_group(r, q->tenant, group, off, lim, add_device, items, &total)
                : st_reg_device_list(r, q->tenant, off, lim, add_device, items, &total);
    if (rc != ST_REG_OK) {
        json_decref(items);
        return st_api_reg_error(q, r, rc, "devices");
    }
    return st_api_page(q, items, total, off, lim, "/v1/devices", "group", hg ? group : NULL);
}

/* ---- /v1/devices/{id} ---- */

static enum MHD_Result device_get(struct st_api_req *q, struct st_reg *r, const char *id)
{
    struct st_reg_device d;
    int rc = st_reg_device_get(r, q->tenant, id, &d);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "device");
    json_t *o = st_gw_json_from_device(&d);
    int64_t version = d.version;
    st_reg_device_clear(&d);
    return st_api_record(q, version, o, "device");
}

/* The device's group must exist in the tenant. 0, or an answered error. */
static int group_exists(struct st_api_req *q, struct st_reg *r, const char *group,
                        enum MHD_Result *res)
{
    struct st_reg_group g;
    int rc = st_reg_group_get(r, q->tenant, group, &g);
    st_reg_group_clear(&g);
    if (rc == ST_REG_OK)
        return 0;
    st_reg_rollback(r);
    if (rc == ST_REG_NOTFOUND)
        *res = st_api_error(q, 409, "conflict", "group: group %s does not exist", group);
    else
        *res = st_api_reg_error(q, r, rc, "group");
    return -1;
}

/* PUT (replace or create) and PATCH (merge patch of an existing device). */
static enum MHD_Result device_write(struct st_api_req *q, struct st_reg *r, const char *id,
                                    int patch)
{
    enum MHD_Result res;
    struct st_reg_device old, d;
    char err[256], etag[32];
    json_t *in = st_api_body_object(q, &res);
    if (in == NULL)
        return res;
    memset(&d, 0, sizeof(d));
    memset(&old, 0, sizeof(old));
    int rc = st_reg_begin(r);
    if (rc != ST_REG_OK) {
        st_gw_json_device(in, 1, NULL, &d, err, sizeof(err)); /* wipes a PSK in the body */
        st_reg_device_clear(&d);
        json_decref(in);
        return st_api_reg_error(q, r, rc, "device");
    }
    rc = st_reg_device_get(r, q->tenant, id, &old);
    int exists = rc == ST_REG_OK;
    int64_t cur = exists ? old.version : 0;
    unsigned pre = rc == ST_REG_OK || rc == ST_REG_NOTFOUND ? st_api_precondition(q, cur) : 0;
    if (rc != ST_REG_OK && rc != ST_REG_NOTFOUND)
        res = fail_txn(q, r, rc, "device");
    else if (pre || (exists && !patch && st_api_create_only(q)))
        res = (st_reg_rollback(r),
               st_api_error(q, 412, "precondition-failed",
                            exists ? "device %s exists and If-Match/If-None-Match do not allow "
                                     "changing it"
                                   : "device %s does not exist (If-Match)",
                            id));
    else if (patch && !exists)
        res = (st_reg_rollback(r), st_api_error(q, 404, "not-found", "device %s not found", id));
    else
        res = MHD_YES;
    if (res != MHD_YES || q->queued) {
        st_gw_json_device(in, 1, NULL, &d, err, sizeof(err));
        st_reg_device_clear(&d);
        st_reg_device_clear(&old);
        json_decref(in);
        return res;
    }
    if (patch) {
        if (st_gw_device_copy(&d, &old) != 0)
            rc = -1;
    } else {
        snprintf(d.tenant, sizeof(d.tenant), "%s", q->tenant);
        snprintf(d.id, sizeof(d.id), "%s", id);
    }
    rc = rc == -1 ? -1 : st_gw_json_device(in, patch, exists ? &old : NULL, &d, err, sizeof(err));
    st_reg_device_clear(&old);
    json_decref(in);
    if (rc != 0) {
        st_reg_rollback(r);
        st_reg_device_clear(&d);
        return st_api_error(q, 400, "invalid", "%s", err);
    }
    if (group_exists(q, r, d.group, &res) != 0) {
        st_reg_device_clear(&d);
        return res;
    }
    rc = st_api_tenant_ensure(r, q->tenant);
    if (rc == ST_REG_OK)
        rc = st_reg_device_put(r, &d, exists ? cur : ST_REG_CREATE);
    if (rc == ST_REG_EEXISTS) {
        st_reg_rollback(r);
        st_reg_device_clear(&d);
        return st_api_error(q, 409, "conflict",
                            "psk_identity or certificate key already registered to another "
                            "device");
    }
    if (rc == ST_REG_OK)
        rc = st_reg_commit(r);
    if (rc != ST_REG_OK) {
        st_reg_device_clear(&d);
        return fail_txn(q, r, rc, "device");
    }
    st_api_etag(d.version, etag);
    json_t *o = st_gw_json_from_device(&d);
    st_reg_device_clear(&d);
    if (exists)
        return st_api_json(q, 200, o, etag, NULL, NULL);
    char loc[sizeof(q->path)];
    snprintf(loc, sizeof(loc), "%s", q->path);
    return st_api_json(q, 201, o, etag, "Location", loc);
}

static enum MHD_Result device_delete(struct st_api_req *q, struct st_reg *r, const char *id)
{
    struct st_reg_device old;
    int rc = st_reg_begin(r);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "device");
    rc = st_reg_device_get(r, q->tenant, id, &old);
    if (rc != ST_REG_OK && (rc != ST_REG_NOTFOUND || !st_api_precondition(q, 0)))
        return fail_txn(q, r, rc, "device");
    int64_t cur = rc == ST_REG_OK ? old.version : 0;
    st_reg_device_clear(&old);
    if (st_api_precondition(q, cur)) {
        st_reg_rollback(r);
        return st_api_error(q, 412, "precondition-failed", "If-Match does not match device %s",
                            id);
    }
    rc = st_reg_device_delete(r, q->tenant, id, cur);
    if (rc == ST_REG_OK && (rc = st_reg_commit(r)) == ST_REG_OK)
        return st_api_no_content(q, 204);
    return fail_txn(q, r, rc, "device");
}

enum MHD_Result st_api_device(struct st_api_req *q)
{
    struct st_reg *r = st_api_reg(q);
    const char *id = q->seg[2];
    if (r == NULL)
        return st_api_error(q, 503, "busy", "registry unavailable");
    if (is_read(q))
        return device_get(q, r, id);
    if (strcmp(q->method, "PUT") == 0)
        return device_write(q, r, id, 0);
    if (strcmp(q->method, "PATCH") == 0)
        return device_write(q, r, id, 1);
    return device_delete(q, r, id);
}

/* ---- /v1/devices/{id}/psk: Get PSK Data (3.3.2.2.3) ---- */

enum MHD_Result st_api_device_psk(struct st_api_req *q)
{
    struct st_reg *r = st_api_reg(q);
    const char *id = q->seg[2];
    struct st_reg_device d;
    struct st_reg_group g;
    char etag[32], hex[2 * PSK_LEN + 1];
    if (r == NULL)
        return st_api_error(q, 503, "busy", "registry unavailable");
    int rc = st_reg_begin(r);
    if (rc != ST_REG_OK)
        return st_api_reg_error(q, r, rc, "device");
    rc = st_reg_device_get(r, q->tenant, id, &d);
    if (rc != ST_REG_OK)
        return fail_txn(q, r, rc, "device");
    if (st_api_precondition(q, d.version)) {
        st_reg_rollback(r);
        st_reg_device_clear(&d);
        return st_api_error(q, 412, "precondition-failed", "If-Match does not match device %s",
                            id);
    }
    rc = st_reg_group_get(r, q->tenant, d.group, &g);
    unsigned methods = g.auth_methods;
    st_reg_group_clear(&g);
    if (rc != ST_REG_OK) {
        st_reg_device_clear(&d);
        return fail_txn(q, r, rc, "group");
    }
    if (!(methods & ST_REG_AUTH_PSK)) {
        st_reg_rollback(r);
        enum MHD_Result e = st_api_error(q, 409, "conflict",
                                         "group %s does not allow psk authentication", d.group);
        st_reg_device_clear(&d);
        return e;
    }
    if (d.psk_identity[0] == '\0')
        snprintf(d.psk_identity, sizeof(d.psk_identity), "%s", d.id);
    if (RAND_priv_bytes(d.psk, PSK_LEN) != 1) {
        st_reg_device_clear(&d);
        st_reg_rollback(r);
        return st_api_error(q, 500, "internal", "random generator failure");
    }
    d.psk_len = PSK_LEN;
    rc = st_reg_device_put(r, &d, d.version);
    if (rc == ST_REG_EEXISTS) {
        st_reg_rollback(r);
        st_reg_device_clear(&d);
        return st_api_error(q, 409, "conflict",
                            "the PSK identity %s is taken by another device; set psk_identity",
                            id);
    }
    if (rc == ST_REG_OK)
        rc = st_reg_commit(r);
    if (rc != ST_REG_OK) {
        st_reg_device_clear(&d);
        return fail_txn(q, r, rc, "device");
    }
    st_gw_hex_lower(d.psk, PSK_LEN, hex);
    st_api_etag(d.version, etag);
    json_t *o = json_pack("{s:s, s:s}", "psk_identity", d.psk_identity, "psk", hex);
    st_wipe(hex, sizeof(hex));
    st_info("api: tenant %s device %s: new PSK generated (identity %s)", q->tenant, id,
            d.psk_identity);
    st_reg_device_clear(&d);
    json_t *pv = o ? json_object_get(o, "psk") : NULL;
    enum MHD_Result res = st_api_json_secret(q, 200, o ? json_incref(o) : NULL, etag);
    if (pv)
        st_wipe((char *)json_string_value(pv), json_string_length(pv));
    json_decref(o);
    return res;
}
