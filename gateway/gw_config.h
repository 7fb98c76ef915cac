/*
 * Configuration of simtrust-gateway: one file of "key = value" lines plus
 * command-line flags that override it (--key=value, same names with '_' or
 * '-'). docs/gateway.md lists every key; `simtrust-gateway --help` too.
 *
 * File syntax: UTF-8 text; '#' starts a comment (whole line or after
 * whitespace); blank lines ignored; "key = value" with optional spaces around
 * '='; values are taken verbatim to the end of the line (trailing spaces
 * trimmed), optionally in double quotes. Unknown keys, duplicated keys, bad
 * values and lines over 4096 bytes are errors naming the file and line.
 * Durations take a unit: "250ms", "30s", "5m" (a bare number is seconds).
 *
 * Keys (default in brackets):
 *   tls_listen          host:port of TLS 1.2/1.3 over TCP ["0.0.0.0:8443"]; "" = off
 *   dtls_listen         host:port of DTLS 1.2 over UDP [""]; "" = off
 *   backend             host:port of the IoT server application (TCP) [required
 *                       unless the library is embedded with st_gw_app_ops]
 *   proxy_protocol      on|off: PROXY v2 header in front of each relayed connection [on]
 *   api_listen          host:port of the REST API (interface 4, HTTPS) [""]; "" = off
 *   api_cert, api_key   PEM certificate chain and key of the API [server_cert/key]
 *   api_tokens          tokens file (docs/gateway-api.md) [required with api_listen]
 *   api_plain_http      on|off: plain HTTP API (tests and loopback only) [off]
 *   metrics_listen      host:port of the Prometheus endpoint (plain HTTP) [""]
 *   registry            SQLite registry path ["/var/lib/simtrust/registry.db"]
 *   kek_file            key-encryption key file (kek.h) [""]
 *   kek_pkcs11_module   PKCS#11 module holding the KEK instead (kek.h), e.g.
 *                       /usr/lib/softhsm/libsofthsm2.so (SoftHSM2) [""]
 *                       Exactly one of kek_file and kek_pkcs11_module is set.
 *   kek_pkcs11_token    label of the token holding the KEK (<= 32 bytes) ["simtrust"]
 *   kek_pkcs11_key      CKA_LABEL of the KEK: AES-256, sensitive, never
 *                       extractable (simtrust-registry kek-init makes it) ["kek"]
 *   kek_pkcs11_pin_file file with the token's user PIN, mode 0600 [""; required
 *                       with kek_pkcs11_module]
 *   server_cert         PEM chain the gateway presents to devices [required for X.509]
 *   server_key          its private key (PEM) [required with server_cert]
 *   ca_dir              per-group CAs for CSR signing: <ca_dir>/<tenant>/<group>/ca.pem
 *                       + ca.key [""]; "" = CSR signing off
 *   cert_days           validity of certificates the CA service issues [365]
 *   workers             data-plane threads (0 = number of CPUs) [0]
 *   max_connections     per worker; beyond it new connections are refused [50000]
 *   handshake_timeout   accept to handshake done [60s] (SIMs take seconds per step)
 *   idle_timeout        no data either way [300s]
 *   backend_timeout     connect to the backend [5s]
 *   dtls_mtu            path MTU for DTLS records [1200]
 *   tls_min_version     1.2 | 1.3 [1.2]
 *   psk_dhe_only        on|off: TLS 1.3 PSK only with (EC)DHE (psk_dhe_ke) [on]
 *   log_level           error|warn|info|debug [info]
 *   log_format          text|json [text]
 *
 * Reload (SIGHUP): every key except the listen addresses, registry, the kek_*
 * keys and workers takes effect for new connections; live ones keep their
 * settings.
 */
#ifndef SIMTRUST_GW_CONFIG_H
#define SIMTRUST_GW_CONFIG_H

#include <stddef.h>

#define ST_GW_ADDR_MAX 128
#define ST_GW_PATH_MAX 1024

struct st_gw_config {
    char tls_listen[ST_GW_ADDR_MAX];
    char dtls_listen[ST_GW_ADDR_MAX];
    char backend[ST_GW_ADDR_MAX];
    int proxy_protocol;
    char api_listen[ST_GW_ADDR_MAX];
    char api_cert[ST_GW_PATH_MAX];
    char api_key[ST_GW_PATH_MAX];
    char api_tokens[ST_GW_PATH_MAX];
    int api_plain_http;
    char metrics_listen[ST_GW_ADDR_MAX];
    char registry[ST_GW_PATH_MAX];
    char kek_file[ST_GW_PATH_MAX];
    char kek_pkcs11_module[ST_GW_PATH_MAX];
    char kek_pkcs11_token[33]; /* PKCS#11 token labels are 32 bytes */
    char kek_pkcs11_key[ST_GW_ADDR_MAX];
    char kek_pkcs11_pin_file[ST_GW_PATH_MAX];
    char server_cert[ST_GW_PATH_MAX];
    char server_key[ST_GW_PATH_MAX];
    char ca_dir[ST_GW_PATH_MAX];
    int cert_days;
    int workers;
    int max_connections;
    int handshake_timeout_ms;
    int idle_timeout_ms;
    int backend_timeout_ms;
    int dtls_mtu;
    int tls_min_version;  /* 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3) */
    int psk_dhe_only;
    int log_level;        /* enum st_log_level */
    int log_json;
};

/* Fills the defaults listed above. */
void st_gw_config_defaults(struct st_gw_config *c);

/* Reads a config file over c (call st_gw_config_defaults first).
 * 0 or -1 with "file:line: reason" in err. */
int st_gw_config_load(const char *path, struct st_gw_config *c, char *err, size_t errcap);

/* Parses a buffer (the file's content; name is used in messages). */
int st_gw_config_parse(const char *name, const char *buf, size_t len, struct st_gw_config *c,
                       char *err, size_t errcap);

/* Sets one key (from a flag: '-' and '_' are the same). 0 or -1 (err). */
int st_gw_config_set(struct st_gw_config *c, const char *key, const char *value, char *err,
                     size_t errcap);

/* Cross-field checks after file + flags (a key and its cert, a backend, ...). */
int st_gw_config_check(const struct st_gw_config *c, int embedded_app, char *err, size_t errcap);

/* Splits "host:port", "[v6]:port" or ":port" (host "" = any). 0 or -1. */
int st_gw_addr_split(const char *addr, char *host, size_t hostcap, unsigned *port);

#endif
