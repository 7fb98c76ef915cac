/*
 * Command-line parsing for the simtrust tool: one option table per command
 * (the single source of --help checks and --list-options) merged with the
 * global options, so that `simtrust --sim tcp:... sign ...` and
 * `simtrust sign ... --sim tcp:...` mean the same. Plus the small argument
 * parsers every command shares (numbers, hex, object references, hashes,
 * files).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "st_hex.h"

#ifndef ST_VERSION
#define ST_VERSION "0.0.0"
#endif

enum {
    G_SIM = 0x100,
    G_AID,
    G_BASIC,
    G_CLA,
    G_SIGLEN1,
    G_TRACE,
    G_JSON,
    G_TIMEOUT,
    G_VERSION,
    G_LIST,
    G_HELP = 'h',
};

static const struct st_cli_opt global_opts[] = {
    {"sim", 1, G_SIM},
    {"aid", 1, G_AID},
    {"basic-channel", 0, G_BASIC},
    {"cla", 1, G_CLA},
    {"sig-len1", 0, G_SIGLEN1},
    {"trace", 0, G_TRACE},
    {"json", 0, G_JSON},
    {"timeout", 1, G_TIMEOUT},
    {"version", 0, G_VERSION},
    {"help", 0, G_HELP},
    {NULL, 0, 0},
};

static const char global_footer[] =
    "\n"
    "Global options (before or after the command; 'simtrust --help' has details):\n"
    "  --sim LINK           pcsc[:READER] | at:DEVICE[@BAUD] | tcp:HOST:PORT\n"
    "                       (default: $SIMTRUST_SIM, else pcsc)\n"
    "  --aid HEX            applet AID (default A0000005590010)\n"
    "  --basic-channel      use the basic channel, not a logical channel\n"
    "  --cla 00|80          class of the IoT SAFE commands (default 80)\n"
    "  --sig-len1           send signatures to VERIFY as 33 40 (not 33 00 40)\n"
    "  --trace              print every APDU (command and response) to stderr;\n"
    "                       traces show secrets of PRF/HKDF/DH: tests only\n"
    "  --json               print the result as one JSON object\n"
    "  --timeout MS         answer timeout of AT and TCP links\n"
    "  --list-options       list this command's options, one per line (for\n"
    "                       shell completion)\n"
    "  --version            show the version\n"
    "  -h, --help           show this help\n";

void st_cli_print_help(const char *help)
{
    fputs(help, stdout);
    fputs(global_footer, stdout);
}

static size_t opt_count(const struct st_cli_opt *t)
{
    size_t n = 0;
    while (t != NULL && t[n].name != NULL)
        n++;
    return n;
}

static int global_option(struct st_cli *cli, int id, const char *val)
{
    unsigned long v;
    int rc;
    switch (id) {
    case G_SIM:
        cli->g.sim = val;
        return 0;
    case G_AID:
        rc = st_cli_hex_arg(cli, "--aid", val, cli->g.aid, sizeof(cli->g.aid), &cli->g.aid_len);
        if (rc == 0 && cli->g.aid_len < 5)
            return st_cli_usage(cli, "--aid: an AID has 5 to 16 bytes");
        return rc;
    case G_BASIC:
        cli->g.basic_channel = true;
        return 0;
    case G_CLA:
        if (strcmp(val, "00") == 0 || strcmp(val, "0") == 0)
            cli->g.cla = ST_CLA_ISO;
        else if (strcmp(val, "80") == 0)
            cli->g.cla = ST_CLA_PROPRIETARY;
        else
            return st_cli_usage(cli, "--cla: '%s' is neither 00 nor 80", val);
        return 0;
    case G_SIGLEN1:
        cli->g.sig_len1 = true;
        return 0;
    case G_TRACE:
        cli->g.trace = true;
        return 0;
    case G_JSON:
        cli->g.json = true;
        return 0;
    case G_TIMEOUT:
        rc = st_cli_uint_arg(cli, "--timeout", val, 1, 3600000, &v);
        if (rc == 0)
            cli->g.timeout_ms = (long)v;
        return rc;
    case G_VERSION:
        printf("simtrust %s\n", ST_VERSION);
        return ST_CLI_DONE;
    default:
        return st_cli_usage(cli, "internal: unknown option id %d", id);
    }
}

/*
 * The getopt_long table: the command's options, then the global ones and
 * --list-options. Returns a malloc'd array.
 */
