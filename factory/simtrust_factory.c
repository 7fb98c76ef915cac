/*
 * simtrust-factory: the SIM factory's personalisation of a batch of cards for
 * one device group (IoT.04 Annex C.1; scenarios 1 and 5).
 *
 *   Scenario 1 (2.1, G1): each card generates a P-256 key pair inside itself;
 *     the group CA certifies its public half (client certificate file).
 *   Scenario 5 (2.5): each card holds eUK = KDF(BMK, "<vendor>:<batch>:<ICCID>")
 *     as its PSK and that identity in a file; the batch master key never
 *     enters a card and the delivery records carry no key.
 *
 * Every card also holds the server CA certificate (file "ca") so the device
 * checks the gateway. Cards are made by `simtrust-card personalise` from a
 * profile written to a mode-0600 temporary file that is wiped and removed
 * right after use. Outputs per card DIR/<ICCID>.img and
 * DIR/<ICCID>.delivery.json, and DIR/batch.jsonl with every delivery record
 * (the "file" form of Annex C.1 that the gateway imports).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch_psk.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define BMK_MAX 64
#define EUK_LEN 32

static const char help_text[] =
    "NAME\n"
    "    simtrust-factory - personalise a batch of simulated SIM cards for a device group\n"
    "\n"
    "SYNOPSIS\n"
    "    simtrust-factory --group G --count N --out DIR\n"
    "        --x509 --ca-cert CA.pem --ca-key CA.key [--days D]\n"
    "      | --batch --vendor V --batch-id B --bmk-file F [--kdf hmac-sha256|hkdf-sha256]\n"
    "        [--iccid-prefix DIGITS] [--server-ca SERVER-CA.pem] [--card PATH]\n"
    "    simtrust-factory --help\n"
    "\n"
    "DESCRIPTION\n"
    "    Plays the SIM factory of GSMA IoT.04 (Annex C.1): makes N card images\n"
    "    (simtrust-card) for device group G and the delivery records the operator's\n"
    "    gateway imports. Each card gets a fresh Luhn-valid ICCID.\n"
    "\n"
    "    --x509 (scenario 1): the card generates a P-256 key pair INSIDE itself\n"
    "    (private key \"client\", ID 01); the group CA issues a client certificate\n"
    "    for its public half (file \"client-cert\", ID 02, CN=<group>-<ICCID>). The\n"
    "    private key is never outside the card image.\n"
    "\n"
    "    --batch (scenario 5): the card's PSK (secret key \"psk\", ID 10) is\n"
    "    eUK = KDF(BMK, identity) with identity \"<vendor>:<batch>:<ICCID>\" stored in\n"
    "    the card's file \"psk\" (ID 11). The gateway derives the same key during the\n"
    "    handshake from the batch master key (BMK) alone, with no per-device key.\n"
    "\n"
    "    Every card also has a P-256 volatile key \"ecdhe\" (04) for the card's\n"
    "    ECDHE, and, with --server-ca, the server CA certificate(s) as file \"ca\"\n"
    "    (ID 03) so the device can authenticate the gateway (simtrust connect --ca ca).\n"
    "\n"
    "OPTIONS\n"
    "    --group G           device group the batch is made for (printable, no spaces)\n"
    "    --count N           number of cards, 1..1000000\n"
    "    --out DIR           output directory (created, mode 0700, if missing)\n"
    "    --x509              scenario 1: on-card key pair + CA-issued certificate\n"
    "    --ca-cert FILE      group CA certificate (PEM), with --x509\n"
    "    --ca-key FILE       group CA private key (PEM, unencrypted), with --x509\n"
    "    --days D            validity of the device certificates [365]\n"
    "    --batch             scenario 5: batch-derived PSK\n"
    "    --vendor V          vendor field of the PSK identity (1..32 of A-Z a-z 0-9 . _ -)\n"
    "    --batch-id B        batch field of the PSK identity (same alphabet)\n"
    "    --bmk-file F        batch master key: 16..64 raw bytes or 32..128 hex digits;\n"
    "                        must not be readable by group or others (mode 0600)\n"
    "    --kdf NAME          hmac-sha256 (default) or hkdf-sha256; must match the group\n"
    "    --iccid-prefix P    first digits of every ICCID, starting with 89 [8988228]\n"
    "                        (the rest is random; the last digit is the Luhn check digit)\n"
    "    --iccid-length L    18, 19 or 20 digits including the check digit [19]\n"
    "    --server-ca FILE    server CA certificate(s) (PEM) stored as card file \"ca\"\n"
    "    --card PATH         the simtrust-card program [next to this program, else $PATH]\n"
    "    -h, --help          this text\n"
    "\n"
    "FILES\n"
    "    DIR/<ICCID>.img            card image (mode 0600: holds keys)\n"
    "    DIR/<ICCID>.delivery.json  delivery record: ICCID, public key, certificates,\n"
    "                               PSK identity; never a private key or PSK\n"
    "    DIR/batch.jsonl            all delivery records, one JSON object per line\n"
    "                               (simtrust-registry import, POST /v1/groups/{id}/import)\n"
    "\n"
    "OUTPUT\n"
    "    One line per card (ICCID, and the PSK identity for --batch), then\n"
    "    \"simtrust-factory: N cards in S s (R records/s)\".\n"
    "\n"
    "EXIT STATUS\n"
    "    0 all cards made; 1 an error (nothing is left half-written for that card);\n"
    "    2 usage error.\n"
    "\n"
    "EXAMPLES\n"
    "    simtrust-factory --group meters --count 100 --out meters --x509 \\\n"
    "        --ca-cert meters-ca.pem --ca-key meters-ca.key --server-ca server-ca.pem\n"
    "    head -c 32 /dev/urandom >bmk && chmod 600 bmk\n"
    "    simtrust-factory --group sensors --count 100 --out sensors --batch \\\n"
    "        --vendor acme --batch-id b2026 --bmk-file bmk --kdf hkdf-sha256\n";

struct opts {
    const char *group, *out, *ca_cert, *ca_key, *vendor, *batch_id, *bmk_file, *server_ca, *card;
    const char *prefix;
    long count, days, iccid_len;
    int x509, batch, kdf;
};

static int usage(const char *fmt, const char *a)
{
    fprintf(stderr, "simtrust-factory: ");
    fprintf(stderr, "%s%s\n", fmt, a != NULL ? a : "");
    fputs("Try 'simtrust-factory --help'.\n", stderr);
    return -1;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->prefix = "8988228";
    o->days = 365;
    o->iccid_len = 19;
    o->kdf = ST_GW_KDF_HMAC_SHA256;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help_text, stdout);
            return 1;
        }
        if (strcmp(a, "--x509") == 0) {
            o->x509 = 1;
            continue;
        }
        if (strcmp(a, "--batch") == 0) {
            o->batch = 1;
            continue;
        }
        const char **dst = NULL;
        if (strcmp(a, "--group") == 0)
            dst = &o->group;
        else if (strcmp(a, "--out") == 0)
            dst = &o->out;
        else if (strcmp(a, "--ca-cert") == 0)
            dst = &o->ca_cert;
        else if (strcmp(a, "--ca-key") == 0)
            dst = &o->ca_key;
        else if (strcmp(a, "--vendor") == 0)
            dst = &o->vendor;
        else if (strcmp(a, "--batch-id") == 0)
            dst = &o->batch_id;
        else if (strcmp(a, "--bmk-file") == 0)
            dst = &o->bmk_file;
        else if (strcmp(a, "--server-ca") == 0)
            dst = &o->server_ca;
        else if (strcmp(a, "--card") == 0)
            dst = &o->card;
        else if (strcmp(a, "--iccid-prefix") == 0)
            dst = &o->prefix;
        else if (strcmp(a, "--count") != 0 && strcmp(a, "--days") != 0 &&
                 strcmp(a, "--kdf") != 0 && strcmp(a, "--iccid-length") != 0)
            return usage("unknown option ", a);
        if (i + 1 >= argc)
            return usage("missing value for ", a);
        const char *v = argv[++i];
        if (dst != NULL) {
            *dst = v;
        } else if (strcmp(a, "--count") == 0) {
            if (parse_long(v, 1, 1000000, &o->count) != 0)
                return usage("--count: want 1..1000000, not ", v);
        } else if (strcmp(a, "--days") == 0) {
            if (parse_long(v, 1, 36500, &o->days) != 0)
                return usage("--days: want 1..36500, not ", v);
        } else if (strcmp(a, "--iccid-length") == 0) {
            if (parse_long(v, 18, 20, &o->iccid_len) != 0)
                return usage("--iccid-length: want 18, 19 or 20, not ", v);
        } else {
            o->kdf = st_gw_kdf_parse(v);
            if (o->kdf <= 0)
                return usage("--kdf: want hmac-sha256 or hkdf-sha256, not ", v);
        }
    }
    if (o->group == NULL || o->count == 0 || o->out == NULL)
        return usage("--group, --count and --out are required", NULL);
    for (const char *p = o->group; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '/')
            return usage("--group: printable ASCII without spaces, quotes or '/': ", o->group);
    if (o->group[0] == '\0' || strlen(o->group) > 40)
        return usage("--group: 1 to 40 characters", NULL);
    if (o->x509 == o->batch)
        return usage("choose exactly one of --x509 and --batch", NULL);
    if (o->x509 && (o->ca_cert == NULL || o->ca_key == NULL))
        return usage("--x509 needs --ca-cert and --ca-key", NULL);
    if (o->batch && (o->vendor == NULL || o->batch_id == NULL || o->bmk_file == NULL))
        return usage("--batch needs --vendor, --batch-id and --bmk-file", NULL);
    if (o->batch && !st_gw_batch_field_ok(o->vendor))
        return usage("--vendor: 1..32 of A-Z a-z 0-9 . _ -, not ", o->vendor);
    if (o->batch && !st_gw_batch_field_ok(o->batch_id))
        return usage("--batch-id: 1..32 of A-Z a-z 0-9 . _ -, not ", o->batch_id);
    size_t pl = strlen(o->prefix);
    if (pl < 2 || strncmp(o->prefix, "89", 2) != 0 || pl > (size_t)o->iccid_len - 4)
        return usage("--iccid-prefix: 2 or more digits starting with 89, leaving at least 3 "
                     "random digits: ", o->prefix);
    for (size_t i = 0; i < pl; i++)
        if (o->prefix[i] < '0' || o->prefix[i] > '9')
            return usage("--iccid-prefix: digits only: ", o->prefix);
    return 0;
}

/* Absolute path (profiles are read by another process, from another directory). */
static char *absolute(const char *path)
{
    char *r = realpath(path, NULL);
    if (r == NULL)
        fprintf(stderr, "simtrust-factory: %s: %s\n", path, strerror(errno));
    return r;
}

