/*
 * simtrust provider: PSK mode for libssl (docs/provider.md "PSK mode").
 *
 * The PSK stays in the card's secret key object (IoT.04 I9, J2): libssl is
 * given a per-process random placeholder instead of the PSK, and the
 * provider's TLS1-PRF / TLS13-KDF recognise it and run COMPUTE PRF (modes 01
 * PSK, 02 PSK-ECDHE) or COMPUTE HKDF extract on the card with the secret
 * object as the key (F5, F6, J4, J5). The PSK identity is the file object
 * with the secret key's label (J3, K1; docs/profile.md), read once.
 *
 * The SSL_CTX must fetch from a library context where the simtrust provider
 * is loaded, with the property query "?provider=simtrust" (SSL_CTX_new_ex),
 * so that TLS1-PRF / TLS13-KDF come from the provider.
 */
#ifndef SIMTRUST_PROV_PSK_H
#define SIMTRUST_PROV_PSK_H

#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TLS 1.2 / DTLS 1.2 suites whose PRF is SHA-256 (the card's PRF), ECDHE-PSK first. */
#define ST_PROV_PSK_TLS12_CIPHERS                                                             \
    "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:PSK-AES128-GCM-SHA256:"          \
    "PSK-CHACHA20-POLY1305:PSK-AES128-CBC-SHA256"
/* TLS 1.3 suites with SHA-256 (the external PSK is bound to SHA-256). */
#define ST_PROV_PSK_TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"

/*
 * Puts ctx in PSK mode with the card's secret key object psk_label (1-60
 * characters): installs the TLS 1.2 psk_client_callback and the TLS 1.3
 * psk_use_session_callback (external PSK, SHA-256, psk_dhe_ke) and restricts
 * the cipher lists to ST_PROV_PSK_TLS12_CIPHERS / ST_PROV_PSK_TLS13_CIPHERS
 * (call SSL_CTX_set_cipher_list / SSL_CTX_set_ciphersuites afterwards to
 * narrow them further). The identity is read from the card at the first
 * handshake. Returns 1, or 0 with an OpenSSL error queued.
 */
int st_prov_psk_use(SSL_CTX *ctx, const char *psk_label);

#ifdef __cplusplus
}
#endif
#endif
