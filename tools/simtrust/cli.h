/*
 * The `simtrust` command-line tool: the IoT SAFE applet's services from a
 * shell (GSMA IoT.04 B5/B6: the device middleware's commands to the applet;
 * D3 capability discovery, D9 credential list, H1 on-board key generation
 * and CSRs signed inside the card). Internal interface shared by the files
 * of tools/simtrust/; docs/simtrust-cli.md is the user's reference.
 *
 *   main.c        global options, command table, dispatch, top-level help
 *   args.c        option tables (getopt_long), numbers, hex, object references
 *   link.c        --sim: opening the transport, the APDU session and the applet
 *   output.c      human and JSON output, error lines and exit codes
 *   attrs.c       names of the applet's attribute values (list, info)
 *   keys.c        IoT SAFE public keys <-> OpenSSL EVP_PKEY, PEM
 *   cmd_*.c       one file per command group
 */
#ifndef SIMTRUST_TOOL_CLI_H
#define SIMTRUST_TOOL_CLI_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "simtrust/apdu.h"
#include "simtrust/iotsafe.h"
#include "simtrust/transport.h"

/* Exit codes (documented in every --help and in docs/simtrust-cli.md). */
#define ST_CLI_EXIT_OK 0
#define ST_CLI_EXIT_FAIL 1  /* the operation failed: the card said no, bad signature */
#define ST_CLI_EXIT_USAGE 2 /* bad command line */
#define ST_CLI_EXIT_LINK 3  /* transport: no reader, no card, modem, timeout, link closed */
#define ST_CLI_EXIT_OTHER 4 /* malformed answer, local file or crypto failure */

/* Returned by st_cli_parse when --help or --list-options was served. */
#define ST_CLI_DONE (-1)

/* Largest input file read into memory (messages to sign, PEM files). */
#define ST_CLI_FILE_MAX (16u * 1024u * 1024u)

enum st_cli_link_kind { ST_CLI_LINK_PCSC = 1, ST_CLI_LINK_AT, ST_CLI_LINK_TCP };

/* Options valid before or after any command. */
struct st_cli_globals {
    const char *sim; /* --sim, else $SIMTRUST_SIM, else "pcsc" */
    uint8_t aid[ST_IOTSAFE_AID_MAX];
    size_t aid_len; /* 0: the GSMA AID */
    int cla;        /* -1: the default (8X) */
    bool basic_channel, sig_len1, trace, json;
    long timeout_ms; /* 0: the transport's default */
};

/* One run of the tool: options, the link, the applet and the JSON result. */
struct st_cli {
    struct st_cli_globals g;
    const char *cmd; /* the command's name, for messages */
    enum st_cli_link_kind kind;
    const char *link_arg; /* the part of --sim after "pcsc:", "at:", "tcp:" */
    bool have_link, have_applet;
    struct st_transport tr;
    struct st_sim sim;
    struct st_iotsafe ios;
    json_t *out; /* the --json result object, printed by st_cli_finish */
};

/* ---- args.c ---- */

/* One long option of a command (has_arg: 0 none, 1 required). */
struct st_cli_opt {
    const char *name;
    int has_arg;
    int id; /* >= ST_CLI_OPT_BASE */
};
#define ST_CLI_OPT_BASE 0x200

/* Called once per command option; return 0, or an exit code (usage error). */
typedef int (*st_cli_opt_fn)(struct st_cli *cli, void *arg, int id, const char *val);

/*
 * Parses argv (argv[0] = the command name) against the command's table plus
 * the global options, --help and --list-options. Operands are moved to the
 * end (GNU getopt); *first receives the index of the first one. Returns 0,
 * ST_CLI_DONE after --help / --list-options (exit 0), or an exit code.
 */
int st_cli_parse(struct st_cli *cli, int argc, char **argv, const struct st_cli_opt *opts,
                 st_cli_opt_fn fn, void *arg, const char *help, int *first);

/* Global options only (the part of the command line before the command). */
int st_cli_parse_globals(struct st_cli *cli, int argc, char **argv, int *first);

/* Prints a command's help: its text, then the global options and exit codes. */
void st_cli_print_help(const char *help);

