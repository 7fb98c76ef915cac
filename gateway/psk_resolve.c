/* Handshake-path PSK resolution with decoy keys (see psk_resolve.h). */
#include "psk_resolve.h"

#include <stdio.h>
#include <string.h>

#include "batch_psk.h"
#include "st_secret.h"

const char *st_gw_auth_reason_name(int reason)
{
    static const char *const names[ST_GW_AUTH_REASONS] = {
        "ok",       "unknown-identity", "bad-batch-identity", "not-on-allow-list",
        "disabled", "revoked",          "method-not-allowed", "no-key",
        "store-error",
    };
    return reason >= 0 && reason < ST_GW_AUTH_REASONS ? names[reason] : "unknown";
}

static int state_reason(int state)
{
    return state == ST_REG_ENABLED ? ST_GW_AUTH_OK
           : state == ST_REG_REVOKED ? ST_GW_AUTH_REVOKED
                                     : ST_GW_AUTH_DISABLED;
}

/* Only identities with exactly two ':' are treated as batch identities. */
static int looks_batch(const uint8_t *id, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += id[i] == ':';
    return n == 2;
}

static int resolve_batch(struct st_reg *r, const uint8_t *identity, size_t len,
                         const struct st_gw_batch_id *bid, uint8_t *key, size_t *key_len,
                         struct st_gw_psk_result *res)
{
    struct st_reg_group g;
    struct st_reg_device d;
    int rc = st_reg_group_by_batch(r, bid->vendor, bid->batch, &g);
    if (rc == ST_REG_NOTFOUND)
        return ST_GW_AUTH_UNKNOWN_IDENTITY;
    if (rc != ST_REG_OK)
        return ST_GW_AUTH_STORE;
    int reason = ST_GW_AUTH_OK;
    snprintf(res->tenant, sizeof(res->tenant), "%s", g.tenant);
    snprintf(res->group, sizeof(res->group), "%s", g.id);
    snprintf(res->iccid, sizeof(res->iccid), "%s", bid->iccid);
    snprintf(res->device_id, sizeof(res->device_id), "%s", bid->iccid);
    res->batch = 1;
    if (!(g.auth_methods & ST_REG_AUTH_BATCH)) {
        reason = ST_GW_AUTH_METHOD;
    } else if (g.allowlist) {
        rc = st_reg_allow_has(r, g.tenant, g.id, bid->iccid);
        reason = rc == ST_REG_OK ? ST_GW_AUTH_OK
                 : rc == ST_REG_NOTFOUND ? ST_GW_AUTH_NOT_ALLOWED
                                         : ST_GW_AUTH_STORE;
    }
    if (reason == ST_GW_AUTH_OK) {
        /* An optional device row (imported delivery record) carries the state. */
        rc = st_reg_device_get(r, g.tenant, bid->iccid, &d);
        if (rc == ST_REG_OK) {
            reason = state_reason(d.state);
            st_reg_device_clear(&d);
        } else if (rc != ST_REG_NOTFOUND) {
            reason = ST_GW_AUTH_STORE;
        }
    }
    if (reason == ST_GW_AUTH_OK) {
        if (st_gw_batch_derive(g.kdf, g.bmk, g.bmk_len, identity, len, key, 32) == 0)
            *key_len = 32;
        else
            reason = ST_GW_AUTH_STORE;
    }
    st_reg_group_clear(&g);
    return reason;
}

static int resolve_device(struct st_reg *r, const uint8_t *identity, size_t len, uint8_t *key,
                          size_t *key_len, struct st_gw_psk_result *res)
{
    struct st_reg_device d;
    struct st_reg_group g;
    int rc = st_reg_device_by_psk_identity(r, (const char *)identity, len, &d);
    if (rc == ST_REG_NOTFOUND)
        return ST_GW_AUTH_UNKNOWN_IDENTITY;
    if (rc != ST_REG_OK)
        return ST_GW_AUTH_STORE;
    snprintf(res->tenant, sizeof(res->tenant), "%s", d.tenant);
    snprintf(res->group, sizeof(res->group), "%s", d.group);
    snprintf(res->iccid, sizeof(res->iccid), "%s", d.iccid);
    snprintf(res->device_id, sizeof(res->device_id), "%s", d.id);
    int reason = state_reason(d.state);
    if (reason == ST_GW_AUTH_OK && d.psk_len == 0)
        reason = ST_GW_AUTH_NO_KEY;
    if (reason == ST_GW_AUTH_OK) {
        rc = st_reg_group_get(r, d.tenant, d.group, &g);
        if (rc != ST_REG_OK)
            reason = ST_GW_AUTH_STORE;
        else if (!(g.auth_methods & ST_REG_AUTH_PSK))
            reason = ST_GW_AUTH_METHOD;
        st_reg_group_clear(&g);
    }
    if (reason == ST_GW_AUTH_OK) {
        memcpy(key, d.psk, d.psk_len);
        *key_len = d.psk_len;
    }
    st_reg_device_clear(&d);
    return reason;
}

int st_gw_psk_resolve(struct st_reg *r, const uint8_t decoy_secret[32], const uint8_t *identity,
                      size_t len, uint8_t *key, size_t cap, size_t *key_len,
                      struct st_gw_psk_result *res, struct st_gw_auth_stats *stats)
{
    struct st_gw_batch_id bid;
    int reason;
    memset(res, 0, sizeof(*res));
    *key_len = 0;
    if (cap < ST_REG_KEY_MAX || identity == NULL || len == 0 || len > ST_REG_PSK_ID_MAX) {
        reason = ST_GW_AUTH_UNKNOWN_IDENTITY;
    } else if (looks_batch(identity, len)) {
        int prc = st_gw_batch_parse(identity, len, &bid);
        reason = prc == ST_GW_BATCH_OK ? resolve_batch(r, identity, len, &bid, key, key_len, res)
                                       : ST_GW_AUTH_BAD_BATCH_ID;
        /* Not a batch we know: it may still be a stored per-device identity. */
        if (reason == ST_GW_AUTH_UNKNOWN_IDENTITY || reason == ST_GW_AUTH_BAD_BATCH_ID) {
            int r2 = resolve_device(r, identity, len, key, key_len, res);
            if (r2 != ST_GW_AUTH_UNKNOWN_IDENTITY)
                reason = r2;
        }
    } else {
        reason = resolve_device(r, identity, len, key, key_len, res);
    }
    res->reason = reason;
    if (reason != ST_GW_AUTH_OK) {
        /* Same derivation work as a batch key; stable per identity. */
        uint8_t tmp[ST_GW_DECOY_LEN];
        st_gw_psk_decoy(decoy_secret, identity ? identity : (const uint8_t *)"",
                        identity ? len : 0, tmp, sizeof(tmp));
        if (cap >= sizeof(tmp)) {
            memcpy(key, tmp, sizeof(tmp));
            *key_len = sizeof(tmp);
        }
        st_wipe(tmp, sizeof(tmp));
    }
    if (stats != NULL)
        atomic_fetch_add_explicit(&stats->by_reason[reason], 1, memory_order_relaxed);
    return reason == ST_GW_AUTH_OK;
}
