/* Handshake-path PSK resolution with decoy keys (see psk_resolve.h). */
#include "psk_resolve.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "batch_psk.h"
#include "st_secret.h"

const char *st_gw_auth_reason_name(int reason)
{
    static const char *const names[ST_GW_AUTH_REASONS] = {
        "ok",       "unknown-identity", "bad-batch-identity", "not-on-allow-list",
        "disabled", "revoked",          "method-not-allowed", "no-key",
        "store-error", "bad-key",          "cert-unknown",       "cert-untrusted",
        "cert-expired", "no-credential",  "handshake",          "timeout",
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

/*
 * Timing balance: every function below performs the same registry calls and
 * the same derivation whatever the outcome (dummy keys when a record is
 * missing), and counts the AES-GCM opens the registry did (a sealed PSK or
 * BMK in a row it returned, or one that failed to open); the caller tops up
 * with the sealed dummy so that exactly one open happens per resolution.
 */
static const uint8_t k_dummy_aad[] = "simtrust-gw/v1/dummy";

/*
 * Dummy lookups read a real row when one is known: the identity of the last
 * accepted stored-PSK device and the last accepted batch of this thread (a
 * registry handle is per thread). A miss then costs an index probe plus the
 * row read, group read and AES-GCM open a hit costs. Identities and batch
 * names are not secret; the keys read by a dummy lookup are wiped unused.
 */
#define PROBE_RING 64
static _Thread_local struct {
    char identity[PROBE_RING][ST_REG_PSK_ID_MAX + 1]; /* recently accepted, per thread */
    unsigned char len[PROBE_RING];
    unsigned n;
    uint32_t rnd;
    char vendor[ST_GW_BATCH_FIELD_MAX + 1];
    char batch[ST_GW_BATCH_FIELD_MAX + 1];
} tl_probe;

/* Not for secrets: spreads dummy reads over recently accepted rows (xorshift32). */
static unsigned probe_pick(void)
{
    uint32_t x = tl_probe.rnd ? tl_probe.rnd : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    tl_probe.rnd = x;
    return x % PROBE_RING;
}

/* A key no record has (control character: refused by the API and the parser). */
static const char k_miss[] = "\x01simtrust-miss";

static void dummy_open(const struct st_gw_psk_balance *bal)
{
    uint8_t out[64];
    size_t n = 0;
    if (bal != NULL && bal->kek != NULL && bal->sealed_len > 0)
        (void)st_gw_open(bal->kek, k_dummy_aad, sizeof(k_dummy_aad) - 1, bal->sealed,
                         bal->sealed_len, out, sizeof(out), &n);
    st_wipe(out, sizeof(out));
}

static int resolve_batch(struct st_reg *r, const uint8_t decoy_secret[32], const uint8_t *identity,
                         size_t len, const struct st_gw_batch_id *bid, uint8_t *key,
                         size_t *key_len, struct st_gw_psk_result *res, int *opened)
{
    struct st_reg_group g;
    struct st_reg_device d;
    uint8_t tmp[32];
    int rc = st_reg_group_by_batch(r, bid ? bid->vendor : "", bid ? bid->batch : "", &g);
    int found = rc == ST_REG_OK;
    int reason = bid == NULL ? ST_GW_AUTH_BAD_BATCH_ID
                 : found     ? ST_GW_AUTH_OK
                 : rc == ST_REG_NOTFOUND ? ST_GW_AUTH_UNKNOWN_IDENTITY
                                         : ST_GW_AUTH_STORE;
    *opened += found ? g.bmk_len > 0 : rc == ST_REG_ECRYPTO;
    int dummy = 0;
    if (!found && tl_probe.vendor[0] != '\0') {
        /* Same row read and BMK open as a hit; the group is then used as a
         * dummy for the probes below, never for the result. */
        rc = st_reg_group_by_batch(r, tl_probe.vendor, tl_probe.batch, &g);
        dummy = rc == ST_REG_OK;
        *opened += dummy ? g.bmk_len > 0 : rc == ST_REG_ECRYPTO;
    } else if (found) {
        /* The index probe that misses on the other path. */
        struct st_reg_group x;
        if (st_reg_group_by_batch(r, k_miss, k_miss, &x) == ST_REG_OK)
            st_reg_group_clear(&x);
    }
    if (found) {
        snprintf(res->tenant, sizeof(res->tenant), "%s", g.tenant);
        snprintf(res->group, sizeof(res->group), "%s", g.id);
        snprintf(res->iccid, sizeof(res->iccid), "%s", bid->iccid);
        snprintf(res->device_id, sizeof(res->device_id), "%s", bid->iccid);
        res->batch = 1;
        if (!(g.auth_methods & ST_REG_AUTH_BATCH))
            reason = ST_GW_AUTH_METHOD;
    }
    int have_g = found || dummy;
    /* Allow-list probe on every path (a group without a list: result unused). */
    rc = st_reg_allow_has(r, have_g ? g.tenant : "", have_g ? g.id : "", bid ? bid->iccid : "");
    if (reason == ST_GW_AUTH_OK && g.allowlist)
        reason = rc == ST_REG_OK ? ST_GW_AUTH_OK
                 : rc == ST_REG_NOTFOUND ? ST_GW_AUTH_NOT_ALLOWED
                                         : ST_GW_AUTH_STORE;
    /* An optional device row (imported delivery record) carries the state. */
    rc = st_reg_device_get(r, have_g ? g.tenant : "", bid ? bid->iccid : "", &d);
    *opened += rc == ST_REG_OK ? d.psk_len > 0 : rc == ST_REG_ECRYPTO;
    if (reason == ST_GW_AUTH_OK) {
        if (rc == ST_REG_OK)
            reason = state_reason(d.state);
        else if (rc != ST_REG_NOTFOUND)
            reason = ST_GW_AUTH_STORE;
    }
    if (rc == ST_REG_OK)
        st_reg_device_clear(&d);
    /* One derivation on every path: the group's KDF and BMK, or HKDF (the
     * dearer of the two) under the decoy secret. */
    int real = have_g && g.bmk_len >= 16;
    int drc = st_gw_batch_derive(real ? g.kdf : ST_GW_KDF_HKDF_SHA256,
                                 real ? g.bmk : decoy_secret, real ? g.bmk_len : 32, identity,
                                 len, tmp, sizeof(tmp));
    if (reason == ST_GW_AUTH_OK) {
        if (drc == 0 && found && real) {
            memcpy(key, tmp, sizeof(tmp));
            *key_len = sizeof(tmp);
            snprintf(tl_probe.vendor, sizeof(tl_probe.vendor), "%s", bid->vendor);
            snprintf(tl_probe.batch, sizeof(tl_probe.batch), "%s", bid->batch);
        } else {
            reason = ST_GW_AUTH_STORE;
        }
    }
    st_wipe(tmp, sizeof(tmp));
    if (have_g)
        st_reg_group_clear(&g);
    return reason;
}

static int resolve_device(struct st_reg *r, const uint8_t *identity, size_t len, uint8_t *key,
                          size_t *key_len, struct st_gw_psk_result *res, int *opened)
{
    struct st_reg_device d;
    struct st_reg_group g;
    int rc = st_reg_device_by_psk_identity(r, (const char *)identity, len, &d);
    int found = rc == ST_REG_OK, dummy = 0;
    int reason = found ? ST_GW_AUTH_OK
                 : rc == ST_REG_NOTFOUND ? ST_GW_AUTH_UNKNOWN_IDENTITY
                                         : ST_GW_AUTH_STORE;
    *opened += found ? d.psk_len > 0 : rc == ST_REG_ECRYPTO;
    if (found) {
        snprintf(res->tenant, sizeof(res->tenant), "%s", d.tenant);
        snprintf(res->group, sizeof(res->group), "%s", d.group);
        snprintf(res->iccid, sizeof(res->iccid), "%s", d.iccid);
        snprintf(res->device_id, sizeof(res->device_id), "%s", d.id);
        reason = state_reason(d.state);
        if (reason == ST_GW_AUTH_OK && d.psk_len == 0)
            reason = ST_GW_AUTH_NO_KEY;
    }
    if (found) {
        /* The index probe that misses on the other path. */
        struct st_reg_device x;
        if (st_reg_device_by_psk_identity(r, k_miss, sizeof(k_miss) - 1, &x) == ST_REG_OK)
            st_reg_device_clear(&x);
    } else if (tl_probe.n > 0) {
        /* Same row read and PSK open as a hit (a row recently accepted on
         * this thread, picked at random so that it is not always cached),
         * result unused. */
        unsigned i = probe_pick() % (tl_probe.n < PROBE_RING ? tl_probe.n : PROBE_RING);
        rc = st_reg_device_by_psk_identity(r, tl_probe.identity[i], tl_probe.len[i], &d);
        dummy = rc == ST_REG_OK;
        *opened += dummy ? d.psk_len > 0 : rc == ST_REG_ECRYPTO;
    }
    int have_d = found || dummy;
    /* The group read happens on every path. */
    rc = st_reg_group_get(r, have_d ? d.tenant : "", have_d ? d.group : "", &g);
    *opened += rc == ST_REG_OK ? g.bmk_len > 0 : rc == ST_REG_ECRYPTO;
    if (reason == ST_GW_AUTH_OK) {
        if (rc != ST_REG_OK)
            reason = ST_GW_AUTH_STORE;
        else if (!(g.auth_methods & ST_REG_AUTH_PSK))
            reason = ST_GW_AUTH_METHOD;
    }
    if (rc == ST_REG_OK)
        st_reg_group_clear(&g);
    if (reason == ST_GW_AUTH_OK) {
        memcpy(key, d.psk, d.psk_len);
        *key_len = d.psk_len;
        unsigned i = tl_probe.n < PROBE_RING ? tl_probe.n++ : probe_pick();
        memcpy(tl_probe.identity[i], identity, len);
        tl_probe.identity[i][len] = '\0';
        tl_probe.len[i] = (unsigned char)len;
    }
    if (have_d)
        st_reg_device_clear(&d);
    return reason;
}

int st_gw_psk_balance_init(struct st_gw_psk_balance *b, struct st_gw_kek *kek)
{
    uint8_t dummy[32];
    memset(b, 0, sizeof(*b));
    if (kek == NULL || RAND_bytes(dummy, sizeof(dummy)) != 1)
        return -1;
    b->kek = kek;
    int rc = st_gw_seal(kek, k_dummy_aad, sizeof(k_dummy_aad) - 1, dummy, sizeof(dummy),
                        b->sealed, sizeof(b->sealed), &b->sealed_len);
    st_wipe(dummy, sizeof(dummy));
    return rc == 0 ? 0 : -1;
}

int st_gw_psk_resolve_ct(struct st_reg *r, const uint8_t decoy_secret[32],
                         const struct st_gw_psk_balance *bal, const uint8_t *identity, size_t len,
                         uint8_t *key, size_t cap, size_t *key_len, struct st_gw_psk_result *res,
                         struct st_gw_auth_stats *stats)
{
    struct st_gw_batch_id bid;
    struct st_gw_psk_result r2;
    uint8_t k2[ST_REG_KEY_MAX], decoy[ST_GW_DECOY_LEN];
    size_t k2_len = 0;
    int reason, opened = 0;
    memset(res, 0, sizeof(*res));
    memset(&r2, 0, sizeof(r2));
    *key_len = 0;
    if (cap < ST_REG_KEY_MAX || identity == NULL || len == 0 || len > ST_REG_PSK_ID_MAX) {
        reason = ST_GW_AUTH_UNKNOWN_IDENTITY;
    } else if (looks_batch(identity, len)) {
        int prc = st_gw_batch_parse(identity, len, &bid);
        reason = resolve_batch(r, decoy_secret, identity, len, prc == ST_GW_BATCH_OK ? &bid : NULL,
                               key, key_len, res, &opened);
        /* A valid batch identity is never a stored one (the registry refuses
         * that syntax for stored PSKs), so it costs one lookup path only. An
         * identity with two ':' that is not a valid batch identity may still
         * be a stored one: looked up on every such path. */
        int rd = prc == ST_GW_BATCH_OK ? ST_GW_AUTH_UNKNOWN_IDENTITY
                                       : resolve_device(r, identity, len, k2, &k2_len, &r2,
                                                        &opened);
        if ((reason == ST_GW_AUTH_UNKNOWN_IDENTITY || reason == ST_GW_AUTH_BAD_BATCH_ID) &&
            rd != ST_GW_AUTH_UNKNOWN_IDENTITY) {
            reason = rd;
            *res = r2;
            if (rd == ST_GW_AUTH_OK) {
                memcpy(key, k2, k2_len);
                *key_len = k2_len;
            }
        }
    } else {
        reason = resolve_device(r, identity, len, key, key_len, res, &opened);
    }
    if (opened == 0)
        dummy_open(bal);
    /* The decoy is computed on every path; used only on refusal. */
    st_gw_psk_decoy(decoy_secret, identity ? identity : (const uint8_t *)"", identity ? len : 0,
                    decoy, sizeof(decoy));
    res->reason = reason;
    if (reason != ST_GW_AUTH_OK) {
        if (*key_len > 0)
            st_wipe(key, *key_len);
        *key_len = 0;
        if (cap >= sizeof(decoy)) {
            memcpy(key, decoy, sizeof(decoy));
            *key_len = sizeof(decoy);
        }
    }
    st_wipe(decoy, sizeof(decoy));
    st_wipe(k2, sizeof(k2));
    if (stats != NULL)
        atomic_fetch_add_explicit(&stats->by_reason[reason], 1, memory_order_relaxed);
    return reason == ST_GW_AUTH_OK;
}

int st_gw_psk_resolve(struct st_reg *r, const uint8_t decoy_secret[32], const uint8_t *identity,
                      size_t len, uint8_t *key, size_t cap, size_t *key_len,
                      struct st_gw_psk_result *res, struct st_gw_auth_stats *stats)
{
    return st_gw_psk_resolve_ct(r, decoy_secret, NULL, identity, len, key, cap, key_len, res,
                                stats);
}