/* BMK file: 0600, 16..64 raw bytes or 32..128 hex digits (+ newline). */
static int read_bmk(const char *path, uint8_t *bmk, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "simtrust-factory: --bmk-file %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        fprintf(stderr, "simtrust-factory: --bmk-file %s: readable by group or others (chmod 600)\n",
                path);
        return -1;
    }
    uint8_t buf[2 * BMK_MAX + 4];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    int rc = -1;
    size_t m = n > 0 ? (size_t)n : 0;
    while (m > 0 && (buf[m - 1] == '\n' || buf[m - 1] == '\r'))
        m--;
    int hex = m >= 32 && m % 2 == 0 && m <= 2 * BMK_MAX;
    for (size_t i = 0; hex && i < m; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || ((buf[i] | 0x20) >= 'a' && (buf[i] | 0x20) <= 'f')))
            hex = 0;
    if (hex) {
        for (size_t i = 0; i < m / 2; i++) {
            unsigned v = 0;
            for (int k = 0; k < 2; k++) {
                uint8_t ch = buf[2 * i + (size_t)k];
                v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
            }
            bmk[i] = (uint8_t)v;
        }
        *len = m / 2;
        rc = 0;
    } else if (n >= 16 && n <= BMK_MAX) {
        memcpy(bmk, buf, (size_t)n);
        *len = (size_t)n;
        rc = 0;
    } else {
        fprintf(stderr, "simtrust-factory: --bmk-file %s: want 16..64 bytes (raw or hex)\n", path);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* ICCID: prefix, random digits, Luhn check digit (ITU-T E.118). */
static int make_iccid(const struct opts *o, char *out)
{
    size_t pl = strlen(o->prefix), body = (size_t)o->iccid_len - 1;
    memcpy(out, o->prefix, pl);
    for (size_t i = pl; i < body; i++) {
        uint8_t r;
        do {
            if (RAND_bytes(&r, 1) != 1)
                return -1;
        } while (r >= 250);
        out[i] = (char)('0' + r % 10);
    }
    /* Luhn: double every second digit from the right of the full number. */
    unsigned sum = 0;
    for (size_t k = 0; k < body; k++) {
        unsigned d = (unsigned)(out[body - 1 - k] - '0');
        if (k % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    out[body] = (char)('0' + (10 - sum % 10) % 10);
    out[body + 1] = '\0';
    return st_gw_luhn_ok(out, body + 1) ? 0 : -1;
}

static char *find_card(const struct opts *o)
{
    if (o->card != NULL)
        return strdup(o->card);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            static const char *const rel[] = {"/simtrust-card", "/../card/simtrust-card"};
            for (size_t i = 0; i < 2; i++) {
                char cand[PATH_MAX + 32];
                snprintf(cand, sizeof(cand), "%s%s", self, rel[i]);
                if (access(cand, X_OK) == 0)
                    return strdup(cand);
            }
        }
    }
    return strdup("simtrust-card");
}

/* Overwrites the file with zeros, then removes it. */
static void wipe_unlink(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0) {
            char z[4096];
            memset(z, 0, sizeof(z));
            for (off_t left = st.st_size; left > 0;) {
                size_t k = left > (off_t)sizeof(z) ? sizeof(z) : (size_t)left;
                if (write(fd, z, k) != (ssize_t)k)
                    break;
                left -= (off_t)k;
            }
            fsync(fd);
        }
        close(fd);
    }
    unlink(path);
}

