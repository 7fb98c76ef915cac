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

#include "kek.h"
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
    /* Reasons decided in the handshake itself (gw_auth.h): */
    ST_GW_AUTH_BAD_KEY,          /* PSK identity matched, handshake failed at Finished/binder */
    ST_GW_AUTH_CERT_UNKNOWN,     /* no device bound to the certificate's public key */
    ST_GW_AUTH_CERT_UNTRUSTED,   /* chain does not verify against the group's anchors */
    ST_GW_AUTH_CERT_EXPIRED,     /* a certificate of the chain is expired or not yet valid */
    ST_GW_AUTH_NO_CREDENTIAL,    /* neither a certificate nor a PSK identity */
    ST_GW_AUTH_HANDSHAKE,        /* protocol error before any credential was seen */
    ST_GW_AUTH_TIMEOUT,          /* handshake did not finish in time */
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

/*
 * Timing balance (issue 5: "the time to reject an unknown PSK identity does
 * not depend on whether it exists"). A hit costs registry reads plus one
 * AES-GCM open of the sealed key (or BMK) under the KEK; a miss costs an
 * index probe. st_gw_psk_resolve_ct() makes every outcome perform the same
 * sequence of work for an identity of a given shape (stored vs batch):
 * the same registry lookups (real or dummy), exactly one AES-GCM open (the
 * real sealed secret, or this sealed dummy of the same size under the same
 * KEK), one key derivation and one decoy computation; the key is then chosen
 * without a data-dependent branch on the secret bytes.
 *
 * Create the balance once per KEK (e.g. at context start); it holds no secret
 * (a random dummy sealed under the KEK) and is read-only afterwards.
 */
struct st_gw_psk_balance {
    struct st_gw_kek *kek; /* borrowed */
    uint8_t sealed[32 + ST_GW_SEAL_OVERHEAD];
    size_t sealed_len;
};

/* 0 or -1. */
int st_gw_psk_balance_init(struct st_gw_psk_balance *b, struct st_gw_kek *kek);

/* As st_gw_psk_resolve with the timing balance (bal may be NULL: no dummy
 * AES-GCM open, the other dummy work is still done). */
int st_gw_psk_resolve_ct(struct st_reg *r, const uint8_t decoy_secret[32],
                         const struct st_gw_psk_balance *bal, const uint8_t *identity, size_t len,
                         uint8_t *key, size_t cap, size_t *key_len, struct st_gw_psk_result *res,
                         struct st_gw_auth_stats *stats);

/* "ok", "unknown-identity", "bad-batch-identity", ... (for logs and metrics). */
const char *st_gw_auth_reason_name(int reason);

#endif
