/*
 * JSON <-> registry record mapping of the gateway REST API and validation of
 * request bodies (docs/openapi/gateway-api.yaml, schemas Group, Device,
 * CertificateRequest). Pure functions (no I/O, no registry access) so that
 * fuzz/fuzz_gw_api_json.c drives exactly what the server runs.
 *
 * Every refusal carries a message naming the field ("state: expected one of
 * enabled, disabled, revoked"). Secrets (psk, batch.bmk) are write-only: the
 * output mappings never emit them, and the input mappings wipe the hex strings
 * they read from the parsed document.
 */
#ifndef SIMTRUST_GW_API_JSON_H
#define SIMTRUST_GW_API_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "registry.h"

#define ST_GW_PEM_MAX (256 * 1024) /* certificate / trust anchor / CSR PEM text */

/* Parses a request body that must be one JSON object (no trailing data,
 * no NUL bytes inside strings). NULL with "invalid JSON at line L column C:
 * reason" or "body must be a JSON object" in err. */
json_t *st_gw_json_object(const char *buf, size_t len, char *err, size_t errcap);

/*
 * Group body -> record. g must be zeroed by the caller with tenant and id set
 * (id = the path's; a body "id" must equal it). old is the stored record
 * (with its BMK opened) or NULL: a batch without "bmk" keeps old's BMK.
 * 0 or -1 (err).
 */
int st_gw_json_group(json_t *in, const struct st_reg_group *old, struct st_reg_group *g,
                     char *err, size_t errcap);

/* Record -> JSON (never the BMK). NULL on out of memory. */
json_t *st_gw_json_from_group(const struct st_reg_group *g);

/*
 * Device body -> record.
 *   PUT (patch 0): d is zeroed by the caller with tenant and id set; the body
 *     replaces every field; "psk" absent keeps old's PSK (when the new record
 *     has a PSK identity), "psk": null removes it.
 *   PATCH (patch 1, JSON merge patch, RFC 7386): d holds a copy of the stored
 *     record (st_gw_device_copy); present fields replace, null removes.
 * 0 or -1 (err).
 */
int st_gw_json_device(json_t *in, int patch, const struct st_reg_device *old,
                      struct st_reg_device *d, char *err, size_t errcap);

/* Record -> JSON ("has_psk" instead of the PSK). NULL on out of memory. */
json_t *st_gw_json_from_device(const struct st_reg_device *d);

/* Deep copy of a device record (cert_pem duplicated). 0 or -1 (out of memory). */
int st_gw_device_copy(struct st_reg_device *dst, const struct st_reg_device *src);

/* CA Certificate Request body: {"csr": PEM, "device_id": optional}. Borrowed
 * pointers into in. 0 or -1 (err). */
int st_gw_json_csr_request(json_t *in, const char **csr, size_t *csr_len, const char **device_id,
                           char *err, size_t errcap);

/* Lower-case hex of n bytes into out[2n+1]. */
void st_gw_hex_lower(const unsigned char *in, size_t n, char *out);

/* SHA-256 of the DER SubjectPublicKeyInfo of a PEM certificate, and the
 * certificate re-encoded as canonical PEM (*canon malloc'ed). 0 or -1 (err). */
int st_gw_cert_spki(const char *pem, size_t len, unsigned char spki_sha256[32], char **canon,
                    char *err, size_t errcap);

#endif