static struct option *make_table(const struct st_cli_opt *opts)
{
    size_t n = opt_count(opts), ng = opt_count(global_opts), k = 0;
    struct option *t = calloc(n + ng + 2, sizeof(*t));
    if (t == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++, k++)
        t[k] = (struct option){opts[i].name, opts[i].has_arg ? required_argument : no_argument,
                               NULL, opts[i].id};
    for (size_t i = 0; i < ng; i++, k++)
        t[k] = (struct option){global_opts[i].name,
                               global_opts[i].has_arg ? required_argument : no_argument, NULL,
                               global_opts[i].id};
    t[k] = (struct option){"list-options", no_argument, NULL, G_LIST};
    return t;
}

static void list_options(const struct st_cli_opt *opts)
{
    for (size_t i = 0; opts != NULL && opts[i].name != NULL; i++)
        printf("--%s\n", opts[i].name);
    for (size_t i = 0; global_opts[i].name != NULL; i++)
        printf("--%s\n", global_opts[i].name);
    printf("--list-options\n");
}

/* The option getopt just rejected, for the message. */
static const char *bad_option(char **argv)
{
    const char *a = optind > 0 ? argv[optind - 1] : "";
    return a != NULL ? a : "";
}

static int parse(struct st_cli *cli, int argc, char **argv, const struct st_cli_opt *opts,
                 st_cli_opt_fn fn, void *arg, const char *help, int *first, bool globals_only)
{
    struct option *table = make_table(opts);
    int rc = 0;
    if (table == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "out of memory");
    /* "+": stop at the command (globals); ":": report missing arguments ourselves. */
    const char *short_opts = globals_only ? "+:h" : ":h";
    optind = 0; /* glibc: a full re-initialisation, as argv changes between calls */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, short_opts, table, NULL);
        if (c == -1)
            break;
        if (c == '?') {
            rc = st_cli_usage(cli, "unknown option '%s'", bad_option(argv));
        } else if (c == ':') {
            rc = st_cli_usage(cli, "option '%s' needs a value", bad_option(argv));
        } else if (c == G_HELP) {
            if (help != NULL)
                st_cli_print_help(help);
            rc = ST_CLI_DONE;
        } else if (c == G_LIST) {
            list_options(opts);
            rc = ST_CLI_DONE;
        } else if (c >= ST_CLI_OPT_BASE && fn != NULL) {
            rc = fn(cli, arg, c, optarg);
        } else {
            rc = global_option(cli, c, optarg);
        }
        if (rc != 0)
            break;
    }
    free(table);
    *first = optind;
    return rc;
}

int st_cli_parse(struct st_cli *cli, int argc, char **argv, const struct st_cli_opt *opts,
                 st_cli_opt_fn fn, void *arg, const char *help, int *first)
{
    return parse(cli, argc, argv, opts, fn, arg, help, first, false);
}

int st_cli_parse_globals(struct st_cli *cli, int argc, char **argv, int *first)
{
    /* --help here is the top-level help, printed by main: report it as "help wanted". */
    return parse(cli, argc, argv, NULL, NULL, NULL, NULL, first, true);
}

/* ---- argument parsers ---- */

int st_cli_make_ref(struct st_cli *cli, const char *opt, const struct st_cli_ref *r, bool required,
                    struct st_iotsafe_ref *ref)
{
    if (r->label != NULL && r->id_hex != NULL)
        return st_cli_usage(cli, "give --%s or --%s-id, not both", opt, opt);
    if (r->label == NULL && r->id_hex == NULL) {
        if (required)
            return st_cli_usage(cli, "--%s LABEL or --%s-id HEX is required", opt, opt);
        return 1;
    }
    if (r->label != NULL) {
        size_t n = strlen(r->label);
        if (n == 0 || n > ST_IOTSAFE_LABEL_MAX)
            return st_cli_usage(cli, "--%s: a label has 1 to %d bytes", opt, ST_IOTSAFE_LABEL_MAX);
        st_iotsafe_ref_label(ref, r->label, n);
        return 0;
    }
    uint8_t id[ST_IOTSAFE_ID_MAX];
    size_t n = 0;
    char name[64];
    snprintf(name, sizeof(name), "--%s-id", opt);
    int rc = st_cli_hex_arg(cli, name, r->id_hex, id, sizeof(id), &n);
    if (rc != 0)
        return rc;
    if (n == 0)
        return st_cli_usage(cli, "%s: an ID has 1 to %d bytes", name, ST_IOTSAFE_ID_MAX);
    st_iotsafe_ref_id(ref, id, n);
    return 0;
}

