/*
 * CA Certificate Request service of the gateway (IoT.04 3.3.2.2.2, M4/M6):
 * the middleware acts as registration authority and signs a device's CSR with
 * the CA of the device's group.
 *
 * Group CAs live in <ca_dir>/<tenant>/<group>/ca.pem (the CA certificate,
 * optionally followed by its chain) and ca.key (its private key, PEM). Tenant
 * and group IDs that are not safe path components (empty, ".", "..", a leading
 * '.', '/', '\\') have no CA.
 *
 * Policy of an issued certificate: the CSR's self-signature must verify (proof
 * of possession) and its key must be EC (P-256/P-384/P-521), Ed25519 or RSA of
 * at least 2048 bits; subject = CN=<device ID> when one is given, else the
 * CSR's CN (required); no other subject attribute or extension is copied from
 * the CSR; serial = 16 random bytes (positive); validity now .. now + days;
 * basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
 * clientAuth (all critical except EKU), subject and authority key identifiers.
 */
#ifndef SIMTRUST_GW_CA_H
#define SIMTRUST_GW_CA_H

#include <stddef.h>

enum st_gw_ca_rc {
    ST_GW_CA_OK = 0,
    ST_GW_CA_ENOCA = -1,  /* the group has no (usable) CA */
    ST_GW_CA_ECSR = -2,   /* CSR malformed, signature wrong, key refused, no CN */
    ST_GW_CA_ERR = -3,    /* internal error */
};

struct st_gw_ca_issued {
    char *chain_pem;           /* leaf PEM followed by ca.pem (malloc'ed) */
    char *leaf_pem;            /* the leaf alone (malloc'ed) */
    unsigned char spki_sha256[32];
    char serial_hex[33];
};

/* Signs csr_pem[csr_len]. device_id may be NULL (then the CSR's CN is the
 * subject). Returns enum st_gw_ca_rc with a message in err (never secret). */
int st_gw_ca_sign(const char *ca_dir, const char *tenant, const char *group, const char *csr_pem,
                  size_t csr_len, const char *device_id, int days, struct st_gw_ca_issued *out,
                  char *err, size_t errcap);

void st_gw_ca_issued_clear(struct st_gw_ca_issued *c);

/* 1 when s is usable as a directory name under ca_dir. */
int st_gw_ca_path_ok(const char *s);

#endif
