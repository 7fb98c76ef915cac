/*
 * Device authentication inside the (D)TLS handshake (IoT.04 M1, M2, M3;
 * scenarios 1-6 server side). Decided per device group (registry.h):
 *
 *   X.509 (scenarios 1, 2, 6): the client certificate's SubjectPublicKeyInfo
 *     SHA-256 finds the device record (binding); the device must be enabled,
 *     its group must allow X.509, and the chain must verify against THAT
 *     group's trust anchors only (not a global CA pool). Decided in the
 *     certificate verification callback, so a revoked or disabled device is
 *     refused during the handshake (alert, no application data ever flows).
 *   Stored PSK (scenarios 3, 4) and batch-derived PSK (scenario 5): the PSK
 *     identity from the ClientHello goes through st_gw_psk_resolve() (TLS 1.2
 *     psk_server_callback, TLS 1.3 psk_find_session_callback; TLS 1.3 PSK
 *     requires (EC)DHE when psk_dhe_only, never 0-RTT). A refused identity
 *     gets a decoy key: the handshake fails at Finished exactly like a wrong
 *     key, and the time taken does not depend on whether the identity exists.
 *
 * Threading: one st_gw_auth_ctx is shared by every worker (read-only after
 * creation apart from its internal, locked trust-store cache). Each SSL
 * carries its worker's registry handle (one st_reg per thread) and its
 * st_gw_auth record, both set by st_gw_auth_attach().
 */
#ifndef SIMTRUST_GW_AUTH_H
#define SIMTRUST_GW_AUTH_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_config.h"
#include "gw_metrics.h"
#include "psk_resolve.h"
#include "registry.h"

/* What the handshake established about the peer (valid after it finished). */
struct st_gw_auth {
    int method;                  /* enum st_gw_method; NONE until a credential matched */
    int reason;                  /* enum st_gw_auth_reason; ST_GW_AUTH_OK when accepted */
    char tenant[ST_REG_ID_MAX + 1];
    char device_id[ST_REG_ID_MAX + 1];
    char group[ST_REG_ID_MAX + 1];
    char iccid[21];
    char psk_identity[ST_REG_PSK_ID_MAX + 1]; /* printable-escaped for logs */
    char subject_cn[65];         /* client certificate CN, "" if none */
    char sni[256];               /* server name the device sent, "" if none */
};

struct st_gw_auth_ctx;

/*
 * Creates the shared context from the configuration: server certificate and
 * key (may be absent: then only PSK suites are offered), TLS versions,
 * psk_dhe_only. A fresh random decoy secret is generated. metrics may be
 * NULL. Returns NULL with a message in err.
 */
struct st_gw_auth_ctx *st_gw_auth_ctx_new(const struct st_gw_config *cfg,
                                          struct st_gw_metrics *metrics, char *err,
                                          size_t errcap);
void st_gw_auth_ctx_free(struct st_gw_auth_ctx *a);

/*
 * A server SSL_CTX for TLS 1.2/1.3 (dtls = 0) or DTLS 1.2 (dtls = 1) with the
 * PSK callbacks, the certificate verification callback (client certificate
 * requested, not required: PSK devices send none), no session tickets for
 * PSK, no 0-RTT, SSL_MODE_RELEASE_BUFFERS. For DTLS the cookie callbacks
 * (HMAC of the peer address under a per-context secret) are installed.
 * The SSL_CTX holds a reference to a (caller keeps a freeing order: free
 * SSL_CTXs before the auth ctx). NULL with a message in err.
 */
SSL_CTX *st_gw_auth_ssl_ctx(struct st_gw_auth_ctx *a, int dtls, char *err, size_t errcap);

/*
 * Per connection, before the handshake: binds the worker's registry handle
 * (borrowed: must outlive the SSL) and allocates the st_gw_auth record (freed
 * with the SSL). 0 or -1.
 */
int st_gw_auth_attach(SSL *ssl, struct st_reg *reg);

/* The connection's record (NULL if not attached). */
const struct st_gw_auth *st_gw_auth_get(const SSL *ssl);

/*
 * Called once per connection by the data plane when the handshake ended:
 * ok = 1 success, 0 failure (ssl_error: the OpenSSL reason string or
 * "timeout", "closed", "protocol"). Finalises the reason (a PSK handshake
 * that failed at Finished after a matched identity is "bad-key"; a refused
 * identity keeps its own reason), counts metrics, and logs one line:
 *   info  "handshake ok method=psk device=... group=... tenant=... peer=... ms=..."
 *   warn  "handshake refused reason=revoked method=x509 device=... peer=... error=..."
 * Identities are logged escaped; no key material is ever logged.
 * Returns the final reason.
 */
int st_gw_auth_finish(SSL *ssl, int ok, const char *ssl_error, const char *peer,
                      double seconds);

#endif