static int run_personalise(const char *card, const char *profile, const char *img,
                           const char *delivery)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char *args[] = {(char *)card, "personalise", "--profile", (char *)profile, "--image",
                        (char *)img, "--delivery", (char *)delivery, NULL};
        execvp(card, args);
        fprintf(stderr, "simtrust-factory: cannot run %s: %s\n", card, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The profile of one card (docs/profile.md). */
static json_t *profile_json(const struct opts *o, const char *iccid, const char *ca_cert,
                            const char *ca_key, const char *server_ca, const char *identity,
                            const char *euk_hex)
{
    json_t *priv = json_array(), *pub = json_array(), *files = json_array();
    json_t *p = json_object();
    json_object_set_new(p, "iccid", json_string(iccid));
    if (o->x509)
        json_array_append_new(priv, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "id", "01", "label",
                                              "client", "type", "p256", "usage", "tls13",
                                              "generate", 1, "public_id", "01"));
    json_array_append_new(priv, json_pack("{s:s,s:s,s:s,s:[s,s]}", "id", "04", "label", "ecdhe",
                                          "type", "p256-volatile", "functions", "keygen",
                                          "key_agreement"));
    json_array_append_new(pub, json_pack("{s:s,s:s,s:s,s:[s,s]}", "id", "05", "label", "peer",
                                         "type", "p256-volatile", "access", "read", "update"));
    if (o->x509) {
        /* First certificate file: the delivery record's certificates[0] is the
         * device's own (the gateway binds it). */
        char cn[96];
        snprintf(cn, sizeof(cn), "%s-%s", o->group, iccid);
        json_array_append_new(
            files, json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:I}}", "id", "02", "label",
                             "client-cert", "usage", "certificate", "issue", "key_id", "01",
                             "ca_cert", ca_cert, "ca_key", ca_key, "subject_cn", cn, "days",
                             (json_int_t)o->days));
    }
    if (server_ca != NULL)
        /* A trust anchor, not the device's credential: usage "general" keeps it
         * out of the delivery record's certificates (every card has the same). */
        json_array_append_new(files, json_pack("{s:s,s:s,s:s,s:s}", "id", "03", "label", "ca",
                                               "usage", "general", "pem_file", server_ca));
    json_object_set_new(p, "private_keys", priv);
    json_object_set_new(p, "public_keys", pub);
    json_object_set_new(p, "files", files);
    if (o->batch)
        json_object_set_new(p, "secret_keys",
                            json_pack("[{s:s,s:s,s:s,s:s,s:s}]", "id", "10", "label", "psk",
                                      "hex", euk_hex, "identity", identity, "identity_file_id",
                                      "11"));
    return p;
}

