/*
 * simtrust-gateway: the IoT server middleware of IoT.04 (3.2.5). Terminates
 * TLS/DTLS for every device, authenticates each one by what its SIM holds
 * (scenarios 1-6 server side, M1-M3), relays the plaintext to the IoT server
 * application with a PROXY v2 header naming the device (N1, N2), and serves
 * interface 4 (3.3.2.2) plus Prometheus metrics.
 *
 * This file is the glue: configuration (file + flags), the KEK, metrics,
 * data plane and API start-up, the ready line, signals (SIGTERM/SIGINT stop,
 * SIGHUP reload) and exit status (0 clean stop, 1 runtime or configuration
 * error, 2 usage).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "gw_api.h"
#include "gw_config.h"
#include "gw_metrics.h"
#include "gw_server.h"
#include "kek.h"
#include "st_log.h"

#ifndef ST_VERSION
#define ST_VERSION "0.1.0"
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* Every configuration key as a flag, with its argument and help. The order
 * is the one of --help and docs/gateway.md. */
struct opt {
    const char *key;
    const char *arg;
    const char *def;
    const char *help;
};

static const struct opt opts[] = {
    {"tls_listen", "ADDR", "0.0.0.0:8443",
     "TLS 1.2/1.3 listener (TCP) for devices; \"\" turns it off."},
    {"dtls_listen", "ADDR", "\"\" (off)", "DTLS 1.2 listener (UDP) for devices."},
    {"backend", "ADDR", "(required)",
     "The IoT server application every authenticated connection is relayed to (TCP)."},
    {"proxy_protocol", "on|off", "on",
     "Send a PROXY v2 header (device ID, group, method, ICCID, tenant, TLS details) first."},
    {"api_listen", "ADDR", "\"\" (off)", "REST API (interface 4), HTTPS."},
    {"api_cert", "FILE", "server_cert", "PEM certificate chain of the API."},
    {"api_key", "FILE", "server_key", "Private key of the API (PEM)."},
    {"api_tokens", "FILE", "(required with api_listen)",
     "Bearer tokens file: token, tenant, roles (docs/gateway-api.md)."},
    {"api_plain_http", "on|off", "off", "Plain HTTP API; only on a loopback api_listen."},
    {"metrics_listen", "ADDR", "\"\" (off)", "Prometheus endpoint /metrics (plain HTTP)."},
    {"registry", "FILE", "/var/lib/simtrust/registry.db", "SQLite device registry."},
    {"kek_file", "FILE", "\"\"",
     "Key-encryption key of the registry's secrets: 32 raw bytes or 64 hex digits, mode 0600.\n"
     "        Exactly one of --kek-file and --kek-pkcs11-module is required."},
    {"kek_pkcs11_module", "FILE", "\"\"",
     "PKCS#11 module holding the key-encryption key instead of a file, e.g.\n"
     "        /usr/lib/softhsm/libsofthsm2.so (SoftHSM2) or an HSM vendor's module. The KEK\n"
     "        is an AES-256 key inside the token, sensitive and never extractable; sealing\n"
     "        and opening (AES-GCM) run in the token. Create it with\n"
     "        `simtrust-registry kek-init`. SoftHSM2 reads SOFTHSM2_CONF from the environment."},
    {"kek_pkcs11_token", "LABEL", "simtrust", "Label of the PKCS#11 token holding the KEK."},
    {"kek_pkcs11_key", "LABEL", "kek", "CKA_LABEL of the KEK on that token."},
    {"kek_pkcs11_pin_file", "FILE", "(required with kek_pkcs11_module)",
     "File holding the token's user PIN (one line), mode 0600."},
    {"server_cert", "FILE", "\"\"",
     "PEM chain the gateway presents to devices (needed for X.509 devices)."},
    {"server_key", "FILE", "\"\"", "Its private key (PEM)."},
    {"ca_dir", "DIR", "\"\" (off)",
     "Per-group CAs for CSR signing: DIR/<tenant>/<group>/ca.pem + ca.key."},
    {"cert_days", "N", "365", "Validity of certificates the CA service issues."},
    {"workers", "N", "0", "Data-plane threads; 0 = one per CPU."},
    {"max_connections", "N", "50000", "Per worker; beyond it new connections are refused."},
    {"handshake_timeout", "DUR", "60s",
     "Accept to handshake done (SIM operations take seconds per step)."},
    {"idle_timeout", "DUR", "300s", "Close a connection with no data either way."},
    {"backend_timeout", "DUR", "5s", "Connecting to the backend."},
    {"dtls_mtu", "N", "1200", "Path MTU for DTLS records."},
    {"tls_min_version", "1.2|1.3", "1.2", "Lowest (D)TLS version accepted (DTLS is 1.2)."},
    {"psk_dhe_only", "on|off", "on", "TLS 1.3 PSK only with (EC)DHE (psk_dhe_ke); never 0-RTT."},
    {"log_level", "LEVEL", "info", "error, warn, info or debug."},
    {"log_format", "text|json", "text", "json: one JSON object per line on stderr."},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void help(FILE *f)
{
    fputs("NAME\n"
          "    simtrust-gateway - SIM-authenticated (D)TLS gateway in front of an IoT server\n"
          "                       application (GSMA IoT.04 IoT server middleware)\n"
          "\n"
          "SYNOPSIS\n"
          "    simtrust-gateway [--config FILE] [--KEY VALUE | --KEY=VALUE]...\n"
          "    simtrust-gateway --check-config [--config FILE] [--KEY VALUE]...\n"
          "    simtrust-gateway --help | --version\n"
          "\n"
          "DESCRIPTION\n"
          "    Terminates TLS 1.2/1.3 over TCP and DTLS 1.2 over UDP for IoT devices whose\n"
          "    credentials live in their SIM, and authenticates every device against its\n"
          "    device group in the registry, during the handshake:\n"
          "      - X.509 (IoT.04 scenarios 1, 2, 6): the client certificate must chain to\n"
          "        the group's own trust anchors and be bound to an enabled device record;\n"
          "      - stored PSK (scenarios 3, 4): TLS 1.2 PSK/ECDHE-PSK, TLS 1.3 PSK-DHE;\n"
          "      - batch-derived PSK (scenario 5): identity \"<vendor>:<batch>:<ICCID>\",\n"
          "        eUK = KDF(batch master key, identity) computed on the fly.\n"
          "    A revoked or disabled device is refused inside the handshake; failures are\n"
          "    logged with the reason and counted, and look the same to the peer.\n"
          "\n"
          "    Each authenticated connection is relayed to the backend (the IoT server\n"
          "    application) over TCP, preceded by a PROXY protocol v2 header whose TLVs\n"
          "    carry the device ID, group, tenant, authentication method and ICCID, so the\n"
          "    application knows which device is talking without doing any TLS itself.\n"
          "\n"
          "    The REST API (interface 4, server side) manages tenants' groups and devices,\n"
          "    imports factory delivery records (Annex C.1), signs CSRs and serves PSK data;\n"
          "    /metrics exposes Prometheus counters.\n"
          "\n"
          "    Settings come from the defaults, then the --config file, then the flags\n"
          "    (a flag wins). File syntax: \"key = value\" lines, '#' comments, values\n"
          "    optionally in double quotes. ADDR is HOST:PORT, [IPv6]:PORT or :PORT (any\n"
          "    host); port 0 picks a free port (see the ready line). DUR is a number with\n"
          "    a unit: 250ms, 30s, 5m (a bare number is seconds).\n"
          "\n"
          "OPTIONS\n"
          "    --config FILE\n"
          "        Read settings from FILE (re-read on SIGHUP).\n"
          "    --check-config\n"
          "        Validate the settings (and that the certificate files can be read and\n"
          "        the KEK opened: the file read, or the token logged into and the key\n"
          "        found and tried), print \"configuration OK\" and exit.\n"
          "    -h, --help\n"
          "        This text.\n"
          "    -V, --version\n"
          "        Print the version.\n"
          "\n"
          "    Every configuration key is also a flag; '_' and '-' are the same\n"
          "    (--tls-listen or --tls_listen). [default]\n",
          f);
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "%s", opts[i].key);
        for (char *p = flag; *p != '\0'; p++)
            if (*p == '_')
                *p = '-';
        fprintf(f, "    --%s %s  [%s]\n        %s\n", flag, opts[i].arg, opts[i].def,
                opts[i].help);
    }
    fputs("\n"
          "OUTPUT\n"
          "    When every listener is up, one line goes to stdout (flushed), with the\n"
          "    ports actually bound (\"off\" for a disabled listener):\n"
          "      simtrust-gateway: tls=127.0.0.1:40123 dtls=off api=127.0.0.1:40125 "
          "metrics=127.0.0.1:40127\n"
          "    Logs go to stderr, as text or JSON lines (log_format).\n"
          "\n"
          "FILES\n"
          "    /etc/simtrust/gateway.conf       conventional --config file\n"
          "    /var/lib/simtrust/registry.db    device registry (SQLite)\n"
          "    kek_file                         32-byte key-encryption key, mode 0600\n"
          "    kek_pkcs11_pin_file              user PIN of the KEK's token, mode 0600\n"
          "    api_tokens                       API bearer tokens (docs/gateway-api.md)\n"
          "\n"
          "SIGNALS\n"
          "    SIGTERM, SIGINT  stop accepting, close every connection, exit 0.\n"
          "    SIGHUP           re-read the config file (and flags) and apply it to new\n"
          "                     connections: certificates, versions, PSK policy, backend,\n"
          "                     timeouts, limits, API tokens, CA directory, logging.\n"
          "                     Listen addresses, registry and workers need a restart.\n"
          "                     Live connections are kept; on error the old settings\n"
          "                     stay and the error is logged.\n"
          "\n"
          "EXIT STATUS\n"
          "    0  clean stop (or --check-config OK, --help, --version)\n"
          "    1  configuration or runtime error\n"
          "    2  usage error (unknown option, missing or bad flag value)\n"
          "\n"
          "EXAMPLES\n"
          "    Check a configuration:\n"
          "      simtrust-gateway --config /etc/simtrust/gateway.conf --check-config\n"
          "    Run on loopback with ephemeral ports (tests, the demo):\n"
          "      simtrust-gateway --kek-file kek --registry reg.db --backend 127.0.0.1:9000 \\\n"
          "        --server-cert gw.pem --server-key gw.key --tls-listen 127.0.0.1:0 \\\n"
          "        --api-listen 127.0.0.1:0 --api-tokens tokens --metrics-listen 127.0.0.1:0\n"
          "    The KEK in SoftHSM2 (a token \"simtrust\", the key generated inside it):\n"
          "      export SOFTHSM2_CONF=/etc/softhsm/softhsm2.conf\n"
          "      softhsm2-util --init-token --free --label simtrust --pin \"$PIN\" \\\n"
          "        --so-pin \"$SO_PIN\"\n"
          "      (umask 077; printf '%s\\n' \"$PIN\" >/etc/simtrust/hsm.pin)\n"
          "      simtrust-registry kek-init --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \\\n"
          "        --pkcs11-token simtrust --pkcs11-key kek --pkcs11-pin-file /etc/simtrust/hsm.pin\n"
          "      simtrust-gateway --kek-pkcs11-module /usr/lib/softhsm/libsofthsm2.so \\\n"
          "        --kek-pkcs11-pin-file /etc/simtrust/hsm.pin --registry reg.db ...\n"
          "    Reload after editing the file:\n"
          "      kill -HUP $(pidof simtrust-gateway)\n"
          "\n"
          "SEE ALSO\n"
          "    docs/gateway.md, docs/gateway-api.md, simtrust-registry(1),\n"
          "    simtrust-factory(1), simtrust-demo-app(1)\n",
          f);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("simtrust-gateway: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'simtrust-gateway --help'.\n", stderr);
}

