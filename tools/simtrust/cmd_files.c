/*
 * `read-file`: a file object's contents (READ FILE, INS B0), e.g. the
 * device certificate the factory stored (IoT.04 E3: certificates are plain
 * binary files), as hex, raw bytes or, for certificates, PEM.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define FILE_MAX 65536 /* READ FILE offsets are 16-bit */

static const char read_file_help[] =
    "Usage: simtrust [--sim LINK] read-file (--file LABEL | --file-id HEX)\n"
    "                [--pem] [--raw] [--out FILE]\n"
    "\n"
    "Reads a whole file object with READ FILE (INS B0, in chunks as long as the\n"
    "card makes them; the size comes from GET DATA C3). Certificates are stored\n"
    "as DER (IoT.04 E3; usage 02 'certificate' in 'simtrust list'), several back\n"
    "to back for a chain.\n"
    "\n"
    "Options:\n"
    "  --file LABEL       the file's label\n"
    "  --file-id HEX      the file's ID (e.g. 02)\n"
    "  --pem              decode the contents as DER X.509 certificates and write\n"
    "                     them as PEM (one block per certificate; zero padding of\n"
    "                     a fixed-size container is ignored). Fails (exit 4) when\n"
    "                     the file holds anything else\n"
    "  --raw              write the raw bytes to standard output (for pipes)\n"
    "  --out FILE         write to FILE instead: the raw bytes, or PEM with --pem\n"
    "\n"
    "Without --pem, --raw or --out the contents are printed in hex. With --json:\n"
    "{\"file\": {\"label\"|\"id\"}, \"size\", \"data\" (hex) or \"pem\"}.\n"
    "\n"
    "Exit status: 0 success; 1 no such file (SW 6A82) or not readable (SW 6982);\n"
    "2 usage error; 3 link error; 4 malformed answer, not certificates (--pem), or\n"
    "FILE cannot be written.\n"
    "\n"
    "Examples:\n"
    "  simtrust read-file --file client-cert --pem > client.pem\n"
    "  simtrust read-file --file-id 02 --out client.der\n"
    "  simtrust read-file --file psk1          # a PSK identity, in hex\n";

enum { O_FILE = ST_CLI_OPT_BASE, O_FILE_ID, O_PEM, O_RAW, O_OUT };
static const struct st_cli_opt read_file_opts[] = {
    {"file", 1, O_FILE}, {"file-id", 1, O_FILE_ID}, {"pem", 0, O_PEM},
    {"raw", 0, O_RAW},   {"out", 1, O_OUT},         {NULL, 0, 0},
};

struct read_file_args {
    struct st_cli_ref file;
    bool pem, raw;
    const char *out;
};

static int read_file_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    struct read_file_args *a = arg;
    (void)cli;
    switch (id) {
    case O_FILE:
        a->file.label = val;
        break;
    case O_FILE_ID:
        a->file.id_hex = val;
        break;
    case O_PEM:
        a->pem = true;
        break;
    case O_RAW:
        a->raw = true;
        break;
    case O_OUT:
        a->out = val;
        break;
    }
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* DER certificates back to back -> PEM; NULL when the bytes are not certificates. */
static char *certs_to_pem(const uint8_t *buf, size_t len, size_t *count)
{
    BIO *b = BIO_new(BIO_s_mem());
    const unsigned char *p = buf, *end = buf + len;
    char *out = NULL, *data;
    *count = 0;
    while (b != NULL && p < end && !all_zero(p, (size_t)(end - p))) {
        X509 *x = d2i_X509(NULL, &p, (long)(end - p));
        if (x == NULL || !PEM_write_bio_X509(b, x)) {
            X509_free(x);
            *count = 0;
            break;
        }
        X509_free(x);
        (*count)++;
    }
    if (*count > 0) {
        long n = BIO_get_mem_data(b, &data);
        out = malloc((size_t)n + 1);
        if (out != NULL) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    ERR_clear_error();
    return out;
}

static int output(struct st_cli *cli, const struct read_file_args *a,
                  const struct st_iotsafe_ref *ref, const uint8_t *buf, size_t n)
{
    char what[ST_CLI_REF_TEXT];
    json_t *o = cli->g.json ? st_cli_json(cli) : NULL;
    if (o != NULL) {
        json_object_set_new(o, "file", st_cli_json_ref(ref));
        json_object_set_new(o, "size", json_integer((json_int_t)n));
    }
    if (a->pem) {
        size_t count;
        char *pem = certs_to_pem(buf, n, &count);
        if (pem == NULL)
            return st_cli_error(cli, ST_CLI_EXIT_OTHER,
                                "file %s does not hold DER X.509 certificates",
                                st_cli_ref_text(ref, what, sizeof(what)));
        int rc = 0;
        if (a->out != NULL)
            rc = st_cli_write_file(cli, a->out, pem, strlen(pem));
        else if (o == NULL)
            fputs(pem, stdout);
        if (rc == 0 && o != NULL) {
            json_object_set_new(o, "certificates", json_integer((json_int_t)count));
            json_object_set_new(o, "pem", json_string(pem));
        }
        free(pem);
        return rc;
    }
    if (a->out != NULL || a->raw) {
        int rc = st_cli_write_file(cli, a->out != NULL ? a->out : "-", buf, n);
        if (rc == 0 && o != NULL && a->out != NULL)
            json_object_set_new(o, "out", json_string(a->out));
        return rc;
    }
    if (o != NULL)
        st_cli_json_hex(o, "data", buf, n);
    else
        st_cli_print_hex(stdout, buf, n);
    return 0;
}

int st_cli_cmd_read_file(struct st_cli *cli, int argc, char **argv)
{
    struct read_file_args a = {{NULL, NULL}, false, false, NULL};
    struct st_iotsafe_ref ref;
    char what[ST_CLI_REF_TEXT];
    int first;
    int rc =
        st_cli_parse(cli, argc, argv, read_file_opts, read_file_opt, &a, read_file_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    if (a.raw && (a.out != NULL || a.pem || cli->g.json))
        return st_cli_usage(cli, "--raw goes with neither --out, --pem nor --json");
    rc = st_cli_make_ref(cli, "file", &a.file, true, &ref);
    if (rc != 0)
        return rc;
    rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc(FILE_MAX);
    size_t n = FILE_MAX;
    if (buf == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "out of memory");
    int r = st_iotsafe_read_file(&cli->ios, &ref, buf, &n);
    if (r == ST_OK)
        rc = output(cli, &a, &ref, buf, n);
    else if (r == ST_E_CARD_NOT_FOUND || r == ST_E_NOT_FOUND)
        rc = st_cli_fail(cli, r, "no file %s on the card",
                         st_cli_ref_text(&ref, what, sizeof(what)));
    else
        rc = st_cli_fail(cli, r, "READ FILE %s", st_cli_ref_text(&ref, what, sizeof(what)));
    free(buf);
    return rc;
}
