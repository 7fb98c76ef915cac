/*
 * simtrust: the IoT SAFE applet of a SIM from the command line (GSMA IoT.04
 * device middleware, B5/B6), over PC/SC, an AT modem or TCP. main() parses
 * the global options, finds the command and hands it the rest of the line;
 * every command parses its own options (globals accepted there too), opens
 * the link only once its command line is valid, and returns an exit code.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct st_cli_command commands[] = {
    {"info", "applet capabilities (GET DATA), the link and the ATR", st_cli_cmd_info},
    {"list", "every object: ID, label, attributes (never values)", st_cli_cmd_list},
    {"read-file", "read a file (certificates as PEM with --pem)", st_cli_cmd_read_file},
    {"random", "random bytes from the card, in hex", st_cli_cmd_random},
    {"sign", "sign a message or a digest with a private key", st_cli_cmd_sign},
    {"verify", "verify a signature with a public key object", st_cli_cmd_verify},
    {"keygen", "generate a key pair inside the card (OBKG)", st_cli_cmd_keygen},
    {"pubkey", "read a public key object (READ PUBLIC KEY)", st_cli_cmd_pubkey},
    {"put-pubkey", "write a public key into a public key object", st_cli_cmd_put_pubkey},
    {"dh", "ECDH with a private key and a peer's public key", st_cli_cmd_dh},
    {"prf", "TLS 1.2 PRF on the card (general, PSK, PSK-ECDHE)", st_cli_cmd_prf},
    {"hkdf", "HKDF extract or expand on the card", st_cli_cmd_hkdf},
    {"csr", "a PKCS#10 CSR signed by a key that never leaves the card", st_cli_cmd_csr},
    {"connect", "TLS/DTLS client connection with the card's key, stdin/stdout",
     st_cli_cmd_connect},
    {"readers", "list the PC/SC readers", st_cli_cmd_readers},
};

static const char top_help[] =
    "Usage: simtrust [GLOBAL OPTION]... COMMAND [OPTION]... [OPERAND]...\n"
    "       simtrust --help | --version | COMMAND --help\n"
    "\n"
    "Uses the GSMA IoT SAFE applet of a SIM (IoT.04 \"SIM as a root of trust\")\n"
    "from the shell: discovers its capabilities and credentials, reads\n"
    "certificates, signs and verifies, generates key pairs on the card, derives\n"
    "keys, and makes certificate signing requests signed by keys that never leave\n"
    "the card. The SIM is reached through a PC/SC reader, a cellular modem's AT\n"
    "interface, or simtrust-card's TCP front end.\n"
    "\n"
    "Commands:\n";

static const char top_help_globals[] =
    "\n"
    "Global options (also accepted after the command):\n"
    "  --sim LINK         how to reach the SIM (default: $SIMTRUST_SIM, else pcsc):\n"
    "                       pcsc[:READER]     a PC/SC reader: the first with a card,\n"
    "                                         '#N' (index in 'simtrust readers'), or\n"
    "                                         a name or name prefix\n"
    "                       at:DEVICE[@BAUD]  a modem's serial port, e.g.\n"
    "                                         at:/dev/ttyUSB2@115200 (AT+CSIM,\n"
    "                                         AT+CCHO/CGLA when the module wants)\n"
    "                       tcp:HOST:PORT     simtrust-card serve --tcp\n"
    "  --aid HEX          the applet's AID (default A0000005590010, the GSMA one)\n"
    "  --basic-channel    talk to the applet on the basic channel instead of a\n"
    "                     logical channel of its own\n"
    "  --cla 00|80        class byte of the IoT SAFE commands (default 80; some\n"
    "                     applets want 00)\n"
    "  --sig-len1         send signatures to VERIFY SIGNATURE as 33 40 (applets of\n"
    "                     the NTT/Orange family) instead of 33 00 40\n"
    "  --trace            print every APDU, command (>) and response (<), in hex\n"
    "                     to stderr. Traces show the secrets that cross the\n"
    "                     interface (PRF, HKDF, DH): for debugging and tests only\n"
    "  --json             print the result as one JSON object on stdout (errors:\n"
    "                     {\"error\": {...}} and the message on stderr)\n"
    "  --timeout MS       answer timeout of AT and TCP links in milliseconds\n"
    "                     (default 10000; PC/SC readers time out on their own)\n"
    "  -h, --help         show this help, or a command's with COMMAND --help\n"
    "  --version          show the version\n"
    "\n"
    "Environment:\n"
    "  SIMTRUST_SIM       the default of --sim\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  the operation failed: the card refused it (its status word is printed),\n"
    "     no such object, or a signature that does not verify\n"
    "  2  usage error (bad option or value, bad --sim)\n"
    "  3  link error: no PC/SC service or reader, no card, modem error, timeout,\n"
    "     connection closed\n"
    "  4  other errors: a malformed answer from the card, a file that cannot be\n"
    "     read or written, a local crypto failure\n"
    "\n"
    "Examples:\n"
    "  simtrust --sim pcsc info\n"
    "  simtrust --sim 'pcsc:Virtual PCD 00 01' list --kind private\n"
    "  simtrust --sim at:/dev/ttyUSB2 read-file --file client-cert --pem\n"
    "  simtrust --sim tcp:127.0.0.1:4000 sign --key client --in msg.txt --der --out msg.sig\n"
    "  simtrust --sim pcsc csr --key client --subject 'CN=meter-0001,O=Example'\n"
    "\n"
    "See docs/simtrust-cli.md for the full reference.\n";

static void print_top_help(void)
{
    fputs(top_help, stdout);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        printf("  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs(top_help_globals, stdout);
}

int main(int argc, char **argv)
{
    struct st_cli cli;
    int first = 0;
    memset(&cli, 0, sizeof(cli));
    cli.g.cla = -1;
    st_cli_json_wipe_init();

    int rc = st_cli_parse_globals(&cli, argc, argv, &first);
    if (rc == ST_CLI_DONE) {
        /* --help before any command is the top-level help (--version printed itself). */
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                print_top_help();
                break;
            }
        return ST_CLI_EXIT_OK;
    }
    if (rc != 0)
        return rc;
    if (first >= argc) {
        fprintf(stderr, "simtrust: no command given\nTry 'simtrust --help'.\n");
        return ST_CLI_EXIT_USAGE;
    }
    const char *name = argv[first];
    if (strcmp(name, "help") == 0) {
        if (first + 1 >= argc) {
            print_top_help();
            return ST_CLI_EXIT_OK;
        }
        /* "simtrust help CMD" = "simtrust CMD --help". */
        char *args[] = {argv[first + 1], "--help", NULL};
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(commands[i].name, args[0]) == 0) {
                cli.cmd = commands[i].name;
                return commands[i].run(&cli, 2, args);
            }
        name = args[0];
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        cli.cmd = commands[i].name;
        rc = commands[i].run(&cli, argc - first, argv + first);
        st_cli_close(&cli);
        return st_cli_finish(&cli, rc);
    }
    fprintf(stderr, "simtrust: unknown command '%s'\nTry 'simtrust --help'.\n", name);
    return ST_CLI_EXIT_USAGE;
}