const char *st_cli_ref_text(const struct st_iotsafe_ref *ref, char *buf, size_t n)
{
    size_t k = 0;
    if (n < ST_CLI_REF_TEXT) {
        if (n > 0)
            buf[0] = '\0';
        return buf;
    }
    if (!ref->by_label) {
        k = (size_t)snprintf(buf, n, "ID ");
        st_hex_encode(ref->bytes, ref->len, buf + k);
        return buf;
    }
    buf[k++] = '\'';
    for (size_t i = 0; i < ref->len; i++) {
        uint8_t c = ref->bytes[i];
        if (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\')
            buf[k++] = (char)c;
        else
            k += (size_t)snprintf(buf + k, n - k, "\\x%02X", c);
    }
    buf[k++] = '\'';
    buf[k] = '\0';
    return buf;
}

int st_cli_hex_arg(struct st_cli *cli, const char *opt, const char *s, uint8_t *buf, size_t cap,
                   size_t *len)
{
    long n = st_hex_decode(s, strlen(s), buf, cap);
    if (n < 0)
        return st_cli_usage(cli, "%s: not hex, or more than %zu bytes", opt, cap);
    *len = (size_t)n;
    return 0;
}

int st_cli_uint_arg(struct st_cli *cli, const char *opt, const char *s, unsigned long min,
                    unsigned long max, unsigned long *v)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return st_cli_usage(cli, "%s: '%s' is not a number", opt, s);
    unsigned long x = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return st_cli_usage(cli, "%s: '%s' is not a number", opt, s);
    if (x < min || x > max)
        return st_cli_usage(cli, "%s: %lu is out of range (%lu to %lu)", opt, x, min, max);
    *v = x;
    return 0;
}

static const struct {
    const char *name;
    uint16_t hash;
} hashes[] = {
    {"sha256", ST_IOTSAFE_HASH_SHA256},
    {"sha384", ST_IOTSAFE_HASH_SHA384},
    {"sha512", ST_IOTSAFE_HASH_SHA512},
};

int st_cli_hash_arg(struct st_cli *cli, const char *opt, const char *s, uint16_t *hash)
{
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
        if (strcmp(s, hashes[i].name) == 0) {
            *hash = hashes[i].hash;
            return 0;
        }
    return st_cli_usage(cli, "%s: '%s' is not sha256, sha384 or sha512", opt, s);
}

const char *st_cli_hash_name(uint16_t hash)
{
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
        if (hashes[i].hash == hash)
            return hashes[i].name;
    return "?";
}

const EVP_MD *st_cli_hash_md(uint16_t hash)
{
    switch (hash) {
    case ST_IOTSAFE_HASH_SHA384:
        return EVP_sha384();
    case ST_IOTSAFE_HASH_SHA512:
        return EVP_sha512();
    default:
        return EVP_sha256();
    }
}

/* ---- files ---- */

int st_cli_read_file(struct st_cli *cli, const char *path, size_t max, uint8_t **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *p = malloc(cap);
    int rc = 0;
    while (p != NULL) {
        if (n == cap) {
            if (cap > max) {
                rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "'%s' is larger than %zu bytes", path,
                                  max);
                break;
            }
            uint8_t *q = realloc(p, cap * 2);
            if (q == NULL)
                break;
            p = q;
            cap *= 2;
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (rc == 0 && p == NULL)
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "out of memory reading '%s'", path);
    else if (rc == 0 && ferror(f))
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot read '%s': %s", path, strerror(errno));
    else if (rc == 0 && n > max)
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "'%s' is larger than %zu bytes", path, max);
    if (f != stdin)
        fclose(f);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *buf = p;
    *len = n;
    return 0;
}

int st_cli_write_file(struct st_cli *cli, const char *path, const void *p, size_t n)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0)
            return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot write to standard output");
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot create '%s': %s", path,
                            strerror(errno));
    const uint8_t *b = p;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, b + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot write '%s': %s", path, strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) != 0)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}
