/*
 * PROXY protocol version 2 header (haproxy.org proxy-protocol.txt, section 2.2)
 * written by the gateway in front of each relayed connection, so the IoT server
 * application learns who the authenticated device is (IoT.04 N1, N2: the
 * application uses the middleware's (D)TLS services through this interface).
 *
 * TLV numbers (docs/gateway-batch-psk.md, "PROXY v2 TLVs"):
 *   0x02 PP2_TYPE_AUTHORITY   SNI the device sent
 *   0x05 PP2_TYPE_UNIQUE_ID   gateway connection ID
 *   0x20 PP2_TYPE_SSL         client flags, verify result, sub-TLVs
 *        0x21 VERSION ("TLSv1.3"), 0x22 CN, 0x23 CIPHER, 0x24 SIG_ALG, 0x25 KEY_ALG
 *   0xE0 ST_PP2_TYPE_DEVICE_ID   registry device ID (UTF-8)
 *   0xE1 ST_PP2_TYPE_GROUP       device group ID (UTF-8)
 *   0xE2 ST_PP2_TYPE_AUTH_METHOD "x509" | "psk" | "batch-psk"
 *   0xE3 ST_PP2_TYPE_ICCID       ICCID digits
 *   0xE4 ST_PP2_TYPE_TENANT      tenant ID (UTF-8)
 * Unknown TLVs are skipped by the parser, as the specification requires.
 */
#ifndef SIMTRUST_GW_PROXY_V2_H
#define SIMTRUST_GW_PROXY_V2_H

#include <stddef.h>
#include <stdint.h>

#define ST_PP2_SIG_LEN 12
#define ST_PP2_HDR_LEN 16
#define ST_PP2_MAX_LEN (ST_PP2_HDR_LEN + 65535)

#define ST_PP2_TYPE_ALPN 0x01
#define ST_PP2_TYPE_AUTHORITY 0x02
#define ST_PP2_TYPE_CRC32C 0x03
#define ST_PP2_TYPE_NOOP 0x04
#define ST_PP2_TYPE_UNIQUE_ID 0x05
#define ST_PP2_TYPE_SSL 0x20
#define ST_PP2_SUBTYPE_SSL_VERSION 0x21
#define ST_PP2_SUBTYPE_SSL_CN 0x22
#define ST_PP2_SUBTYPE_SSL_CIPHER 0x23
#define ST_PP2_SUBTYPE_SSL_SIG_ALG 0x24
#define ST_PP2_SUBTYPE_SSL_KEY_ALG 0x25
#define ST_PP2_TYPE_DEVICE_ID 0xE0
#define ST_PP2_TYPE_GROUP 0xE1
#define ST_PP2_TYPE_AUTH_METHOD 0xE2
#define ST_PP2_TYPE_ICCID 0xE3
#define ST_PP2_TYPE_TENANT 0xE4

#define ST_PP2_CLIENT_SSL 0x01
#define ST_PP2_CLIENT_CERT_CONN 0x02
#define ST_PP2_CLIENT_CERT_SESS 0x04

enum st_pp2_result {
    ST_PP2_OK = 0,
    ST_PP2_NEED_MORE = 1,   /* parser: header incomplete, read more bytes */
    ST_PP2_EINVAL = -1,     /* writer: bad argument (family, oversized value) */
    ST_PP2_ENOSPC = -2,     /* writer: caller buffer too small */
    ST_PP2_ESIG = -3,       /* parser: not a PROXY v2 signature */
    ST_PP2_EVERSION = -4,   /* parser: version or command unknown */
    ST_PP2_EFAMILY = -5,    /* parser: unsupported family/transport, or address block short */
    ST_PP2_ETLV = -6,       /* parser: TLV overruns, duplicated or malformed */
};

/* A byte string; p == NULL means absent. Parsed values point into the input. */
struct st_pp2_bytes {
    const uint8_t *p;
    size_t n;
};

enum st_pp2_family { ST_PP2_UNSPEC = 0, ST_PP2_INET = 1, ST_PP2_INET6 = 2 };
enum st_pp2_transport { ST_PP2_UNSPEC_T = 0, ST_PP2_STREAM = 1, ST_PP2_DGRAM = 2 };

struct st_pp2_info {
    int local;          /* 1: LOCAL command (health checks); addresses ignored */
    int family;         /* st_pp2_family */
    int transport;      /* st_pp2_transport */
    uint8_t src_addr[16], dst_addr[16]; /* network order; 4 bytes used for INET */
    uint16_t src_port, dst_port;        /* host order */

    struct st_pp2_bytes authority, unique_id;
    int ssl;            /* 1: write PP2_TYPE_SSL */
    uint8_t ssl_client; /* ST_PP2_CLIENT_* bits */
    uint32_t ssl_verify; /* 0 = client certificate verified */
    struct st_pp2_bytes ssl_version, ssl_cn, ssl_cipher, ssl_sig_alg, ssl_key_alg;

    struct st_pp2_bytes device_id, group, auth_method, iccid, tenant;
};

/* Builds a st_pp2_bytes from a C string (NULL stays absent). */
struct st_pp2_bytes st_pp2_str(const char *s);

/* Writes the header into buf[cap]; *out_len = its size. Nothing is promised
 * about buf on error. Returns ST_PP2_OK, ST_PP2_EINVAL or ST_PP2_ENOSPC. */
int st_pp2_write(const struct st_pp2_info *info, uint8_t *buf, size_t cap, size_t *out_len);

/* Parses a header at the start of buf[len]. On ST_PP2_OK *consumed is the
 * header size and *info describes it (pointers into buf). ST_PP2_NEED_MORE
 * when buf is a valid prefix. Negative st_pp2_result on malformed input. */
int st_pp2_parse(const uint8_t *buf, size_t len, struct st_pp2_info *info, size_t *consumed);

#endif
