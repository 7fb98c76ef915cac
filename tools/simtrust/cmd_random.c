/* `random N`: N bytes from the card's random generator (GET RANDOM, INS 84; IoT.04 F1). */
#include <stdlib.h>

#include "cli.h"
#include "st_secret.h"

#define RANDOM_MAX 65536

static const char random_help[] =
    "Usage: simtrust [--sim LINK] random N\n"
    "\n"
    "Prints N random bytes (1 to 65536) from the card's generator in hex, with as\n"
    "many GET RANDOM commands (INS 84, at most 256 bytes each) as needed.\n"
    "\n"
    "Note: simtrust-card never answers a first byte of 0x61 (an applet quirk some\n"
    "clients need, docs/card-crypto.md), so each GET RANDOM answer carries slightly\n"
    "less than full entropy in its first byte.\n"
    "\n"
    "Options: none besides the global ones.\n"
    "\n"
    "Output: the bytes in upper-case hex on one line; with --json {\"random\": HEX}.\n"
    "\n"
    "Exit status: 0 success; 1 the card refused; 2 usage error (N missing or out\n"
    "of range); 3 link error; 4 malformed answer.\n"
    "\n"
    "Example:\n"
    "  simtrust --sim pcsc random 32\n";

static const struct st_cli_opt random_opts[] = {{NULL, 0, 0}};

int st_cli_cmd_random(struct st_cli *cli, int argc, char **argv)
{
    unsigned long n;
    int first;
    int rc = st_cli_parse(cli, argc, argv, random_opts, NULL, NULL, random_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first >= argc)
        return st_cli_usage(cli, "the number of bytes N is missing");
    if (first + 1 < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first + 1]);
    rc = st_cli_uint_arg(cli, "N", argv[first], 1, RANDOM_MAX, &n);
    if (rc != 0)
        return rc;
    rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc(n);
    if (buf == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "out of memory");
    int r = st_iotsafe_get_random(&cli->ios, buf, n);
    if (r != ST_OK)
        rc = st_cli_fail(cli, r, "GET RANDOM");
    else if (cli->g.json)
        st_cli_json_hex(st_cli_json(cli), "random", buf, n);
    else
        st_cli_print_hex(stdout, buf, n);
    /* Random bytes may become keys or nonces: do not leave them in the heap. */
    st_wipe(buf, n);
    free(buf);
    return rc;
}
