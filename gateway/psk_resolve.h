/*
 * Handshake-path PSK resolution for the gateway (IoT.04 M1/M2, scenarios 3, 4
 * and 5; 3.3.2.2.3 Get PSK Data). Given the identity from the ClientHello it
 * returns the key to finish the handshake with:
 *
 *   1. identity parses as <vendor>:<batch>:<ICCID> and a batch group exists:
 *      allow-list (if the group has one), device state (a device row for the
 *      ICCID, if any, must be enabled), then eUK = KDF(BMK, identity);
 *   2. otherwise the device whose PSK identity it is: group must allow PSK,
 *      device enabled, PSK present.
 *
 * Every refusal still yields a key: a decoy (st_gw_psk_decoy under a process
 * secret), so the daemon continues the handshake and it fails at Finished
 * exactly like a wrong key; the peer never learns which check failed. The
 * reason is returned for the log line and counted per reason.
 */
#ifndef SIMTRUST_GW_PSK_RESOLVE_H
#define SIMTRUST_GW_PSK_RESOLVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"

enum st_gw_auth_reason {
    ST_GW_AUTH_OK = 0,
    ST_GW_AUTH_UNKNOWN_IDENTITY, /* no device, no batch group */
    ST_GW_AUTH_BAD_BATCH_ID,     /* looks like vendor:batch:iccid but is malformed */
    ST_GW_AUTH_NOT_ALLOWED,      /* ICCID not on the batch allow-list */
    ST_GW_AUTH_DISABLED,         /* device disabled */
    ST_GW_AUTH_REVOKED,          /* device revoked */
    ST_GW_AUTH_METHOD,           /* group does not allow PSK */
    ST_GW_AUTH_NO_KEY,           /* device has no PSK yet */
    ST_GW_AUTH_STORE,            /* storage error or sealed key fails to open */
    ST_GW_AUTH_REASONS
};

/* Counters per reason (atomic: shared by the daemon's threads). */
struct st_gw_auth_stats {
    atomic_uint_fast64_t by_reason[ST_GW_AUTH_REASONS];
};

struct st_gw_psk_result {
    int reason;                 /* enum st_gw_auth_reason */
    int batch;                  /* 1: batch-derived (scenario 5) */
    char tenant[ST_REG_ID_MAX + 1];
    char device_id[ST_REG_ID_MAX + 1];
    char group[ST_REG_ID_MAX + 1];
    char iccid[21];
};

#define ST_GW_DECOY_LEN 32

/*
 * Resolves identity[len]. Always fills key[*key_len] (cap >= ST_REG_KEY_MAX):
 * the device's key when res->reason == ST_GW_AUTH_OK (returns 1), a decoy
 * otherwise (returns 0). stats may be NULL. The caller wipes key.
 */
int st_gw_psk_resolve(struct st_reg *r, const uint8_t decoy_secret[32], const uint8_t *identity,
                      size_t len, uint8_t *key, size_t cap, size_t *key_len,
                      struct st_gw_psk_result *res, struct st_gw_auth_stats *stats);

/* "ok", "unknown-identity", "bad-batch-identity", ... (for logs and metrics). */
const char *st_gw_auth_reason_name(int reason);

#endif