/* An object reference given as --NAME LABEL or --NAME-id HEX. */
struct st_cli_ref {
    const char *label;
    const char *id_hex;
};

/*
 * Builds ref from the pair (usage error if both or, when required, neither
 * is given). Returns 0, 1 when absent and optional, or an exit code (> 1).
 */
int st_cli_make_ref(struct st_cli *cli, const char *opt, const struct st_cli_ref *r, bool required,
                    struct st_iotsafe_ref *ref);

/* "'client'" or "ID 01" for messages; buf of at least ST_CLI_REF_TEXT bytes. */
#define ST_CLI_REF_TEXT (4 * ST_IOTSAFE_LABEL_MAX + 8)
const char *st_cli_ref_text(const struct st_iotsafe_ref *ref, char *buf, size_t n);

/* Decodes hex into buf (usage error naming opt); *len receives the count. */
int st_cli_hex_arg(struct st_cli *cli, const char *opt, const char *s, uint8_t *buf, size_t cap,
                   size_t *len);

/* A decimal number in [min, max] (usage error naming opt). */
int st_cli_uint_arg(struct st_cli *cli, const char *opt, const char *s, unsigned long min,
                    unsigned long max, unsigned long *v);

/* Hash names: "sha256" -> ST_IOTSAFE_HASH_SHA256 (usage error otherwise). */
int st_cli_hash_arg(struct st_cli *cli, const char *opt, const char *s, uint16_t *hash);
const char *st_cli_hash_name(uint16_t hash);
const EVP_MD *st_cli_hash_md(uint16_t hash);

/* Reads a whole file ("-": standard input) of at most max bytes; free() the buffer. */
int st_cli_read_file(struct st_cli *cli, const char *path, size_t max, uint8_t **buf, size_t *len);

/* Writes n bytes to path (mode 0644, replaced). */
int st_cli_write_file(struct st_cli *cli, const char *path, const void *p, size_t n);

/* ---- link.c ---- */

/* Checks --sim (usage error for an unknown form); fills cli->kind and link_arg. */
int st_cli_check_sim(struct st_cli *cli);

/* Opens the transport and the APDU session (with --trace). Returns an exit code. */
int st_cli_open_link(struct st_cli *cli);

/* st_cli_open_link, then the applet (logical channel + SELECT) with --aid/--cla/... */
int st_cli_open(struct st_cli *cli);

/* Closes the applet and the transport (idempotent). */
void st_cli_close(struct st_cli *cli);

/* "pcsc", "at", "tcp". */
const char *st_cli_link_name(enum st_cli_link_kind kind);

/* The transport's own explanation of its last error ("" if none). */
const char *st_cli_link_error(const struct st_cli *cli);

/* ---- output.c ---- */

/* Exit code of a library status (layer: usage 2/1/4, transport 3, card 1, parse 4). */
int st_cli_exit_code(int status);

/*
 * Reports a failed library call and returns its exit code. One line on
 * stderr: "simtrust: CMD: <st_strerror> (SW xxxx): <context>: <detail>"
 * (SW for card errors, the transport's reason for link errors, the
 * session's detail when it has one); with --json also {"error": ...} on
 * stdout.
 */
