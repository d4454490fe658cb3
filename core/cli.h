/*
 * cli.h
 *     teleport's command line, with the seed's single-dash spellings
 *     (-config, -mode, -load-target) and their double-dash forms.
 */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <teleport/abi.h>

typedef enum tp_command
{
	TP_CMD_RUN = 1,				/* run the instance (the default) */
	TP_CMD_CHECK_CONFIG,		/* --check-config */
	TP_CMD_LIST_PLUGINS,		/* --list-plugins */
	TP_CMD_VERSION,				/* --version */
	TP_CMD_HELP,				/* --help */
	TP_CMD_RETRY_BATCH,			/* --retry-batch SOURCE */
	TP_CMD_SKIP_BATCH,			/* --skip-batch SOURCE:SEQ */
	TP_CMD_UNINSTALL			/* --uninstall */
} tp_command;

typedef enum tp_mode
{
	TP_MODE_REPLICATION = 1,
	TP_MODE_INITIAL_LOAD
} tp_mode;

typedef struct tp_cli
{
	tp_command	command;
	const char *config_path;	/* -config; required by RUN and CHECK_CONFIG */
	tp_mode		mode;			/* -mode; default replication */
	const char *load_target;	/* -load-target; with -mode initial-load */
	const char *batch_arg;		/* --retry-batch's SOURCE, --skip-batch's
								 * SOURCE:SEQ */
	char	   *plugin_dir;		/* --plugin-dir, ':'-joined when repeated;
								 * owned (tp_cli_free) */
	bool		log_level_set;
	tp_log_level log_level;		/* --log-level */
} tp_cli;

/*
 * Parse argv into *cli (whose strings point into argv, except plugin_dir:
 * free it with tp_cli_free). On wrong usage, prints what is wrong
 * and the usage to err and returns false (the caller exits with
 * TP_EXIT_USAGE).
 */
bool		tp_cli_parse(int argc, char **argv, tp_cli *cli, FILE *err);

/* Free what tp_cli_parse allocated. */
void		tp_cli_free(tp_cli *cli);

/* Print the usage text. */
void		tp_cli_usage(FILE *out);

#endif							/* TP_CLI_H */
