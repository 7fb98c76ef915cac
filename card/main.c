/*
 * simtrust-card: a virtual UICC carrying the IoT SAFE applet (GSMA IoT.04
 * "SIM as a root of trust"). This file only dispatches to the sub-commands
 * (card/cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "st_log.h"

#ifndef ST_VERSION
#define ST_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2

static const char main_help[] =
    "Usage: simtrust-card COMMAND [OPTION]...\n"
    "       simtrust-card --help | --version\n"
    "\n"
    "A virtual UICC with the GSMA IoT SAFE applet (IoT.04 \"SIM as a root of\n"
    "trust\"), for developing and testing IoT SAFE clients without a real SIM.\n"
    "\n"
    "Commands:\n"
    "  personalise   create a card image from a profile (keys, certificates,\n"
    "                PSKs), like a SIM factory, and print its delivery record\n"
    "  serve         run a card image behind PC/SC (pcscd + vpcd), an emulated\n"
    "                cellular modem (AT+CSIM on a pseudo-terminal) or TCP\n"
    "\n"
    "Run 'simtrust-card COMMAND --help' for the options of a command.\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help and exit\n"
    "  --version      show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error (each command documents\n"
    "its own codes).\n"
    "\n"
    "Example:\n"
    "  simtrust-card personalise --profile card.json --image card.img\n"
    "  simtrust-card serve --image card.img --vpcd\n";

int main(int argc, char **argv)
{
    st_log_init("simtrust-card", ST_LOG_INFO);
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    /* Each command sees its own name as argv[0], like a separate program. */
    if (strcmp(cmd, "personalise") == 0 || strcmp(cmd, "personalize") == 0)
        return st_cli_personalise(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return st_cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (strcmp(cmd, "help") == 0 && argc > 2) {
            /* "simtrust-card help serve" == "simtrust-card serve --help" */
            char help_opt[] = "--help";
            char *sub[] = {argv[2], help_opt, NULL};
            if (strcmp(argv[2], "serve") == 0)
                return st_cli_serve(2, sub);
            if (strcmp(argv[2], "personalise") == 0 || strcmp(argv[2], "personalize") == 0)
                return st_cli_personalise(2, sub);
        }
        fputs(main_help, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("simtrust-card %s\n", ST_VERSION);
        return 0;
    }
    fprintf(stderr, "simtrust-card: unknown command '%s'\nTry 'simtrust-card --help'.\n", cmd);
    return EXIT_USAGE;
}