int st_cli_fail(struct st_cli *cli, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A local failure (file, OpenSSL, bad data): "simtrust: CMD: message", returns code. */
int st_cli_error(struct st_cli *cli, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A usage error: the message and "Try 'simtrust CMD --help'."; returns 2. */
int st_cli_usage(struct st_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A warning line on stderr (not an error). */
void st_cli_warn(struct st_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The --json result object (created on first use). */
json_t *st_cli_json(struct st_cli *cli);

/* Sets key to the hex of n bytes in the JSON result (or in obj if not NULL). */
void st_cli_json_hex(json_t *obj, const char *key, const uint8_t *p, size_t n);

/* Sets key to the bytes as text when printable ASCII, else key_hex to their hex. */
void st_cli_json_text(json_t *obj, const char *key, const uint8_t *p, size_t n);

/* A JSON object {"label": ...} or {"id": ...} for a reference. */
json_t *st_cli_json_ref(const struct st_iotsafe_ref *ref);

/* Prints the JSON result (with --json) and returns code. */
int st_cli_finish(struct st_cli *cli, int code);

/* Prints n bytes as upper-case hex and a newline to f (secrets: the copy is wiped). */
void st_cli_print_hex(FILE *f, const uint8_t *p, size_t n);

/* Prints bytes as text with non-printable bytes escaped (\xNN). */
void st_cli_print_text(FILE *f, const uint8_t *p, size_t n);

/* Installs jansson allocators that wipe every block they free (secrets in JSON). */
void st_cli_json_wipe_init(void);

/* ---- attrs.c ---- */

const char *st_cli_kind_name(enum st_iotsafe_kind kind); /* "private key" */
const char *st_cli_kind_word(enum st_iotsafe_kind kind); /* "private" (--kind) */
const char *st_cli_key_type_name(uint8_t type);          /* "P-256", NULL if unknown */
const char *st_cli_key_usage_name(uint8_t usage);        /* "tls13", NULL if unknown */
const char *st_cli_file_usage_name(uint8_t usage);       /* "certificate", NULL */
const char *st_cli_state_name(uint8_t state);            /* "activated", "empty" */

/* Names of the set bits of a bit field; table ends with a NULL name. */
struct st_cli_bit {
    unsigned bit;
    const char *name;
};
extern const struct st_cli_bit st_cli_functions_bits[];
extern const struct st_cli_bit st_cli_access_bits[];
extern const struct st_cli_bit st_cli_hash_bits[];
extern const struct st_cli_bit st_cli_sig_bits[];
extern const struct st_cli_bit st_cli_agreement_bits[];
extern const struct st_cli_bit st_cli_derivation_bits[];

/* Prints "name name ..." ("none" for 0; unknown bits as 0xNN) to f. */
void st_cli_print_bits(FILE *f, const struct st_cli_bit *t, unsigned v);

/* A JSON array of the names of the set bits. */
json_t *st_cli_json_bits(const struct st_cli_bit *t, unsigned v);

/* ---- keys.c ---- */

/*
 * An OpenSSL public key from a card public key. key_type is the object's
 * 4B value (13/14 P-256, 23/24 brainpoolP256r1, 0 = guess P-256 for a
 * 65-byte point). NULL (with a reason in why) when OpenSSL refuses it.
 */
EVP_PKEY *st_cli_pkey_from_card(const struct st_iotsafe_pubkey *pk, uint8_t key_type,
                                const char **why);

/* The card form of an OpenSSL public key (EC point or RSA n, e); 0 or -1 (why). */
int st_cli_pkey_to_card(EVP_PKEY *pkey, struct st_iotsafe_pubkey *pk, const char **why);

/* Reads a public key from PEM or DER: SubjectPublicKeyInfo or X.509 certificate. */
EVP_PKEY *st_cli_pkey_load(const uint8_t *buf, size_t len);

/* The SubjectPublicKeyInfo PEM of a key; free() the string. NULL on failure. */
char *st_cli_pkey_pem(EVP_PKEY *pkey);

/*
 * The key type (4B) of an object, looked up on the card; 0 when the applet
 * does not say (then P-256 is assumed for EC points). Never fails: the
 * lookup only refines the output.
 */
uint8_t st_cli_object_key_type(struct st_cli *cli, enum st_iotsafe_kind kind,
                               const struct st_iotsafe_ref *ref);

/*
 * Prints (or puts into JSON) a public key: human lines, PEM only with pem,
 * or writes PEM to out_path. Returns an exit code.
 */
int st_cli_show_pubkey(struct st_cli *cli, const struct st_iotsafe_pubkey *pk, uint8_t key_type,
                       bool pem, const char *out_path, json_t *obj);

/* ---- commands (cmd_*.c) ---- */

struct st_cli_command {
    const char *name;
    const char *summary;
    int (*run)(struct st_cli *cli, int argc, char **argv);
};

int st_cli_cmd_info(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_list(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_readers(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_read_file(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_random(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_sign(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_verify(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_keygen(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_pubkey(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_put_pubkey(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_dh(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_prf(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_hkdf(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_csr(struct st_cli *cli, int argc, char **argv);
int st_cli_cmd_connect(struct st_cli *cli, int argc, char **argv);

#endif