static void wipe_json_string(json_t *s)
{
    if (json_is_string(s))
        OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc != 0)
        return prc > 0 ? 0 : EXIT_USAGE;
    umask(077);
    if (mkdir(o.out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "simtrust-factory: --out %s: %s\n", o.out, strerror(errno));
        return EXIT_FAIL;
    }
    char *out = absolute(o.out), *ca_cert = NULL, *ca_key = NULL, *server_ca = NULL;
    char *card = find_card(&o);
    uint8_t bmk[BMK_MAX];
    size_t bmk_len = 0;
    int rc = EXIT_FAIL;
    FILE *jsonl = NULL;
    if (out == NULL || card == NULL)
        goto done;
    if (o.x509 && ((ca_cert = absolute(o.ca_cert)) == NULL || (ca_key = absolute(o.ca_key)) == NULL))
        goto done;
    if (o.server_ca != NULL && (server_ca = absolute(o.server_ca)) == NULL)
        goto done;
    if (o.batch && read_bmk(o.bmk_file, bmk, &bmk_len) != 0)
        goto done;

    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/batch.jsonl", out);
    jsonl = fopen(path, "w");
    if (jsonl == NULL) {
        fprintf(stderr, "simtrust-factory: %s: %s\n", path, strerror(errno));
        goto done;
    }
    double t0 = now_s();
    for (long i = 0; i < o.count; i++) {
        char iccid[ST_GW_ICCID_MAX + 1], img[PATH_MAX], dlv[PATH_MAX], prof[PATH_MAX];
        struct stat st;
        int tries = 0;
        do {
            if (make_iccid(&o, iccid) != 0) {
                fprintf(stderr, "simtrust-factory: ICCID generation failed\n");
                goto done;
            }
            snprintf(img, sizeof(img), "%s/%s.img", out, iccid);
        } while (stat(img, &st) == 0 && ++tries < 100);
        snprintf(dlv, sizeof(dlv), "%s/%s.delivery.json", out, iccid);

        char identity[ST_GW_BATCH_IDENTITY_MAX + 1] = "";
        char euk_hex[2 * EUK_LEN + 1] = "";
        if (o.batch) {
            uint8_t euk[EUK_LEN];
            int il = st_gw_batch_format(o.vendor, o.batch_id, iccid, identity, sizeof(identity));
            if (il < 0 || st_gw_batch_derive(o.kdf, bmk, bmk_len, (const uint8_t *)identity,
                                             (size_t)il, euk, sizeof(euk)) != 0) {
                fprintf(stderr, "simtrust-factory: %s: eUK derivation failed (%s)\n", iccid,
                        il < 0 ? st_gw_batch_strerror(il) : "KDF");
                goto done;
            }
            for (size_t k = 0; k < EUK_LEN; k++)
                snprintf(euk_hex + 2 * k, 3, "%02x", euk[k]);
            OPENSSL_cleanse(euk, sizeof(euk));
        }
        json_t *p = profile_json(&o, iccid, ca_cert, ca_key, server_ca, identity, euk_hex);
        char *text = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;
        if (o.batch && p != NULL)
            wipe_json_string(json_object_get(json_array_get(json_object_get(p, "secret_keys"), 0),
                                             "hex"));
        json_decref(p);
        OPENSSL_cleanse(euk_hex, sizeof(euk_hex));
        if (text == NULL) {
            fprintf(stderr, "simtrust-factory: out of memory\n");
            goto done;
        }
        /* The profile may hold eUK: a 0600 temp file, wiped and removed after use. */
        snprintf(prof, sizeof(prof), "%s/.profile-XXXXXX", out);
        int fd = mkstemp(prof);
        size_t tl = strlen(text);
        int wok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, text, tl) == (ssize_t)tl;
        OPENSSL_cleanse(text, tl);
        free(text);
        if (fd >= 0)
            close(fd);
        if (!wok) {
            fprintf(stderr, "simtrust-factory: temporary profile: %s\n", strerror(errno));
            if (fd >= 0)
                wipe_unlink(prof);
            goto done;
        }
        int pr = run_personalise(card, prof, img, dlv);
        wipe_unlink(prof);
        if (pr != 0) {
            fprintf(stderr, "simtrust-factory: %s: personalisation failed (%s)\n", iccid, card);
            unlink(img);
            unlink(dlv);
            goto done;
        }
        json_error_t je;
        json_t *rec = json_load_file(dlv, 0, &je);
        char *line = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
        json_decref(rec);
        if (line == NULL) {
            fprintf(stderr, "simtrust-factory: %s: unreadable delivery record: %s\n", dlv,
                    je.text);
            goto done;
        }
        fprintf(jsonl, "%s\n", line);
        free(line);
        if (o.batch)
            printf("card %ld: iccid=%s psk_identity=%s\n", i + 1, iccid, identity);
        else
            printf("card %ld: iccid=%s cert=CN=%s-%s\n", i + 1, iccid, o.group, iccid);
    }
    if (fclose(jsonl) != 0) {
        jsonl = NULL;
        fprintf(stderr, "simtrust-factory: batch.jsonl: %s\n", strerror(errno));
        goto done;
    }
    jsonl = NULL;
    double dt = now_s() - t0;
    printf("simtrust-factory: %ld cards for group %s (%s) in %.2f s (%.1f records/s): %s/batch.jsonl\n",
           o.count, o.group, o.x509 ? "x509, scenario 1" : "batch-psk, scenario 5", dt,
           dt > 0 ? (double)o.count / dt : 0.0, out);
    fflush(stdout);
    rc = 0;
done:
    if (jsonl != NULL)
        fclose(jsonl);
    OPENSSL_cleanse(bmk, sizeof(bmk));
    free(out);
    free(ca_cert);
    free(ca_key);
    free(server_ca);
    free(card);
    return rc;
}