/* The command line, kept for reloads (flags apply again over the file). */
struct cmdline {
    const char *config;
    int check;
    int nflags;
    const char **keys;
    const char **values;
};

/* A configuration key, spelt with '_' or '-'. */
static int is_key(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *a = opts[i].key, *b = name;
        while (*a != '\0' && (*a == *b || (*a == '_' && *b == '-')))
            a++, b++;
        if (*a == '\0' && *b == '\0')
            return 1;
    }
    return 0;
}

/* 0 ok, 1 --help/--version printed (exit 0), -1 usage error printed. */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
    memset(cl, 0, sizeof(*cl));
    cl->keys = calloc((size_t)argc + 1, sizeof(char *));
    cl->values = calloc((size_t)argc + 1, sizeof(char *));
    if (cl->keys == NULL || cl->values == NULL)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 1;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("simtrust-gateway %s\n", ST_VERSION);
            return 1;
        }
        if (strcmp(a, "--check-config") == 0 || strcmp(a, "--check_config") == 0) {
            cl->check = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            usage_error("unexpected argument '%s'", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '='), *value;
        char key[64];
        size_t kl = eq != NULL ? (size_t)(eq - name) : strlen(name);
        if (kl >= sizeof(key)) {
            usage_error("unknown option '%s'", a);
            return -1;
        }
        memcpy(key, name, kl);
        key[kl] = '\0';
        if (eq != NULL) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc) {
                usage_error("option '%s' needs a value", a);
                return -1;
            }
            value = argv[++i];
        }
        if (strcmp(key, "config") == 0) {
            cl->config = value;
            continue;
        }
        if (!is_key(key)) {
            usage_error("unknown option '--%s'", key);
            return -1;
        }
        cl->keys[cl->nflags] = strdup(key);
        cl->values[cl->nflags] = value;
        if (cl->keys[cl->nflags] == NULL)
            return -1;
        cl->nflags++;
    }
    return 0;
}

/* Defaults, file, flags, checks. 0 ok; 1 configuration error; 2 bad flag. */
static int build_config(const struct cmdline *cl, struct st_gw_config *c, char *err, size_t cap)
{
    st_gw_config_defaults(c);
    if (cl->config != NULL && st_gw_config_load(cl->config, c, err, cap) != 0)
        return 1;
    for (int i = 0; i < cl->nflags; i++) {
        char e[512];
        if (st_gw_config_set(c, cl->keys[i], cl->values[i], e, sizeof(e)) != 0) {
            snprintf(err, cap, "--%s: %s", cl->keys[i], e);
            return 2;
        }
    }
    if (st_gw_config_check(c, 0, err, cap) != 0)
        return 1;
    return 0;
}

static int readable(const char *what, const char *path, char *err, size_t cap)
{
    if (path[0] == '\0')
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, cap, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static void format_addr(char *out, size_t cap, const char *cfg_addr, unsigned port)
{
    char host[ST_GW_ADDR_MAX];
    unsigned p;
    if (cfg_addr[0] == '\0' || port == 0 || st_gw_addr_split(cfg_addr, host, sizeof(host), &p)) {
        snprintf(out, cap, "off");
        return;
    }
    if (host[0] == '\0')
        snprintf(out, cap, "*:%u", port);
    else if (strchr(host, ':') != NULL)
        snprintf(out, cap, "[%s]:%u", host, port);
    else
        snprintf(out, cap, "%s:%u", host, port);
}

static void apply_logging(const struct st_gw_config *c)
{
    st_log_set_level((enum st_log_level)c->log_level);
    st_log_set_json(c->log_json);
}

/* Configurations given to the server and the API stay alive until exit (a
 * reload is rare; this frees us from knowing whether they keep pointers). */
struct cfg_list {
    struct st_gw_config *cfg;
    struct cfg_list *next;
};

int main(int argc, char **argv)
{
    struct cmdline cl;
    int status = EXIT_RUNTIME, sfd = -1;
    struct cfg_list *cfgs = NULL;
    struct st_gw_kek *kek = NULL;
    struct st_gw_metrics *metrics = NULL;
    struct st_gw_server *server = NULL;
    struct st_gw_api *api = NULL;
    char err[1024] = "";
    int rc = parse_cmdline(argc, argv, &cl);
    if (rc != 0) {
        status = rc > 0 ? 0 : EXIT_USAGE;
        goto out;
    }
    st_log_init("simtrust-gateway", ST_LOG_INFO);

    cfgs = calloc(1, sizeof(*cfgs));
    if (cfgs == NULL || (cfgs->cfg = malloc(sizeof(struct st_gw_config))) == NULL) {
        fputs("simtrust-gateway: out of memory\n", stderr);
        goto out;
    }
    struct st_gw_config *cfg = cfgs->cfg;
    rc = build_config(&cl, cfg, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "simtrust-gateway: %s\n", err);
        if (rc == 2)
            fputs("Try 'simtrust-gateway --help'.\n", stderr);
        status = rc == 2 ? EXIT_USAGE : EXIT_RUNTIME;
        goto out;
    }
    apply_logging(cfg);

    const char *why = NULL;
    if (cfg->kek_pkcs11_module[0] != '\0') {
        kek = st_gw_kek_from_pkcs11(cfg->kek_pkcs11_module, cfg->kek_pkcs11_token,
                                    cfg->kek_pkcs11_key, cfg->kek_pkcs11_pin_file, &why);
        if (kek == NULL) {
            st_err("KEK (PKCS#11): %s", why != NULL ? why : "unusable");
            goto out;
        }
        st_info("KEK: key '%s' on PKCS#11 token '%s' (%s)", cfg->kek_pkcs11_key,
                cfg->kek_pkcs11_token, cfg->kek_pkcs11_module);
    } else {
        kek = st_gw_kek_from_file(cfg->kek_file, &why);
        if (kek == NULL) {
            st_err("kek_file %s: %s", cfg->kek_file, why != NULL ? why : "unusable");
            goto out;
        }
    }
    if (cl.check) {
        if (readable("server_cert", cfg->server_cert, err, sizeof(err)) != 0 ||
            readable("server_key", cfg->server_key, err, sizeof(err)) != 0 ||
            readable("api_cert", cfg->api_cert, err, sizeof(err)) != 0 ||
            readable("api_key", cfg->api_key, err, sizeof(err)) != 0 ||
            readable("api_tokens", cfg->api_tokens, err, sizeof(err)) != 0) {
            fprintf(stderr, "simtrust-gateway: %s\n", err);
            goto out;
        }
        printf("simtrust-gateway: configuration OK\n");
        status = 0;
        goto out;
    }

    /* Signals: block them before any thread exists (workers inherit the
     * mask), then read them synchronously from a signalfd. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        st_err("sigprocmask: %s", strerror(errno));
        goto out;
    }
    sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        st_err("signalfd: %s", strerror(errno));
        goto out;
    }

    metrics = st_gw_metrics_new();
    if (metrics == NULL) {
        st_err("out of memory (metrics)");
        goto out;
    }
    server = st_gw_server_new(cfg, kek, metrics, NULL, NULL, err, sizeof(err));
    if (server == NULL) {
        st_err("data plane: %s", err);
        goto out;
    }
    if (cfg->api_listen[0] != '\0' || cfg->metrics_listen[0] != '\0') {
        api = st_gw_api_start(cfg, kek, metrics, err, sizeof(err));
        if (api == NULL) {
            st_err("API: %s", err);
            goto out;
        }
    }
    if (st_gw_server_start(server, err, sizeof(err)) != 0) {
        st_err("data plane: %s", err);
        goto out;
    }

    char tls[160], dtls[160], apia[160], met[160];
    format_addr(tls, sizeof(tls), cfg->tls_listen, st_gw_server_port(server, 0));
    format_addr(dtls, sizeof(dtls), cfg->dtls_listen, st_gw_server_port(server, 1));
    format_addr(apia, sizeof(apia), cfg->api_listen, api != NULL ? st_gw_api_port(api) : 0);
    format_addr(met, sizeof(met), cfg->metrics_listen,
                api != NULL ? st_gw_api_metrics_port(api) : 0);
    st_info("started %s: tls=%s dtls=%s api=%s%s metrics=%s backend=%s registry=%s", ST_VERSION,
            tls, dtls, apia, cfg->api_plain_http && api != NULL ? " (plain HTTP)" : "", met,
            cfg->backend, cfg->registry);
    printf("simtrust-gateway: tls=%s dtls=%s api=%s metrics=%s\n", tls, dtls, apia, met);
    fflush(stdout);

    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(si)) {
            st_err("signalfd read: %s", n < 0 ? strerror(errno) : "short read");
            goto out;
        }
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            st_info("%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            status = 0;
            break;
        }
        if (si.ssi_signo != SIGHUP)
            continue;
        /* Reload: the whole configuration again; all or nothing. */
        struct cfg_list *node = calloc(1, sizeof(*node));
        struct st_gw_config *next = malloc(sizeof(*next));
        if (node == NULL || next == NULL) {
            free(node);
            free(next);
            st_err("reload: out of memory; old configuration kept");
            st_gw_metrics_reload(metrics, 0);
            continue;
        }
        int brc = build_config(&cl, next, err, sizeof(err));
        if (brc != 0 || st_gw_server_reload(server, next, err, sizeof(err)) != 0) {
            st_err("reload failed: %s; old configuration kept", err);
            st_gw_metrics_reload(metrics, 0);
            free(node);
            free(next);
            continue;
        }
        if (api != NULL && st_gw_api_reload(api, next, err, sizeof(err)) != 0) {
            char err2[512];
            st_err("reload failed (API): %s; old configuration kept", err);
            if (st_gw_server_reload(server, cfg, err2, sizeof(err2)) != 0)
                st_err("reload: restoring the data plane's old configuration failed: %s", err2);
            st_gw_metrics_reload(metrics, 0);
            free(node);
            free(next);
            continue;
        }
        node->cfg = next;
        node->next = cfgs;
        cfgs = node;
        cfg = next;
        apply_logging(cfg);
        st_gw_metrics_reload(metrics, 1);
        st_info("reload ok%s%s", cl.config != NULL ? ": " : "",
                cl.config != NULL ? cl.config : "");
    }

out:
    if (api != NULL)
        st_gw_api_stop(api);
    if (server != NULL) {
        st_gw_server_stop(server);
        st_gw_server_free(server);
    }
    if (status == 0 && server != NULL)
        st_info("stopped");
    st_gw_metrics_free(metrics);
    st_gw_kek_free(kek);
    if (sfd >= 0)
        close(sfd);
    while (cfgs != NULL) {
        struct cfg_list *nx = cfgs->next;
        free(cfgs->cfg);
        free(cfgs);
        cfgs = nx;
    }
    for (int i = 0; i < cl.nflags; i++)
        free((void *)cl.keys[i]);
    free(cl.keys);
    free(cl.values);
    return status;
}
